"""Pair-STDP weight update processing element (``StdpUnit``).

One synapse per clock cycle, elementwise: the core streams a weight with the traces and
events of its input and neuron and a 16-bit rounding draw in, and writes back what comes
out.  Which synapses are visited and when (``update_every``, sparse rows) is the core's
business.  The arithmetic is step 8 of ``docs/numerics.md``, bit for bit as
``plasticore.golden.stdp.weight_change`` with ``IntegerArithmetic``.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data

from ..config import ROUNDING_RAND_BITS, CoreConfig, bits_for
from .unit import StreamUnit

__all__ = ["stdp_latency", "stdp_input_layout", "stdp_output_layout", "StdpUnit"]


def stdp_latency(core: CoreConfig) -> int:
    """``StdpUnit`` latency: 3, or 4 with ``stdp.soft_bound`` (one more multiply stage); the
    cycle model reads it."""
    return 4 if core.stdp.soft_bound else 3


def stdp_input_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the STDP unit's input stream, one synapse ``(j, i)`` per token.

    Fields (LSB first): ``w`` the weight, unsigned ``widths.weight`` bits (weight LSBs);
    ``x_pre`` input ``j``'s trace and ``x_post`` neuron ``i``'s trace, unsigned
    ``widths.trace`` bits each (after this timestep's bump); ``pre`` 1 bit, a pre-synaptic
    event (depression); ``post`` 1 bit, a post-synaptic event (potentiation); ``rand16`` the
    synapse's stochastic-rounding draw ``hi16(g_j) ^ hi16(g_i)``, unsigned 16 bits
    (ignored with ``stdp.rounding = "floor"``).
    """
    trace = unsigned(core.widths.trace)
    return data.StructLayout({
        "w": unsigned(core.widths.weight),
        "x_pre": trace,
        "x_post": trace,
        "pre": 1,
        "post": 1,
        "rand16": unsigned(ROUNDING_RAND_BITS),
    })


def stdp_output_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the STDP unit's output stream: ``w`` the new weight, unsigned
    ``widths.weight`` bits."""
    return data.StructLayout({"w": unsigned(core.widths.weight)})


def _constant(value: int) -> Const:
    """A non-negative configuration constant as an unsigned ``Const`` of its exact width."""
    return Const(value, unsigned(bits_for(value)))


class StdpUnit(StreamUnit):
    """Pipelined trace-based pair STDP with clipping, one synapse per clock cycle.

    For each input token the unit computes, as ``docs/numerics.md`` step 8::

        pot = R(x_pre * eta_post [* (w_max - w)])   if post, else 0
        dep = R(x_post * eta_pre [* w])             if pre, else 0
        w'  = clip(w + pot - dep, 0, w_max)         exact sum, clipped once

    with the brackets only when ``stdp.soft_bound``; with ``stdp.potentiation_only`` the
    ``pre`` events are ignored (``dep = 0``).  ``R(a) = (a + r) >> stdp_shift``
    (``stdp_shift = derived.stdp_shift``, up to 32), ``r = 0`` for ``rounding = "floor"``
    and ``r = (rand16 << stdp_shift) >> 16`` (``< 2**stdp_shift``) for ``"stochastic"``;
    potentiation and depression share the token's ``rand16``.

    Widths (all exact, nothing wraps): a trace (``widths.trace`` bits) times ``eta``
    (``bits_for(eta)`` bits, at most 16) is at most 32 bits; the soft bound multiplies
    that by a weight-wide factor, at most 48 bits; ``R`` adds ``r`` one bit wider and
    drops ``stdp_shift`` bits; the weight sum is signed, one bit wider than its widest
    term.

    Pipeline (:attr:`latency` 3, or 4 with ``soft_bound``):

    1. ``x * eta`` products registered (a DSP product register), with the rounding
       offset ``r``;
    2. soft bound only: the products times ``w_max - w`` and ``w``, registered (a second
       DSP stage);
    3. ``R`` and the event gating: ``pot`` and ``dep`` registered;
    4. exact ``w + pot - dep`` clipped to ``[0, w_max]`` into the output register.

    Backpressure is a global stall: every stage advances only when the output register
    is empty or being read (``advance = ~o.valid | o.ready``, which is also ``i.ready``).
    A synchronous reset empties the pipeline.

    Parameters
    ----------
    core : CoreConfig
        Weight and trace widths, STDP parameters and ``core.derived``.

    Members
    -------
    i : In(stream.Signature(stdp_input_layout(core)))
        One synapse: weight, both traces, both events and the rounding draw.
    o : Out(stream.Signature(stdp_output_layout(core)))
        The synapse's new weight, in input order.
    """

    def __init__(self, core: CoreConfig) -> None:
        super().__init__(core, stdp_input_layout, stdp_output_layout)

    @property
    def latency(self) -> int:
        """Clock cycles from an input transfer to its output being valid, with no stalls:
        3, or 4 with ``stdp.soft_bound`` (one more multiply stage).

        A token accepted on the rising edge that ends cycle ``c`` is on ``o`` with
        ``o.valid`` during cycle ``c + latency``.
        """
        return stdp_latency(self.core)

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        s, d = core.stdp, core.derived
        weight_bits = core.widths.weight
        shift = d.stdp_shift
        synapse = self.i.payload
        # potentiation_only: pre events are ignored, so depression is constant zero (and its
        # multiplier is removed by synthesis)
        pre_event = Const(0, 1) if s.potentiation_only else synapse.pre

        # Global stall: the whole pipeline moves one step when the output can move.
        advance = self.advance(m)

        # -- Stage 1: trace times learning rate; soft-bound factor; rounding offset ----------
        pot_product = synapse.x_pre * _constant(s.eta_post)
        dep_product = synapse.x_post * _constant(s.eta_pre)
        if s.rounding == "stochastic" and shift > 0:
            # (rand16 << shift) >> 16: uniform in [0, 2**shift), exactly `shift` bits
            offset = (synapse.rand16 << shift) >> ROUNDING_RAND_BITS
        else:
            offset = Const(0, 1)

        s1_valid = Signal()
        s1_w = Signal(unsigned(weight_bits), reset_less=True)
        s1_pre = Signal(reset_less=True)
        s1_post = Signal(reset_less=True)
        s1_offset = Signal(offset.shape(), reset_less=True)
        s1_pot_product = Signal(pot_product.shape(), reset_less=True)
        s1_dep_product = Signal(dep_product.shape(), reset_less=True)
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.i.valid),
                s1_w.eq(synapse.w),
                s1_pre.eq(pre_event),
                s1_post.eq(synapse.post),
                s1_offset.eq(offset),
                s1_pot_product.eq(pot_product),
                s1_dep_product.eq(dep_product),
            ]

        # -- Stage 2 (soft bound): weight-dependent numerators -------------------------------
        if s.soft_bound:
            # w_max - w lies in [0, w_max]: the unsigned weight word holds it exactly
            headroom = Signal(unsigned(weight_bits))
            m.d.comb += headroom.eq(d.w_max - s1_w)
            pot_numerator_next = s1_pot_product * headroom
            dep_numerator_next = s1_dep_product * s1_w

            s2_valid = Signal()
            s2_w = Signal(unsigned(weight_bits), reset_less=True)
            s2_pre = Signal(reset_less=True)
            s2_post = Signal(reset_less=True)
            s2_offset = Signal(offset.shape(), reset_less=True)
            s2_pot_numerator = Signal(pot_numerator_next.shape(), reset_less=True)
            s2_dep_numerator = Signal(dep_numerator_next.shape(), reset_less=True)
            with m.If(advance):
                m.d.sync += [
                    s2_valid.eq(s1_valid),
                    s2_w.eq(s1_w),
                    s2_pre.eq(s1_pre),
                    s2_post.eq(s1_post),
                    s2_offset.eq(s1_offset),
                    s2_pot_numerator.eq(pot_numerator_next),
                    s2_dep_numerator.eq(dep_numerator_next),
                ]
            numerators = (s2_valid, s2_w, s2_pre, s2_post, s2_offset,
                          s2_pot_numerator, s2_dep_numerator)
        else:
            numerators = (s1_valid, s1_w, s1_pre, s1_post, s1_offset,
                          s1_pot_product, s1_dep_product)
        n_valid, n_w, n_pre, n_post, n_offset, pot_numerator, dep_numerator = numerators

        # -- Stage 3: rounding R(a) = (a + r) >> stdp_shift, gated by the events -------------
        potentiation = (pot_numerator + n_offset) >> shift
        depression = (dep_numerator + n_offset) >> shift

        s3_valid = Signal()
        s3_w = Signal(unsigned(weight_bits), reset_less=True)
        s3_pot = Signal(potentiation.shape(), reset_less=True)
        s3_dep = Signal(depression.shape(), reset_less=True)
        with m.If(advance):
            m.d.sync += [
                s3_valid.eq(n_valid),
                s3_w.eq(n_w),
                s3_pot.eq(Mux(n_post, potentiation, 0)),
                s3_dep.eq(Mux(n_pre, depression, 0)),
            ]

        # -- Stage 4: exact w + pot - dep, clipped once to [0, w_max]; the output register ---
        total = s3_w + s3_pot - s3_dep  # signed, one bit wider than its widest term: exact
        clipped = Mux(total < 0, 0, Mux(total > d.w_max, d.w_max, total))

        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(s3_valid),
                self.o.payload.w.eq(clipped),
            ]

        return m
