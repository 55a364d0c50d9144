"""Weight normalization after a learning sample: every neuron's incoming weights rescaled
to sum to ``stdp.norm``."""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring

from ...config import ROUNDING_RAND_BITS, CoreConfig, bits_for
from ..cycles import pass_depths
from .layouts import weight_word_layout
from .pipeline import Drain, delay, delay_valid, lane_of, rand_hi, select, word_of
from .rule import rule_pass_members

__all__ = ["Normalizer"]


class Normalizer(wiring.Component):
    """Per neuron word ``k``: sum each lane's column (one row per cycle), divide
    ``norm * 2**F`` by each sum (restoring division, one quotient bit per cycle), rescale
    the column (one row per cycle).  The rescale is a pipeline of ``pass_depths["rescale"]``:
    q1 the weight read, q2 the weight registered (into the DSP), q3 the product registered,
    then round (half up, or with the stochastic draw read in q1), clip and write back in q3.
    A lane whose column sums to 0 gets the scale ``2**F``, which leaves its weights as they
    are.  With ``G = norm_groups`` the division and the rescale run ``G`` times per word, on
    the ``L = n_pe / G`` lanes of one group (``L`` dividers and multipliers); the other
    lanes are written back as they were read.

    Members
    -------
    ``rule_pass_members``
        Start/done, the weight store (read and rescale), the neuron store and the input
        lookup (the generator states, for stochastic rounding).
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        super().__init__(rule_pass_members(core))

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        d, st = core.derived, core.stdp
        P, N_in, E, W = core.n_pe, core.n_inputs, core.encoder.lanes, d.neurons_per_pe
        G = core.norm_groups
        L = P // G
        g = Signal(bits_for(G - 1))              # the group of lanes being normalized

        def group_lane(values, i):
            """Lane ``g * L + i`` of the P-lane ``values``."""
            if G == 1:
                return values[i]
            return Array(values[group * L + i] for group in range(G))[g]

        frac, numerator, q_bits = d.norm_frac_bits, d.norm_numerator, d.quotient_bits
        issue = Signal()
        j = Signal(bits_for(N_in - 1))
        k = Signal(bits_for(W - 1))
        addr = Signal(bits_for(N_in * W - 1))
        scaling = Signal()                       # rescaling (else summing)
        m.d.comb += [
            addr.eq(j * W + k),
            self.weights_read.en.eq(issue), self.weights_read.addr.eq(addr),
            self.store_read.en.eq(issue), self.store_read.addr.eq(k),
            self.lookup.en.eq(issue), self.lookup.addr.eq(word_of(j, E)),
        ]
        q1_valid = delay_valid(m, issue, 1, "q1_valid")
        q1_scaling = delay(m, scaling, 1, "q1_scaling")
        q1_addr = delay(m, addr, 1, "q1_addr")
        q3_valid = delay_valid(m, q1_valid & q1_scaling, 2, "q3_valid")
        q3_addr = delay(m, q1_addr, 2, "q3_addr")
        q2_weight = [delay(m, group_lane(self.weights, i), 1, f"q2_weight{i}")
                     for i in range(L)]
        column = Signal(data.ArrayLayout(unsigned(d.weight_sum_bits), P))
        divisor = [group_lane(column, i) for i in range(L)]
        remainder = Signal(data.ArrayLayout(unsigned(d.weight_sum_bits + 1), L))
        scale = Signal(data.ArrayLayout(unsigned(q_bits), L))
        bit = Signal(bits_for(q_bits - 1))       # numerator bit brought down, MSB first
        numerator_bit = Const(numerator, unsigned(q_bits)).bit_select(bit, 1)
        product = Signal(data.ArrayLayout(unsigned(core.widths.weight + q_bits), L),
                         reset_less=True)
        rescaled = Signal(weight_word_layout(core))
        group_rescaled = Signal(data.ArrayLayout(unsigned(core.widths.weight), L))
        q1_lane = delay(m, lane_of(j, E), 1, "q1_lane") if E > 1 else None
        for p in range(L):
            m.d.sync += product[p].eq(q2_weight[p] * scale[p])
            if st.norm_rounding == "stochastic":
                # q1: hi16 of row j's generator ^ lo16 of the lane's neuron generator, both
                # as they were at the last timestep (docs/numerics.md, step 9); used in q3
                draw = (rand_hi(select(self.lookup_state, q1_lane, E))
                        ^ group_lane([self.stored[q].state[:ROUNDING_RAND_BITS]
                                      for q in range(P)], p))
                addend = (delay(m, draw, 2, f"q3_draw{p}") << frac) >> ROUNDING_RAND_BITS
            else:
                addend = 1 << (frac - 1)
            shifted = (product[p] + addend) >> frac
            m.d.comb += group_rescaled[p].eq(Mux(shifted > d.w_max, d.w_max, shifted))
        # the group's lanes rescaled, the others as read (with one group, every lane)
        q3_read = delay(m, self.weights, 2, "q3_read") if G > 1 else None
        for p in range(P):
            m.d.comb += rescaled[p].eq(group_rescaled[p] if G == 1 else
                                       Mux(g == p // L, group_rescaled[p % L], q3_read[p]))
        m.d.comb += [self.weights_write.en.eq(q3_valid), self.weights_write.addr.eq(q3_addr),
                     self.weights_write.data.eq(rescaled)]
        with m.If(q1_valid & ~q1_scaling):
            for p in range(P):
                m.d.sync += column[p].eq(column[p] + self.weights[p])

        drain = Drain(m, pass_depths(core)["rescale"])
        with m.FSM(name="normalize"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [j.eq(0), k.eq(0)]
                    m.next = "SUM"
            with m.State("SUM"):
                m.d.comb += issue.eq(1)
                with m.If(j == 0):
                    for p in range(P):
                        m.d.sync += column[p].eq(0)
                m.d.sync += j.eq(j + 1)
                with m.If(j == N_in - 1):
                    m.d.sync += j.eq(0)
                    m.next = "SUM_DRAIN"
            with m.State("SUM_DRAIN"):           # (and between groups of lanes)
                m.d.sync += bit.eq(q_bits - 1)
                for p in range(L):
                    m.d.sync += [remainder[p].eq(0), scale[p].eq(0)]
                m.next = "DIVIDE"
            with m.State("DIVIDE"):
                for p in range(L):
                    trial = Signal(unsigned(d.weight_sum_bits + 2), name=f"trial{p}")
                    m.d.comb += trial.eq(Cat(numerator_bit, remainder[p]))
                    with m.If(trial >= divisor[p]):
                        m.d.sync += [remainder[p].eq(trial - divisor[p]),
                                     scale[p].eq(Cat(1, scale[p]))]
                    with m.Else():
                        m.d.sync += [remainder[p].eq(trial), scale[p].eq(Cat(0, scale[p]))]
                    with m.If((bit == 0) & (divisor[p] == 0)):   # the weights stay as they are
                        m.d.sync += scale[p].eq(1 << frac)
                m.d.sync += bit.eq(bit - 1)
                with m.If(bit == 0):
                    m.next = "SCALE"
            with m.State("SCALE"):
                m.d.comb += [issue.eq(1), scaling.eq(1)]
                m.d.sync += j.eq(j + 1)
                with m.If(j == N_in - 1):
                    m.d.sync += j.eq(0)
                    drain.load()
                    m.next = "SCALE_DRAIN"
            with m.State("SCALE_DRAIN"):
                with m.If(drain.last()):
                    m.d.sync += g.eq(g + 1)
                    with m.If(g != G - 1):       # the word's next group of lanes
                        m.next = "SUM_DRAIN"
                    with m.Else():               # the next word
                        m.d.sync += [g.eq(0), k.eq(k + 1)]
                        with m.If(k == W - 1):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "SUM"
        return m
