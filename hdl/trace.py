"""Synaptic trace processing element (``TraceUnit``).

One trace update per clock cycle, state in and state out: the core streams a pre-synaptic
trace (one per input) or a post-synaptic trace (one per neuron) with that timestep's spike
in, and stores what comes out.  The arithmetic is step 7 of ``docs/numerics.md``, bit for
bit as ``plasticore.golden.stdp.trace_step`` with ``IntegerArithmetic``.
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data

from ..config import CoreConfig
from .unit import StreamUnit

__all__ = [
    "TRACE_LATENCY", "TRACE_KINDS", "trace_input_layout", "trace_output_layout", "TraceUnit"]

#: Clock cycles from a trace into :class:`TraceUnit` to the updated trace (read by the cycle
#: model).
TRACE_LATENCY = 2

TRACE_KINDS: tuple[str, ...] = ("pre", "post")
"""Kinds of trace: ``pre`` decays by ``stdp.tau_pre_shift``, ``post`` by ``tau_post_shift``."""


def trace_input_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the trace unit's input stream, one trace and one timestep per token.

    Fields (LSB first): ``x`` the trace, unsigned ``widths.trace`` bits (trace LSBs);
    ``spike`` 1 bit, the input's (``pre``) or neuron's (``post``) spike this timestep.
    """
    return data.StructLayout({"x": unsigned(core.widths.trace), "spike": 1})


def trace_output_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the trace unit's output stream: ``x`` the new trace, unsigned
    ``widths.trace`` bits."""
    return data.StructLayout({"x": unsigned(core.widths.trace)})


class TraceUnit(StreamUnit):
    """Pipelined trace update (decay toward zero, then bump on a spike), one token per cycle.

    For each input token the unit computes, as ``docs/numerics.md`` step 7:

    * decay toward zero: ``x - ((x + 2**k - 1) >> k)`` with ``k = stdp.tau_pre_shift``
      (``kind = "pre"``) or ``stdp.tau_post_shift`` (``"post"``), i.e.
      ``trunc(x * (1 - 2**-k))``: every non-zero trace drops by at least one LSB;
    * on ``spike``: the trace becomes ``derived.trace_max`` (``stdp.trace_mode = "set"``) or
      ``min(decayed + stdp.trace_add, trace_max)`` (``"add"``; the sum is exact, one bit
      wider than the trace, and saturated once).

    Pipeline: two register stages (the decay; the bump and saturation into the output
    register), so :attr:`latency` is 2 in both trace modes.  Backpressure is a global stall:
    every stage advances only when the output register is empty or being read
    (``advance = ~o.valid | o.ready``, which is also ``i.ready``).  A synchronous reset
    empties the pipeline.

    Parameters
    ----------
    core : CoreConfig
        Trace width, STDP trace parameters and derived constants (``core.derived``).
    kind : "pre" or "post"
        Which time constant the unit applies.

    Members
    -------
    i : In(stream.Signature(trace_input_layout(core)))
        A trace and its spike for this timestep.
    o : Out(stream.Signature(trace_output_layout(core)))
        The new trace, in input order.
    """

    def __init__(self, core: CoreConfig, kind: str) -> None:
        super().__init__(core, trace_input_layout, trace_output_layout)
        if kind not in TRACE_KINDS:
            raise ValueError(f"kind must be one of {TRACE_KINDS}, not {kind!r}")
        self._kind = kind

    @property
    def kind(self) -> str:
        """``"pre"`` or ``"post"``."""
        return self._kind

    @property
    def tau_shift(self) -> int:
        """The decay shift ``k`` of this kind of trace (``stdp.tau_pre_shift`` or
        ``tau_post_shift``)."""
        s = self._core.stdp
        return s.tau_pre_shift if self._kind == "pre" else s.tau_post_shift

    @property
    def latency(self) -> int:
        """Clock cycles from an input transfer to its output being valid, with no stalls.

        A token accepted on the rising edge that ends cycle ``c`` is on ``o`` with
        ``o.valid`` during cycle ``c + latency``.
        """
        return TRACE_LATENCY

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        s, d = core.stdp, core.derived
        trace_bits = core.widths.trace
        k = self.tau_shift
        trace = self.i.payload

        # Global stall: the whole pipeline moves one step when the output can move.
        advance = self.advance(m)

        # -- Stage 1: decay toward zero ------------------------------------------------------
        # x + (2**k - 1) is exact (one bit wider than the wider operand); the decrement
        # ceil(x / 2**k) never exceeds x, so the difference fits the trace word.
        decayed = Signal(unsigned(trace_bits))
        m.d.comb += decayed.eq(trace.x - ((trace.x + ((1 << k) - 1)) >> k))

        s1_valid = Signal()
        s1_decayed = Signal(unsigned(trace_bits), reset_less=True)
        s1_spike = Signal(reset_less=True)
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.i.valid),
                s1_decayed.eq(decayed),
                s1_spike.eq(trace.spike),
            ]

        # -- Stage 2: bump on a spike; the output register -----------------------------------
        if s.trace_mode == "set":
            bumped = d.trace_max
        else:
            total = s1_decayed + s.trace_add  # exact, trace_bits + 1 bits
            bumped = Mux(total > d.trace_max, d.trace_max, total)

        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(s1_valid),
                self.o.payload.x.eq(Mux(s1_spike, bumped, s1_decayed)),
            ]

        return m
