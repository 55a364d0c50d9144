"""The neuron pass: every neuron's synaptic current, then its LIF update, ``n_pe`` lanes."""

from __future__ import annotations

import operator

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
    bias_word_layout,
    current_word_layout,
    neuron_word_layout,
    spike_layout,
    weight_word_layout,
)
from .pipeline import Drain, delay, delay_valid, maximum, tree
from .weights import read_layout, write_layout

__all__ = ["NeuronPass", "updated_layout"]


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
    longest list); the last one sends the word's neurons through the ``LIFNeuronUnit``,
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
        The sample key and learn flag; the timestep, and whether it is timestep 0 (read
        the reset state, reseed the generators).
    accumulate : In(1)
        Post events add to those since the last STDP update (else they restart).
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
        Each word as it is written back (for the learning rule).
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        R, W = core.row_banks, core.derived.neurons_per_pe
        bank_rows = core.n_inputs // R
        bank_depth = bank_rows * W
        count = data.ArrayLayout(unsigned(bits_for(bank_rows)), R)
        super().__init__({
            "start": In(1),
            "done": Out(1),
            "key": In(STATE_BITS),
            "learn": In(1),
            "timestep": In(core.derived.timestep_bits),
            "first": In(1),
            "accumulate": In(1),
            "slots": Out(data.StructLayout({"en": 1, "slot": unsigned(bits_for(bank_rows - 1))})),
            "rows": In(data.ArrayLayout(unsigned(bits_for(bank_rows - 1)), R)),
            "rows_count": In(count),
            "rows_flagged": In(count),
            "weights_rows": Out(data.StructLayout({
                "en": 1, "addr": data.ArrayLayout(unsigned(bits_for(bank_depth - 1)), R)})),
            "weights": In(data.ArrayLayout(weight_word_layout(core), R)),
            "store_read": Out(read_layout(bits_for(W - 1))),
            "store_write": Out(write_layout(bits_for(W - 1), neuron_word_layout(core))),
            "stored": In(neuron_word_layout(core)),
            **({"bias": In(bias_word_layout(core))} if core.widths.bias else {}),
            **({"constant": In(current_word_layout(core))}
               if core.encoder.kind == "current" else {}),
            "spikes": Out(stream.Signature(spike_layout(core))),
            "queue_empty": Out(1),
            "updated": Out(updated_layout(core)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        d, n = core.derived, core.neuron
        P, W, R, N_in = core.n_pe, d.neurons_per_pe, core.row_banks, core.n_inputs

        lif = [LIFNeuronUnit(core) for _ in range(P)]
        post_trace = [TraceUnit(core, "post") for _ in range(P)]
        generator = [LFSR(core) for _ in range(P)]
        for p in range(P):
            m.submodules[f"lif{p}"] = lif[p]
            m.submodules[f"post_trace{p}"] = post_trace[p]
            m.submodules[f"neuron_gen{p}"] = generator[p]
            m.d.comb += [lif[p].o.ready.eq(1), post_trace[p].o.ready.eq(1),
                         generator[p].o.ready.eq(1)]
        bases = base_states(core.seed, STREAM_NEURON, core.n_neurons)
        m.submodules.neuron_base = neuron_base = Memory(
            shape=data.ArrayLayout(unsigned(STATE_BITS), P), depth=W,
            init=[[int(bases[k * P + p]) for p in range(P)] for k in range(W)])
        base_rd = neuron_base.read_port()

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
            base_rd.addr.eq(n1_k),
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
                lif[p].i.payload.learn.eq(self.learn),
                generator[p].i.valid.eq(update),
                generator[p].i.payload.state.eq(Mux(self.first, base_rd.data[p], lane.state)),
                generator[p].i.payload.key.eq(self.key),
                generator[p].i.payload.reseed.eq(self.first),
            ]
        n5_valid = lif[0].o.valid
        n5_k = delay(m, n2_k, LIF_LATENCY, "n5_k")
        n5_stored = delay(m, stored, LIF_LATENCY, "n5_stored")
        n5_first = delay(m, self.first, LIF_LATENCY, "n5_first")
        n5_carry = delay(m, self.accumulate, LIF_LATENCY, "n5_carry")
        for p in range(P):
            m.d.comb += [
                post_trace[p].i.valid.eq(n5_valid),
                post_trace[p].i.payload.x.eq(Mux(n5_first, 0, n5_stored[p].x_post)),
                post_trace[p].i.payload.spike.eq(lif[p].o.payload.spike),
            ]
        n7_valid = post_trace[0].o.valid
        n7_k = delay(m, n5_k, TRACE_LATENCY, "n7_k")
        updated = Signal(neuron_word_layout(core))
        spiked = Signal(P)
        for p in range(P):
            neuron = lif[p].o.payload
            count = Mux(n5_first, 0, n5_stored[p].count) + neuron.spike
            post_seen = neuron.spike | (n5_carry & n5_stored[p].post_seen)
            state = delay(m, generator[p].o.payload.state, LIF_LATENCY - LFSR_LATENCY,
                          f"n5_state{p}")
            m.d.comb += [
                updated[p].v.eq(delay(m, neuron.v, TRACE_LATENCY, f"n7_v{p}")),
                updated[p].refractory.eq(
                    delay(m, neuron.refractory, TRACE_LATENCY, f"n7_refractory{p}")),
                updated[p].theta.eq(delay(m, neuron.theta, TRACE_LATENCY, f"n7_theta{p}")),
                updated[p].spike.eq(delay(m, neuron.spike, TRACE_LATENCY, f"n7_spike{p}")),
                updated[p].post_seen.eq(delay(m, post_seen, TRACE_LATENCY, f"n7_seen{p}")),
                updated[p].count.eq(delay(m, count, TRACE_LATENCY, f"n7_count{p}")),
                updated[p].x_post.eq(post_trace[p].o.payload.x),
                updated[p].state.eq(delay(m, state, TRACE_LATENCY, f"n7_state{p}")),
                spiked[p].eq(updated[p].spike),
                self.updated.post[p].eq(updated[p].post_seen),
                self.updated.live[p].eq(post_trace[p].o.payload.x != 0),
            ]
        with m.If(n7_valid):
            m.d.sync += fired.eq(fired + sum(spiked[p] for p in range(P)))
        token = Signal(spike_layout(core))
        m.d.comb += [
            self.store_write.en.eq(n7_valid),
            self.store_write.addr.eq(n7_k),
            self.store_write.data.eq(updated),
            self.updated.valid.eq(n7_valid),
            self.updated.word.eq(n7_k),
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
