"""The neuron pass: every neuron's synaptic current, then its LIF update, ``n_pe`` lanes."""

from __future__ import annotations

import operator
from typing import Any

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from ...golden.lfsr import STREAM_NEURON, base_states
from ..cycles import pass_depths
from ..lfsr import LFSR, LFSR_LATENCY, STATE_BITS
from ..lif import LIF_LATENCY, LIFNeuronUnit
from ..trace import TRACE_LATENCY, TraceUnit
from .layouts import (
    bank_word_layout,
    bias_word_layout,
    current_word_layout,
    neuron_word_layout,
    spike_layout,
)
from .pipeline import Drain, delay, delay_valid, maximum, tree
from .weights import read_layout, write_layout

__all__ = ["NeuronPass", "updated_layout", "list_rows"]


def list_rows(core: CoreConfig) -> int:
    """Rows of one bank's list, the neuron pass's tokens of a word at most: the bank's
    inputs, or with ``forward = "lut"`` its table groups (``derived.lut_bank_groups``)."""
    if core.forward == "lut":
        return core.derived.lut_bank_groups
    return core.n_inputs // core.row_banks


def updated_layout(core: CoreConfig) -> data.StructLayout:
    """A neuron word the pass has written back: ``valid``, ``word``; ``post`` (lane ``p``: a
    spike since the last STDP update) and ``live`` (its post trace is not zero)."""
    return data.StructLayout({"valid": 1, "word": unsigned(bits_for(core.derived.neurons_per_pe
                                                                     - 1)),
                              "post": unsigned(core.n_pe), "live": unsigned(core.n_pe)})


class NeuronPass(wiring.Component):
    """One timestep of every neuron, a word of ``P = n_pe`` neurons at a time.

    For word ``k``, ``max(Ab, 1)`` tokens accumulate the ``k``-th weight word of every
    spiking row (token ``a``: the row in slot ``a`` of each bank's row list, ``Ab`` the
    longest list); with the LUT engine the rows are groups with a spike and the words
    table words (``bank_word_layout``: the table store adds the group's pattern to the
    address), the pass otherwise the same; the last one sends the word's neurons through
    the ``LIFNeuronUnit``,
    post-trace ``TraceUnit`` and ``LFSR`` lanes with that current (shifted by
    ``current_shift``, plus the neuron's bias with ``widths.bias``) and the lateral
    inhibition of the previous timestep's spikes.  The running sum is unsigned
    ``derived.weight_sum_bits``, or with signed weights signed ``derived.current_bits``
    (which holds any sum of one weight per input); with a bias it starts from the bias and
    adds the weights already shifted, in signed ``derived.current_bits``.  With current
    input there are no rows (``rows_count`` 0: one token per word) and the current is
    the word's pixel current (``constant``, from the current pass) plus its bias.  Stages: n0 read
    slot ``a``; n1 read the weight words and neuron word ``k`` (and its biases); n2 add,
    lanes in; n5 LIF out, trace in; n7 trace out, write back, queue the word's spikes.

    Members
    -------
    start : In(1)
        Run the pass (sync: the previous timestep's spikes become the inhibition).
    done : Out(1)
        High in the pass's last cycle.
    key, learn, timestep, first : In
        The sample key and learn flag (a core that learns only); the timestep, and whether
        it is timestep 0 (read the reset state, reseed the generators).
    accumulate : In(1)
        A core that learns only: post events add to those since the last STDP update
        (else they restart).
    slots : Out(read_layout)  /  rows, rows_count, rows_flagged : In
        Slot ``a`` of every bank's row list; the rows in it, one cycle later; the spiking
        rows of each list in this timestep, and in the one being encoded.
    weights_rows : Out  /  weights : In
        One weight word from every bank, by in-bank address; the words, one cycle later.
    store_read, store_write : Out  /  stored : In
        The neuron store.
    bias : In(bias_word_layout(core))
        With ``widths.bias > 0`` only: the biases of the word read at ``store_read`` (the
        neuron store reads them with the state).
    constant : In(current_word_layout(core))
        With current input only: the pixel currents of the word read at ``store_read``
        (``CurrentPass``, read at the same address), in membrane LSBs.
    spikes : Out(stream.Signature(spike_layout(core)))
        A token per word with a spike; ``queue_empty`` when all have gone out.
    updated : Out(updated_layout(core))
        A core that learns only: each word as it is written back (for the learning rule).

    A core that does not learn (``stdp.learn`` false) builds no post trace, generator or
    base-state ROM (``_PostLearning``): its lanes are LIF units alone, and registers of
    the trace's depth keep the pass's cycles.  The STDP parts of a core that learns are
    spliced in where they always were, so its netlist is unchanged (``test_core_signed``).
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        R, W = core.row_banks, core.derived.neurons_per_pe
        bank_rows = list_rows(core)
        bank_depth = bank_rows * W
        count = data.ArrayLayout(unsigned(bits_for(bank_rows)), R)
        learns = core.stdp.learn               # the members STDP alone needs
        super().__init__({
            "start": In(1),
            "done": Out(1),
            **({"key": In(STATE_BITS), "learn": In(1)} if learns else {}),
            "timestep": In(core.derived.timestep_bits),
            "first": In(1),
            **({"accumulate": In(1)} if learns else {}),
            "slots": Out(data.StructLayout({"en": 1, "slot": unsigned(bits_for(bank_rows - 1))})),
            "rows": In(data.ArrayLayout(unsigned(bits_for(bank_rows - 1)), R)),
            "rows_count": In(count),
            "rows_flagged": In(count),
            "weights_rows": Out(data.StructLayout({
                "en": 1, "addr": data.ArrayLayout(unsigned(bits_for(bank_depth - 1)), R)})),
            "weights": In(data.ArrayLayout(bank_word_layout(core), R)),
            "store_read": Out(read_layout(bits_for(W - 1))),
            "store_write": Out(write_layout(bits_for(W - 1), neuron_word_layout(core))),
            "stored": In(neuron_word_layout(core)),
            **({"bias": In(bias_word_layout(core))} if core.widths.bias else {}),
            **({"constant": In(current_word_layout(core))}
               if core.encoder.kind == "current" else {}),
            "spikes": Out(stream.Signature(spike_layout(core))),
            "queue_empty": Out(1),
            **({"updated": Out(updated_layout(core))} if learns else {}),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        d, n = core.derived, core.neuron
        P, W, R, N_in = core.n_pe, d.neurons_per_pe, core.row_banks, core.n_inputs

        lanes = [self._lane(m, p) for p in range(P)]
        lif = [lane["lif"] for lane in lanes]
        learning = _PostLearning(m, core, lanes) if core.stdp.learn else None

        # -- the output spike queue: at most W tokens per timestep, drained before the next
        #    pass (SyncFIFOBuffered of depth d takes d - 1 writes in consecutive cycles)
        m.submodules.spike_fifo = spike_fifo = SyncFIFOBuffered(
            width=data.Layout.cast(spike_layout(core)).size, depth=W + 1)
        m.d.comb += [
            self.spikes.payload.eq(spike_fifo.r_data),
            self.spikes.valid.eq(spike_fifo.r_rdy),
            spike_fifo.r_en.eq(self.spikes.ready),
            self.queue_empty.eq(spike_fifo.level == 0),
        ]

        # -- accumulate: token a of word k ------------------------------------------------------
        issue = Signal()
        k = Signal(bits_for(W - 1))
        a = Signal(bits_for(N_in - 1))
        most = self.rows_count[0] if R == 1 else Signal(range(N_in // R + 1))
        last = Signal()                         # last accumulation token of word k
        m.d.comb += last.eq((most == 0) | (a == most - 1))
        m.d.comb += [self.slots.en.eq(issue), self.slots.slot.eq(a)]
        n1_valid = delay_valid(m, issue, 1, "n1_valid")
        n1_k = delay(m, k, 1, "n1_k")
        n1_first = delay(m, a == 0, 1, "n1_first")
        n1_last = delay(m, last, 1, "n1_last")
        n2_valid = delay_valid(m, n1_valid, 1, "n2_valid")
        n2_first = delay(m, n1_first, 1, "n2_first")
        n2_last = delay(m, n1_last, 1, "n2_last")
        n2_k = delay(m, n1_k, 1, "n2_k")
        m.d.comb += [
            self.weights_rows.en.eq(n1_valid),
            *(self.weights_rows.addr[b].eq(self.rows[b] * W + n1_k) for b in range(R)),
            self.store_read.en.eq(n1_valid),
            self.store_read.addr.eq(n1_k),
            *(learning.read_bases(n1_k) if learning else []),
        ]
        # with a bias the running sum starts from it and adds the weights shifted (the
        # current, in membrane LSBs, needs no adder after the sum); else it adds weights
        # with current input no rows: the sum is the word's pixel current (plus its bias)
        biased = bool(core.widths.bias)
        constant = core.encoder.kind == "current"
        weight_sum = current_word_layout(core) if constant else data.ArrayLayout(
            signed(d.current_bits) if core.widths.weight_signed or biased else
            unsigned(d.weight_sum_bits), P)
        current = Signal(weight_sum)            # the running sum of this word's weights
        total = Signal(weight_sum, reset_less=True)
        has = [] if constant else [delay(m, a < self.rows_count[b], 2, f"n2_has{b}")
                                   for b in range(R)]
        for p in range(P):
            if constant:
                m.d.comb += current[p].eq((self.bias[p] if biased else 0) + self.constant[p])
                continue
            weight = tree((Mux(has[b], self.weights[b][p], 0) for b in range(R)), operator.add)
            if biased:
                m.d.comb += current[p].eq(Mux(n2_first, self.bias[p], total[p])
                                          + (weight << core.widths.current_shift))
            else:
                m.d.comb += current[p].eq(Mux(n2_first, 0, total[p]) + weight)
        with m.If(n2_valid):
            m.d.sync += total.eq(current)

        # -- update: word k's neurons through the lanes -----------------------------------------
        fired = Signal(range(core.n_neurons + 1))            # spikes this timestep
        # w_inh times the spikes of the last timestep (Z[t-1]): one product for all lanes
        inhibition_all = Signal(bits_for(core.n_neurons * n.w_inh))   # 1 bit with w_inh = 0
        update = Signal()
        m.d.comb += update.eq(n2_valid & n2_last)
        stored = self.stored
        for p in range(P):
            lane = stored[p]
            # the synaptic current in membrane LSBs
            synaptic = current[p] if biased or constant else \
                current[p] << core.widths.current_shift
            inhibition = Signal(d.inhibition_bits, name=f"inhibition{p}")   # the others'
            m.d.comb += [
                inhibition.eq(Mux(self.first, 0,
                                  inhibition_all - Mux(lane.spike, n.w_inh, 0))),
                lif[p].i.valid.eq(update),
                lif[p].i.payload.v.eq(Mux(self.first, n.v_rest, lane.v)),
                lif[p].i.payload.refractory.eq(Mux(self.first, 0, lane.refractory)),
                lif[p].i.payload.theta.eq(lane.theta),
                lif[p].i.payload.current.eq(synaptic),
                lif[p].i.payload.inhibition.eq(inhibition),
                # a core that does not learn has no threshold adaptation (step 6)
                *([lif[p].i.payload.learn.eq(self.learn)] if learning else []),
                *(learning.step_generator(p, update, self.first, self.key, lane)
                  if learning else []),
            ]
        n5_valid = lif[0].o.valid
        n5_k = delay(m, n2_k, LIF_LATENCY, "n5_k")
        n5_stored = delay(m, stored, LIF_LATENCY, "n5_stored")
        n5_first = delay(m, self.first, LIF_LATENCY, "n5_first")
        # n5 -> n7: the post traces (learning), else registers of the same depth, so the
        # pass takes the same cycles (hdl.cycles.pass_depths)
        n7_valid = learning.trace(n5_valid, n5_first, n5_stored, self.accumulate) \
            if learning else delay_valid(m, n5_valid, TRACE_LATENCY, "n7_valid")
        n7_k = delay(m, n5_k, TRACE_LATENCY, "n7_k")
        updated = Signal(neuron_word_layout(core))
        spiked = Signal(P)
        for p in range(P):
            neuron = lif[p].o.payload
            count = Mux(n5_first, 0, n5_stored[p].count) + neuron.spike
            post = learning.post_fields(p) if learning else None
            m.d.comb += [
                updated[p].v.eq(delay(m, neuron.v, TRACE_LATENCY, f"n7_v{p}")),
                updated[p].refractory.eq(
                    delay(m, neuron.refractory, TRACE_LATENCY, f"n7_refractory{p}")),
                updated[p].theta.eq(delay(m, neuron.theta, TRACE_LATENCY, f"n7_theta{p}")),
                updated[p].spike.eq(delay(m, neuron.spike, TRACE_LATENCY, f"n7_spike{p}")),
                *(post.seen(updated[p]) if post else []),
                updated[p].count.eq(delay(m, count, TRACE_LATENCY, f"n7_count{p}")),
                *(post.trace_and_state(updated[p]) if post else []),
                spiked[p].eq(updated[p].spike),
                *(post.tell(updated[p], self.updated) if post else []),
            ]
        with m.If(n7_valid):
            m.d.sync += fired.eq(fired + sum(spiked[p] for p in range(P)))
        token = Signal(spike_layout(core))
        m.d.comb += [
            self.store_write.en.eq(n7_valid),
            self.store_write.addr.eq(n7_k),
            self.store_write.data.eq(updated),
            *(learning.tell_word(self.updated, n7_valid, n7_k) if learning else []),
            token.timestep.eq(self.timestep),
            token.word.eq(n7_k),
            token.mask.eq(spiked),
            spike_fifo.w_data.eq(token),
            spike_fifo.w_en.eq(n7_valid & spiked.any()),
        ]

        # -- sequence ------------------------------------------------------------------------
        drain = Drain(m, pass_depths(core)["neurons"])
        with m.FSM(name="neurons"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [inhibition_all.eq(fired * n.w_inh), fired.eq(0), k.eq(0),
                                 a.eq(0)]
                    if R > 1:
                        m.d.sync += most.eq(maximum(self.rows_flagged[b] for b in range(R)))
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += issue.eq(1)
                with m.If(last):
                    m.d.sync += [a.eq(0), k.eq(k + 1)]
                    with m.If(k == W - 1):
                        drain.load()
                        m.next = "DRAIN"
                with m.Else():
                    m.d.sync += a.eq(a + 1)
            with m.State("DRAIN"):
                with m.If(drain.last()):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m

    def _lane(self, m: Module, p: int) -> dict[str, Any]:
        """Lane ``p``'s units, added to ``m``: the LIF unit (with the threshold adaptation
        only in a core that learns), and in a core that learns its post trace and generator
        (``lif<p>``, ``post_trace<p>``, ``neuron_gen<p>``)."""
        core = self._core
        units = {"lif": LIFNeuronUnit(core, adapts=core.stdp.learn)}
        if core.stdp.learn:
            units.update(post_trace=TraceUnit(core, "post"), neuron_gen=LFSR(core))
        for name, unit in units.items():
            m.submodules[f"{name}{p}"] = unit
        m.d.comb += [unit.o.ready.eq(1) for unit in units.values()]
        return units


class _PostLearning:
    """What STDP keeps of every neuron, in a core that learns (``stdp.learn``): the post
    trace (``TraceUnit``, n5 to n7), the generator (``LFSR``, stepped at n2, its state
    delayed to n5) and its base states (a ROM read at n1), and the flag of a spike since
    the last update; added to the word written back at n7 and told to the learn pass
    (``updated``).  A core that does not learn builds none of it: nothing reads a post
    trace or a neuron generator with learning off (``golden.rule.NoLearning``).

    The methods return statements for the neuron pass to put where a core that learns has
    always had them (so its netlist stays the same)."""

    def __init__(self, m: Module, core: CoreConfig, lanes: list[dict[str, Any]]) -> None:
        P, W = core.n_pe, core.derived.neurons_per_pe
        self._m, self._core = m, core
        self._lif = [lane["lif"] for lane in lanes]
        self._trace = [lane["post_trace"] for lane in lanes]
        self._generator = [lane["neuron_gen"] for lane in lanes]
        bases = base_states(core.seed, STREAM_NEURON, core.n_neurons)
        m.submodules.neuron_base = neuron_base = Memory(
            shape=data.ArrayLayout(unsigned(STATE_BITS), P), depth=W,
            init=[[int(bases[k * P + p]) for p in range(P)] for k in range(W)])
        base_rd = neuron_base.read_port()
        self._base = base_rd

    def read_bases(self, n1_k) -> list:
        """n1: read word ``n1_k``'s base states."""
        return [self._base.addr.eq(n1_k)]

    def step_generator(self, p: int, update, first, key, stored_lane) -> list:
        """n2: step lane ``p``'s generator (from its base state at timestep 0)."""
        generator = self._generator[p]
        return [
            generator.i.valid.eq(update),
            generator.i.payload.state.eq(Mux(first, self._base.data[p], stored_lane.state)),
            generator.i.payload.key.eq(key),
            generator.i.payload.reseed.eq(first),
        ]

    def trace(self, n5_valid, n5_first, n5_stored, accumulate):
        """n5: the post traces of the LIF units' spikes; returns the n7 valid flag."""
        m = self._m
        self._n5_stored = n5_stored
        self._n5_carry = delay(m, accumulate, LIF_LATENCY, "n5_carry")
        for p, trace in enumerate(self._trace):
            m.d.comb += [
                trace.i.valid.eq(n5_valid),
                trace.i.payload.x.eq(Mux(n5_first, 0, n5_stored[p].x_post)),
                trace.i.payload.spike.eq(self._lif[p].o.payload.spike),
            ]
        return self._trace[0].o.valid

    def post_fields(self, p: int) -> _PostLane:
        """Lane ``p``'s STDP fields at n5 (the spike flag, the generator state)."""
        spike = self._lif[p].o.payload.spike
        post_seen = spike | (self._n5_carry & self._n5_stored[p].post_seen)
        state = delay(self._m, self._generator[p].o.payload.state,
                      LIF_LATENCY - LFSR_LATENCY, f"n5_state{p}")
        return _PostLane(self._m, p, post_seen, state, self._trace[p])

    @staticmethod
    def tell_word(out, n7_valid, n7_k) -> list:
        """n7: the word written back, for the learn pass."""
        return [out.valid.eq(n7_valid), out.word.eq(n7_k)]


class _PostLane:
    """One lane's STDP fields from n5 to the word written back at n7."""

    def __init__(self, m: Module, p: int, post_seen, state, trace: TraceUnit) -> None:
        self._m, self._p, self._post_seen, self._state, self._trace = \
            m, p, post_seen, state, trace

    def seen(self, word) -> list:
        return [word.post_seen.eq(delay(self._m, self._post_seen, TRACE_LATENCY,
                                        f"n7_seen{self._p}"))]

    def trace_and_state(self, word) -> list:
        return [word.x_post.eq(self._trace.o.payload.x),
                word.state.eq(delay(self._m, self._state, TRACE_LATENCY,
                                    f"n7_state{self._p}"))]

    def tell(self, word, out) -> list:
        return [out.post[self._p].eq(word.post_seen),
                out.live[self._p].eq(self._trace.o.payload.x != 0)]
