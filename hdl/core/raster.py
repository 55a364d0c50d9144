"""``SpikeRaster``: one layer's spike words of a timestep, collected into the next layer's
raster word."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from .layouts import spike_layout

__all__ = ["SpikeRaster"]


class SpikeRaster(wiring.Component):
    """Collects layer ``l``'s ``spikes`` tokens of a timestep into an ``n_neurons``-bit
    raster and offers it as one ``raster`` token, layer ``l + 1``'s direct input.

    Two buffers: the collect register (timestep ``t + 1`` fills it) and the output register
    (timestep ``t``, held until layer ``l + 1``'s encode pass takes it), so layer ``l`` runs
    a timestep ahead of layer ``l + 1``.  The collect register takes only tokens of its
    own timestep (``spikes.ready`` is low for a later timestep's token), so while it waits
    for the output register, layer ``l``'s spike queue fills and its next neuron pass waits
    (``SnnCore`` starts a neuron pass only with an empty queue): backpressure.

    Timestep ``t`` is complete (closed into the output register, in a cycle when it is
    free) once ``timestep_done`` has pulsed for it, in this cycle or earlier, and no token
    of ``t`` is offered.  That is exact because every token of ``t`` is written into the
    core's spike queue at least two cycles before its ``timestep_done`` (the neuron pass's
    last write, then the sequencer's decide cycle) and the queue (``SyncFIFOBuffered``)
    shows a token two cycles after its write and the next one right after a transfer: at
    ``timestep_done`` and later, a queue without a valid token holds none of ``t``.  Pulses
    of timesteps without a spike can arrive while an earlier timestep waits, so they are
    counted (``pending``); the timestep field of the tokens says whose they are.

    Latency: a timestep closes ``max(timestep_done, last token taken + 1)`` (when the
    output register is free; else the cycle it is taken) and its raster is valid the next
    cycle (``hdl.cycles.network_sample_cycles`` models it).

    Parameters
    ----------
    core : CoreConfig
        Layer ``l``'s core (its neurons, lanes and timesteps).

    Members
    -------
    spikes : In(stream.Signature(spike_layout(core)))
        Layer ``l``'s spike words.
    timestep_done : In(1)
        Layer ``l``'s pulse at the end of a timestep.
    raster : Out(stream.Signature(unsigned(n_neurons)))
        A timestep's spikes, neuron ``i`` at bit ``i``, one token per timestep.
    """

    def __init__(self, core: CoreConfig) -> None:
        if not isinstance(core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {core!r}")
        self._core = core
        super().__init__({
            "spikes": In(stream.Signature(spike_layout(core))),
            "timestep_done": In(1),
            "raster": Out(stream.Signature(unsigned(core.n_neurons))),
        })

    @property
    def core(self) -> CoreConfig:
        """The producing layer's configuration."""
        return self._core

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        P, T = core.n_pe, core.timesteps
        collect = Signal(core.n_neurons)        # the timestep being collected
        t = Signal(bits_for(T - 1))             # ... its number
        pending = Signal(range(T + 1))          # timestep_done pulses of open timesteps
        token = self.spikes.payload
        own = Signal()                          # the offered token is of timestep t
        space = Signal()                        # the output register is free this cycle
        close = Signal()
        m.d.comb += [
            own.eq(self.spikes.valid & (token.timestep == t)),
            self.spikes.ready.eq(token.timestep == t),
            space.eq(~self.raster.valid | self.raster.ready),
            close.eq(((pending != 0) | self.timestep_done) & ~own & space),
        ]
        with m.If(self.raster.ready):
            m.d.sync += self.raster.valid.eq(0)
        with m.If(close):
            m.d.sync += [
                self.raster.payload.eq(collect),
                self.raster.valid.eq(1),
                collect.eq(0),
                t.eq(Mux(t == T - 1, 0, t + 1)),
                pending.eq(pending + self.timestep_done - 1),
            ]
        with m.Else():
            m.d.sync += pending.eq(pending + self.timestep_done)
            with m.If(own):
                part = collect.word_select(token.word, P)
                m.d.sync += part.eq(part | token.mask)
        return m
