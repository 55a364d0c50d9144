"""The sequencer: a sample's timesteps, and the passes of each, one after the other."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from ..lfsr import STATE_BITS
from .layouts import command_layout

__all__ = ["Sequencer"]


class Sequencer(wiring.Component):
    """Takes a ``command``, has the encode pass load the pixels and encode timestep 0,
    then per timestep ``t`` runs the neuron pass (with the encode pass of ``t + 1`` under
    it), the learn pass, and after the last timestep the normalization (when learning) and
    the count readout.  Each pass has a start/done handshake: ``start`` for one cycle,
    ``done`` high in its last cycle.

    STDP's ``update_every = U`` schedule (``golden.stdp.update_due``, held to it by the
    core's tests with ``U > 1``): ``phase`` counts ``t mod U``; the learn pass applies at
    the end of timestep ``t`` when ``phase = U - 1`` or ``t`` is the last timestep
    (``update_step``), and the pre and post events accumulate from ``phase = 0``
    (``accumulate``; ``encode_accumulate`` for the timestep being encoded).

    Members
    -------
    command : In(stream.Signature(command_layout(core)))
    busy : Out(1)
        From a command until its last count has gone out.
    timestep_done : Out(1)
        One cycle when a timestep's last pass has finished.
    key, learn, timestep, first, step_bank, update_step, accumulate : Out
        The sample and timestep registers the passes read.
    idle : Out(1)  /  access_free : In(1)
        Between samples (the access port may work); no access pending.
    encode_load, encode_start, encode_timestep, encode_accumulate : Out  /  encode_busy : In
    queue_empty : In(1)
        The output spikes of the last timestep have gone out.
    <pass>_start : Out(1)  /  <pass>_done : In(1)
        For the passes ``neurons``, ``learn``, ``normalize``, ``counts``.
    """

    def __init__(self, core: CoreConfig, normalizing: bool) -> None:
        self._core, self._normalizing = core, normalizing
        timestep = core.derived.timestep_bits
        super().__init__({
            "command": In(stream.Signature(command_layout(core))),
            "busy": Out(1),
            "timestep_done": Out(1),
            "key": Out(STATE_BITS),
            "learn": Out(1),
            "timestep": Out(timestep),
            "first": Out(1),
            "step_bank": Out(1),
            "update_step": Out(1),
            "accumulate": Out(1),
            "idle": Out(1),
            "access_free": In(1),
            "encode_load": Out(1),
            "encode_start": Out(1),
            "encode_timestep": Out(timestep),
            "encode_accumulate": Out(1),
            "encode_busy": In(1),
            "queue_empty": In(1),
            **{f"{name}_start": Out(1) for name in ("neurons", "learn", "normalize", "counts")},
            **{f"{name}_done": In(1) for name in ("neurons", "learn", "normalize", "counts")},
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        U, T = core.stdp.update_every, core.timesteps
        t = self.timestep
        phase = Signal(bits_for(U - 1))             # t mod update_every
        next_phase = Mux(phase == U - 1, 0, phase + 1)
        m.d.comb += [
            self.first.eq(t == 0),
            self.step_bank.eq(t[0]),
            self.update_step.eq((phase == U - 1) | (t == T - 1)),
            self.accumulate.eq(phase != 0),
            self.busy.eq(1),
        ]

        def after_last_timestep():
            """Normalize after a learning sample, then send the counts."""
            if self._normalizing:
                with m.If(self.learn):
                    m.d.comb += self.normalize_start.eq(1)
                    m.next = "NORMALIZE"
                with m.Else():
                    m.d.comb += self.counts_start.eq(1)
                    m.next = "COUNTS"
            else:
                m.d.comb += self.counts_start.eq(1)
                m.next = "COUNTS"

        with m.FSM(name="phase"):
            with m.State("IDLE"):
                m.d.comb += [self.busy.eq(0), self.idle.eq(1),
                             self.command.ready.eq(self.access_free)]
                with m.If(self.command.valid & self.access_free):
                    m.d.sync += [self.key.eq(self.command.payload.key),
                                 self.learn.eq(self.command.payload.learn & core.stdp.learn),
                                 t.eq(0), phase.eq(0)]
                    m.d.comb += self.encode_load.eq(1)
                    m.next = "NEURONS_WAIT"
            with m.State("NEURONS_WAIT"):
                # this timestep's inputs are encoded and the spike queue is empty; the next
                # timestep's encode pass starts under this one's neuron pass
                with m.If(~self.encode_busy & self.queue_empty):
                    m.d.comb += [self.neurons_start.eq(1),
                                 self.encode_start.eq(t != T - 1),
                                 self.encode_timestep.eq(t + 1),
                                 self.encode_accumulate.eq(next_phase != 0)]
                    m.next = "NEURONS"
            with m.State("NEURONS"):
                with m.If(self.neurons_done):
                    m.next = "LEARN"
            with m.State("LEARN"):
                m.d.comb += self.learn_start.eq(1)
                with m.If(self.learn_done):
                    m.next = "STEP_END"
                with m.Else():
                    m.next = "LEARN_WAIT"
            with m.State("LEARN_WAIT"):
                with m.If(self.learn_done):
                    m.next = "STEP_END"
            with m.State("STEP_END"):
                m.d.comb += self.timestep_done.eq(1)
                with m.If(t == T - 1):
                    after_last_timestep()
                with m.Else():
                    m.d.sync += [t.eq(t + 1), phase.eq(next_phase)]
                    m.next = "NEURONS_WAIT"
            with m.State("NORMALIZE"):
                with m.If(self.normalize_done):
                    m.d.comb += self.counts_start.eq(1)
                    m.next = "COUNTS"
            with m.State("COUNTS"):
                with m.If(self.counts_done):
                    m.next = "IDLE"
        return m
