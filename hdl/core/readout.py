"""The per-sample spike counts out of the neuron store."""

from __future__ import annotations

from amaranth import Array, Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from .layouts import count_layout, neuron_word_layout
from .weights import read_layout

__all__ = ["CountReadout"]


class CountReadout(wiring.Component):
    """Sends the ``n_neurons`` spike counts, one per cycle: each neuron word read once
    (a cycle), then its ``n_pe`` counts.

    Members
    -------
    start : In(1)
    done : Out(1)
        High in the cycle the last count is taken.
    counts : Out(stream.Signature(count_layout(core)))
    store_read : Out  /  stored : In
        The neuron store.
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        super().__init__({
            "start": In(1),
            "done": Out(1),
            "counts": Out(stream.Signature(count_layout(core))),
            "store_read": Out(read_layout(bits_for(core.derived.neurons_per_pe - 1))),
            "stored": In(neuron_word_layout(core)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        P, W = self._core.n_pe, self._core.derived.neurons_per_pe
        k = Signal(bits_for(W - 1))
        p = Signal(bits_for(P - 1))
        reading = Signal()
        m.d.comb += [
            # the request driven whole, by one statement: a field driven alone (the address)
            # comes out of Yosys as an `always @*` that Icarus never runs before k changes
            self.store_read.eq(Cat(reading, k)),
            self.counts.payload.neuron.eq(k * P + p),
            self.counts.payload.count.eq(Array(self.stored[q].count for q in range(P))[p]),
            self.counts.payload.last.eq((k == W - 1) & (p == P - 1)),
        ]
        with m.FSM(name="counts"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [k.eq(0), p.eq(0)]
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += reading.eq(1)
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [reading.eq(1), self.counts.valid.eq(1)]
                with m.If(self.counts.ready):
                    m.d.sync += p.eq(p + 1)
                    with m.If(p == P - 1):
                        m.d.sync += [p.eq(0), k.eq(k + 1)]
                        with m.If(k == W - 1):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "READ"
        return m
