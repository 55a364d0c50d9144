"""The STDP learn pass: a read-modify-write of every weight word STDP can change."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from ..cycles import pass_depths
from ..stdp import StdpUnit, stdp_latency
from .layouts import weight_word_layout
from .neurons import updated_layout
from .pipeline import Drain, delay, delay_valid, lane_of, rand_hi, select, word_of
from .rule import rule_pass_members

__all__ = ["StdpLearnPass"]


class StdpLearnPass(wiring.Component):
    """Trace-based STDP on the weights, ``n_pe`` ``StdpUnit`` lanes, at the end of each
    timestep that ``update_step`` marks.

    Row slot ``r < pre_rows`` (an input with a pre event) visits the neuron words with a
    post event or a live post trace, the other rows (only when some word has a post event)
    the words with a post event.  The pass keeps the two word lists, filled as the neuron
    pass writes each word back.  Stages: l0 read row slot ``r`` and word-list entry ``w``;
    l1 read the weight word, the input's trace and state, the neuron word; l2 the STDP
    lanes; l2 + their latency: write back.

    Members
    -------
    clear : In(1)
        A neuron pass starts: the word lists restart (sync).
    updated : In(updated_layout(core))
        A word written back by the neuron pass.
    start, done, and the requests to the stores : ``rule_pass_members``
        ``start``: learn now (when ``learn`` and ``update_step`` and there is something to
        learn); ``done`` comes in the cycle of ``start`` when there is nothing to do.
    pre_rows : In
        Rows of the learn row list with a pre event.
    slots : Out  /  row : In
        The learn row list: slot ``r``; its row one cycle later.
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        N_in = core.n_inputs
        super().__init__({
            **rule_pass_members(core),
            "clear": In(1),
            "updated": In(updated_layout(core)),
            "learn": In(1),
            "update_step": In(1),
            "pre_rows": In(range(N_in + 1)),
            "slots": Out(data.StructLayout({"en": 1, "slot": unsigned(bits_for(N_in - 1))})),
            "row": In(bits_for(N_in - 1)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        P, N_in, E, W = core.n_pe, core.n_inputs, core.encoder.lanes, core.derived.neurons_per_pe

        # -- the word lists: words with a post event; with a post event or a live trace ------
        m.submodules.post_words = post_words = Memory(
            shape=unsigned(bits_for(W - 1)), depth=W, init=[])
        m.submodules.learn_words = learn_words = Memory(
            shape=unsigned(bits_for(W - 1)), depth=W, init=[])
        pw_rd, pw_wr = post_words.read_port(), post_words.write_port()
        lw_rd, lw_wr = learn_words.read_port(), learn_words.write_port()
        n_post = Signal(range(W + 1))
        n_learn = Signal(range(W + 1))
        new = self.updated
        post, live = new.post.any(), new.live.any()
        with m.If(new.valid):
            with m.If(post):
                m.d.sync += n_post.eq(n_post + 1)
            with m.If(post | live):
                m.d.sync += n_learn.eq(n_learn + 1)
        with m.If(self.clear):
            m.d.sync += [n_post.eq(0), n_learn.eq(0)]
        m.d.comb += [
            pw_wr.addr.eq(n_post), pw_wr.data.eq(new.word), pw_wr.en.eq(new.valid & post),
            lw_wr.addr.eq(n_learn), lw_wr.data.eq(new.word),
            lw_wr.en.eq(new.valid & (post | live)),
        ]

        # -- the pass -------------------------------------------------------------------------
        issue = Signal()
        r = Signal(bits_for(N_in - 1))
        w = Signal(bits_for(W - 1))
        pre = Signal()
        m.d.comb += pre.eq(r < self.pre_rows)
        row_words = Signal(range(W + 1))
        m.d.comb += row_words.eq(Mux(pre, n_learn, n_post))
        rows = Signal(range(N_in + 1))
        m.d.comb += rows.eq(Mux(n_post != 0, N_in, self.pre_rows))
        m.d.comb += [self.slots.en.eq(issue), self.slots.slot.eq(r),
                     lw_rd.addr.eq(w), pw_rd.addr.eq(w)]
        l1_valid = delay_valid(m, issue, 1, "l1_valid")
        l1_pre = delay(m, pre, 1, "l1_pre")
        l1_k = Signal(bits_for(W - 1))
        m.d.comb += l1_k.eq(Mux(l1_pre, lw_rd.data, pw_rd.data))
        l1_addr = Signal(bits_for(N_in * W - 1))
        m.d.comb += [
            l1_addr.eq(self.row * W + l1_k),
            self.weights_read.en.eq(l1_valid), self.weights_read.addr.eq(l1_addr),
            self.store_read.en.eq(l1_valid), self.store_read.addr.eq(l1_k),
            self.lookup.en.eq(l1_valid), self.lookup.addr.eq(word_of(self.row, E)),
        ]
        l2_valid = delay_valid(m, l1_valid, 1, "l2_valid")
        l2_lane = delay(m, lane_of(self.row, E), 1, "l2_lane") if E > 1 else None
        l2_pre = delay(m, l1_pre, 1, "l2_pre")
        l2_addr = delay(m, l1_addr, 1, "l2_addr")
        stdp = [StdpUnit(core) for _ in range(P)]
        learned = Signal(weight_word_layout(core))
        for p in range(P):
            m.submodules[f"stdp{p}"] = stdp[p]
            lane = self.stored[p]
            m.d.comb += [
                stdp[p].o.ready.eq(1),
                stdp[p].i.valid.eq(l2_valid),
                stdp[p].i.payload.w.eq(self.weights[p]),
                stdp[p].i.payload.x_pre.eq(select(self.lookup_trace, l2_lane, E)),
                stdp[p].i.payload.x_post.eq(lane.x_post),
                stdp[p].i.payload.pre.eq(l2_pre),
                stdp[p].i.payload.post.eq(lane.post_seen),
                stdp[p].i.payload.rand16.eq(rand_hi(select(self.lookup_state, l2_lane, E))
                                            ^ rand_hi(lane.state)),
                learned[p].eq(stdp[p].o.payload.w),
            ]
        m.d.comb += [
            self.weights_write.en.eq(stdp[0].o.valid),
            self.weights_write.addr.eq(delay(m, l2_addr, stdp_latency(core), "learned_addr")),
            self.weights_write.data.eq(learned),
        ]

        # -- sequence ------------------------------------------------------------------------
        drain = Drain(m, pass_depths(core)["learn"])
        work = (n_post != 0) | ((self.pre_rows != 0) & (n_learn != 0))
        with m.FSM(name="learn"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [r.eq(0), w.eq(0)]
                    with m.If(self.learn & self.update_step & work):
                        m.next = "ISSUE"
                    with m.Else():
                        m.d.comb += self.done.eq(1)
            with m.State("ISSUE"):
                m.d.comb += issue.eq(1)
                with m.If(w == row_words - 1):
                    m.d.sync += [w.eq(0), r.eq(r + 1)]
                    with m.If(r == rows - 1):
                        drain.load()
                        m.next = "DRAIN"
                with m.Else():
                    m.d.sync += w.eq(w + 1)
            with m.State("DRAIN"):
                with m.If(drain.last()):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m
