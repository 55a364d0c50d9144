"""Weight, threshold and bias access between samples: how a host loads and reads the state."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from .layouts import (
    access_bits,
    access_layout,
    bias_word_layout,
    neuron_word_layout,
    weight_word_layout,
)
from .tables import access_latency
from .weights import read_layout, write_layout

__all__ = ["AccessPort"]


class AccessPort(wiring.Component):
    """Serves ``access`` while the core is idle: a write goes to the weight or the neuron
    store (thresholds, or with ``bias`` set the biases) at once; a read answers on
    ``readback`` two cycles later (the word is read, then held until taken).  Words are
    bits: signed weights and biases go in and come back in two's complement.

    With the LUT engine's table store (``tables.access_latency``: ``D > 0``) a weight
    reaches the memory ``D`` cycles later: a weight read answers ``D`` cycles later, and
    the port is not ``free`` (a sample may not start) until its last write has landed;
    further accesses need not wait for a write (the stages keep their order).

    Members
    -------
    access : In(stream.Signature(access_layout(core)))
    readback : Out(stream.Signature(access_bits(core)))
    enable : In(1)
        The core is between samples.
    free : Out(1)
        No access in progress or waiting: a sample may start.
    weights_addr, weights_write : Out  /  weights : In
        The weight store (the access port is its default reader).
    store_read, store_write : Out  /  stored : In
        The neuron store (thresholds).
    bias_write : Out  /  biases : In
        With ``widths.bias > 0`` only: the neuron store's bias words (read at
        ``store_read``'s address).
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        W = core.derived.neurons_per_pe
        flat = bits_for(core.n_inputs * W - 1)
        super().__init__({
            "access": In(stream.Signature(access_layout(core))),
            "readback": Out(stream.Signature(access_bits(core))),
            "enable": In(1),
            "free": Out(1),
            "weights_addr": Out(flat),
            "weights_write": Out(write_layout(flat, weight_word_layout(core))),
            "weights": In(weight_word_layout(core)),
            "store_read": Out(read_layout(bits_for(W - 1))),
            "store_write": Out(write_layout(bits_for(W - 1), neuron_word_layout(core))),
            "stored": In(neuron_word_layout(core)),
            **({"bias_write": Out(write_layout(bits_for(W - 1), bias_word_layout(core))),
                "biases": In(bias_word_layout(core))} if core.widths.bias else {}),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        P, theta_bits, weight_bits = core.n_pe, core.widths.theta, core.widths.weight
        request = self.access.payload
        pending = Signal()                      # a read issued this cycle
        valid = Signal()
        theta = Signal()
        answer = Signal(access_bits(core))
        thetas = Signal(P * theta_bits)
        neurons = Signal(neuron_word_layout(core))
        write = Signal()
        to_weights, to_thresholds = write & ~request.theta, write & request.theta
        if core.widths.bias:        # a bias write goes to neither weights nor thresholds
            to_weights, to_thresholds = to_weights & ~request.bias, to_thresholds & ~request.bias
        for p in range(P):
            m.d.comb += [
                thetas[p * theta_bits:(p + 1) * theta_bits].eq(self.stored[p].theta),
                neurons[p].theta.eq(request.data[p * theta_bits:(p + 1) * theta_bits]),
            ]
        m.d.comb += [
            self.weights_addr.eq(request.addr),
            self.weights_write.addr.eq(request.addr),
            self.weights_write.data.eq(request.data[:P * weight_bits]),
            self.weights_write.en.eq(to_weights),
            self.store_read.addr.eq(request.addr),
            self.store_write.addr.eq(request.addr),
            self.store_write.data.eq(neurons),
            self.store_write.en.eq(to_thresholds),
            self.readback.valid.eq(valid),
            self.readback.payload.eq(answer),
        ]
        words = Mux(theta, thetas, self.weights.as_value())
        if core.widths.bias:
            is_bias = Signal()                  # the read is of a bias word
            m.d.comb += [
                self.bias_write.addr.eq(request.addr),
                self.bias_write.data.eq(request.data[:P * core.widths.bias]),
                self.bias_write.en.eq(write & request.bias),
            ]
            words = Mux(is_bias, self.biases.as_value(), words)
        m.d.sync += pending.eq(0)
        D = access_latency(core)
        if D:           # weight reads answer D cycles later; writes land D cycles later
            neuron_word = theta | is_bias if core.widths.bias else theta
            reads, landing = Signal(D), Signal(D)      # in flight, stage by stage
            m.d.sync += [reads.eq(Cat(pending & ~neuron_word, reads[:-1])),
                         landing.eq(Cat(to_weights, landing[:-1]))]
            late = reads[-1]
            with m.If((pending & neuron_word) | late):
                m.d.sync += [valid.eq(1), answer.eq(Mux(late, self.weights.as_value(),
                                                        words))]
            idle = ~pending & ~reads.any() & ~valid
            settled = ~landing.any()
        else:
            with m.If(pending):
                m.d.sync += [valid.eq(1), answer.eq(words)]
            idle = ~pending & ~valid
        with m.If(self.readback.valid & self.readback.ready):
            m.d.sync += valid.eq(0)
        free = idle & ~self.access.valid
        m.d.comb += self.free.eq(free & settled if D else free)
        with m.If(self.enable):
            m.d.comb += self.access.ready.eq(idle)
            with m.If(self.access.valid & idle):
                with m.If(request.write):
                    m.d.comb += write.eq(1)
                with m.Else():
                    m.d.sync += [pending.eq(1), theta.eq(request.theta)]
                    if core.widths.bias:
                        m.d.sync += is_bias.eq(request.bias)
        return m
