"""The network core (``SnnCore``): a time-multiplexed spiking layer that learns on chip.

One sample at a time, the core runs ``timesteps`` timesteps of ``docs/numerics.md`` over
``n_inputs`` inputs (rate-coded pixels or a direct spike raster) and ``n_neurons`` LIF
neurons, bit for bit as
``plasticore.golden.network.Network.run_sample``, and (with learning) updates its weights and
adaptive thresholds in place.  ``docs/architecture.md`` ("The core") draws the passes; the
cycle count of each is ``plasticore.golden.cycles``, which tests hold to this file.

Storage (``amaranth.lib.memory``; ``P = n_pe`` lanes, ``W = n_neurons / P`` words per row):

- ``weights``: ``n_inputs * W`` words of ``P`` weights; word ``j * W + k`` holds the weights
  from input ``j`` to neurons ``k * P .. k * P + P - 1`` (block RAM); with ``R = row_banks``
  in ``R`` banks, input ``j`` in bank ``j % R`` at word ``(j // R) * W + k``, so that the
  neuron pass can read one spiking row of every bank per cycle;
- per input ``j``, in words of ``E = encoder.lanes`` inputs (``j`` in lane ``j % E`` of
  word ``j // E``): pixel, generator state (with a ROM of base states), pre-synaptic trace;
  and the row list (inputs that spiked this timestep first, the others after them) in
  ``E`` memories, slot ``s`` in memory ``s % E``, so that the encode pass can append ``E``
  inputs per cycle and the other passes read one slot per cycle;
- per neuron word ``k``: membrane, refractory count, adaptive threshold, spike of this
  timestep, spike count, post-synaptic trace and generator state of its ``P`` neurons, and
  two word lists (words with a spike; words with a spike or a live post trace).

Per timestep the core makes three passes (a sample's state is reset lazily: the first
timestep reads the reset values instead of the stored ones); the encode pass of timestep
``t + 1`` runs under the other two passes of ``t`` (the per-input state has two banks, by
timestep parity):

1. **encode**, ``E`` inputs per cycle (``E`` lanes): step each one's generator
   (``RateEncoder``), draw its spike (or take it from the direct-input raster word),
   update its trace (``TraceUnit``), append it to the row list;
2. **neurons**, for each word ``k``: add the ``k``-th weight word of every row that spiked
   (one row of each bank per cycle, from per-bank row lists, ``P`` lanes), then update the
   ``P`` neurons (``LIFNeuronUnit``, the post trace ``TraceUnit`` and the generator ``LFSR``
   of each lane) with that current and the lateral inhibition of the previous timestep's
   spikes;
3. **learn** (learning on): one read-modify-write pass (``StdpUnit`` lanes) over the weight
   words STDP can change: every row that spiked, at the words with a spike or a live post
   trace; every other row, at the words with a spike.  Skipped when there is nothing to do;
   with ``stdp.update_every = U > 1`` it runs every ``U`` timesteps on the events since.

After the last timestep: with learning, the **normalization** pass (per word: column sums,
then for each of the ``norm_groups`` groups of lanes, sequential dividers and a rescale pass
with the weight and the product registered), then the per-sample spike **counts** go out.
"""

from __future__ import annotations

import functools
import operator

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..config import ROUNDING_RAND_BITS, CoreConfig, bits_for
from ..golden.cycles import (
    ENCODER_LATENCY,
    LFSR_LATENCY,
    LIF_LATENCY,
    TRACE_LATENCY,
    pass_depths,
    quotient_bits,
    stdp_latency,
)
from ..golden.lfsr import STREAM_INPUT, STREAM_NEURON, base_states
from .encoder import RateEncoder
from .lfsr import LFSR, STATE_BITS
from .lif import LIFNeuronUnit, lif_output_layout
from .stdp import StdpUnit
from .trace import TraceUnit

__all__ = [
    "command_layout",
    "pixel_word_layout",
    "spike_layout",
    "count_layout",
    "access_layout",
    "neuron_layout",
    "SnnCore",
]


def command_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the command stream that starts a sample.

    Fields (LSB first): ``key`` the sample key, unsigned 32 bits (reseeds every generator);
    ``learn`` 1 bit, learning on for this sample (ignored when ``stdp.learn`` is off).
    """
    return data.StructLayout({"key": unsigned(STATE_BITS), "learn": 1})


def spike_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the output spike stream: one token per neuron word with a spike.

    Fields (LSB first): ``timestep`` unsigned ``derived.timestep_bits``; ``word`` the neuron
    word ``k``, unsigned; ``mask`` ``n_pe`` bits, bit ``p`` set when neuron ``k * n_pe + p``
    spiked in that timestep.  Words come out in increasing timestep, then word order.
    """
    words = core.n_neurons // core.n_pe
    return data.StructLayout({
        "timestep": unsigned(core.derived.timestep_bits),
        "word": unsigned(bits_for(words - 1)),
        "mask": unsigned(core.n_pe),
    })


def pixel_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """Payload of the pixel stream: ``encoder.lanes`` pixels of ``encoder.pixel_bits``,
    lane 0 at the LSB (the word the encode pass reads in one cycle)."""
    return data.ArrayLayout(unsigned(core.encoder.pixel_bits), core.encoder.lanes)


def count_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the per-sample count stream: one token per neuron, in neuron order.

    Fields (LSB first): ``neuron`` unsigned; ``count`` spikes over the sample, unsigned
    ``derived.count_bits``; ``last`` 1 bit on the last neuron of the sample.
    """
    return data.StructLayout({
        "neuron": unsigned(bits_for(core.n_neurons - 1)),
        "count": unsigned(core.derived.count_bits),
        "last": 1,
    })


def access_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the weight and threshold access stream (served only between samples).

    Fields (LSB first): ``write`` 1 bit (0: read, answered on ``readback``); ``theta`` 1 bit
    (0: weight word ``addr = j * W + k``; 1: threshold word ``addr = k``); ``addr``
    unsigned; ``data`` the word to write, ``n_pe`` lanes from lane 0 at the LSB, each
    ``widths.weight`` (weights) or ``widths.theta`` (thresholds) bits.
    """
    words = core.n_neurons // core.n_pe
    return data.StructLayout({
        "write": 1,
        "theta": 1,
        "addr": unsigned(bits_for(core.n_inputs * words - 1)),
        "data": unsigned(_access_bits(core)),
    })


def _access_bits(core: CoreConfig) -> int:
    return core.n_pe * max(core.widths.weight, core.widths.theta)


def neuron_layout(core: CoreConfig) -> data.StructLayout:
    """State of one neuron lane in the neuron-word memory (fields LSB first): the LIF unit's
    output (``lif_output_layout``: membrane, refractory count, threshold, spike) and what
    the core keeps beside it."""
    d = core.derived
    return data.StructLayout({
        **{name: field.shape for name, field in lif_output_layout(core)},
        "post_seen": 1,                 # a spike since the last STDP update (update_every)
        "count": unsigned(d.count_bits),
        "x_post": unsigned(core.widths.trace),
        "state": unsigned(STATE_BITS),
    })


def _delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers (reset-less; valid flags are separate)."""
    for stage in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{stage + 1}", reset_less=True)
        m.d.sync += reg.eq(value)
        value = reg
    return value


def _delay_valid(m: Module, value, cycles: int, name: str):
    """A valid flag delayed by ``cycles`` registers (reset to 0)."""
    for stage in range(cycles):
        reg = Signal(name=f"{name}_d{stage + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def _word(index, lanes: int):
    """The per-input memory word of input (or row-list slot) ``index``: ``index // lanes``."""
    return index[exact_log2(lanes):]


def _lane(index, lanes: int):
    """The lane of input (or row-list slot) ``index``: ``index % lanes`` (``lanes > 1``)."""
    return index[:exact_log2(lanes)]


def _select(items, lane, lanes: int):
    """Element ``lane`` of ``items`` (a multiplexer; the only element with one lane)."""
    if lanes == 1:
        return items[0]
    return Array(items[e] for e in range(lanes))[lane]


def _tree(values, combine):
    """``values`` reduced pairwise by ``combine``, in a balanced tree (logic depth log2)."""
    values = list(values)
    while len(values) > 1:
        values = [combine(a, b) for a, b in zip(values[::2], values[1::2], strict=False)] + (
            [values[-1]] if len(values) % 2 else [])
    return values[0]


def _popcount(bits):
    """How many bits of ``bits`` are set (an adder tree)."""
    return _tree([bits[i] for i in range(len(bits))] or [Const(0, 1)], operator.add)


def _maximum(values):
    """The largest of ``values`` (a tree of compares)."""
    return _tree(values, lambda a, b: Mux(a > b, a, b))


def _row_list(m: Module, name: str, n_inputs: int, lanes: int) -> list[Memory]:
    """A row list (input indices, two parity banks of ``n_inputs`` slots) in ``lanes``
    memories: slot ``s`` is in memory ``s % lanes`` at word ``s // lanes`` of its bank, so
    any ``lanes`` consecutive slots (with wrap-around) are in different memories."""
    banks = []
    for e in range(lanes):
        bank = Memory(shape=unsigned(bits_for(n_inputs - 1)), depth=2 * (n_inputs // lanes),
                      init=[])
        m.submodules[f"{name}{e}"] = bank
        banks.append(bank)
    return banks


def _append_rows(m: Module, ports, valid, word, flags, front, back, address, name: str):
    """Append the ``E = len(ports)`` inputs of per-input word ``word`` (lane ``e`` is input
    ``word * E + e``) to a row list: the flagged ones at slots ``front``, ``front + 1``, ...
    and the others at ``back - 1``, ``back - 2``, ..., each in lane order; ``front`` and
    ``back`` move on.  ``address(w)`` is the memory address of slot word ``w``.

    The inputs written before fill ``front + (n_inputs - back)`` slots, a multiple of
    ``E``, and ``E`` divides ``n_inputs``, so the ``E`` slots are ``E`` consecutive ones
    modulo ``E``: every memory takes exactly one write.  With one lane the input is written
    at once; with ``E > 1`` in three stages (each lane's rank among the flagged ones, its
    slot, the route to the memories), so the writes land two cycles later, with the pre
    traces': the encode pass takes no longer.
    """
    E = len(ports)
    ranks = [Const(0, 1)] + [_popcount(flags[:e]) for e in range(1, E)]   # flagged below e
    total = _popcount(flags)
    if E > 1:
        ranks = ranks[:1] + [_delay(m, r, 1, f"{name}_rank{e}")
                             for e, r in enumerate(ranks) if e]
        total = _delay(m, total, 1, f"{name}_total")
        flags = _delay(m, flags, 1, f"{name}_flags")
        valid = _delay_valid(m, valid, 1, f"{name}_valid1")
        word = _delay(m, word, 1, f"{name}_word1")
    with m.If(valid):
        m.d.sync += [front.eq(front + total), back.eq(back - (E - total))]
    slots = []
    for e in range(E):
        slot = Signal(len(ports[0].data), name=f"{name}_slot{e}")
        m.d.comb += slot.eq(Mux(flags[e], front + ranks[e], back - 1 - (e - ranks[e])))
        slots.append(slot)
    if E > 1:
        slots = [_delay(m, slot, 1, f"{name}_slot{e}") for e, slot in enumerate(slots)]
        valid = _delay_valid(m, valid, 1, f"{name}_valid2")
        word = _delay(m, word, 1, f"{name}_word2")
    for b, port in enumerate(ports):
        if E == 1:
            slot_word, data = slots[0], word
        else:
            match = [_lane(slots[e], E) == b for e in range(E)]
            slot_word = functools.reduce(operator.or_, (
                Mux(match[e], _word(slots[e], E), 0) for e in range(E)))
            lane = functools.reduce(operator.or_, (Mux(match[e], e, 0) for e in range(E)))
            data = Cat(lane[:exact_log2(E)], word)
        m.d.comb += [port.addr.eq(address(slot_word)), port.data.eq(data), port.en.eq(valid)]


def _read_rows(m: Module, ports, slot, address, name: str):
    """Read row-list slot ``slot`` (all memories at its word, issued this cycle); returns the
    input in it, one cycle later."""
    E = len(ports)
    for port in ports:
        m.d.comb += port.addr.eq(address(_word(slot, E)))
    row = Signal(len(ports[0].data), name=name)
    lane = _delay(m, _lane(slot, E), 1, f"{name}_lane") if E > 1 else None
    m.d.comb += row.eq(_select([port.data for port in ports], lane, E))
    return row


class SnnCore(wiring.Component):
    """The spiking layer with on-chip STDP, bit for bit as the golden ``Network``.

    A sample: one ``command`` token (key, learn), then ``n_inputs / encoder.lanes``
    ``pixels`` tokens, each a word of ``encoder.lanes`` pixels, one per cycle (with
    ``encoder.kind = "direct"``, one ``raster`` token per timestep, taken as the timestep
    is encoded, instead); the core runs ``timesteps`` timesteps, sending a
    ``spikes`` token for every neuron word with a spike, then (learning on) normalizes the
    weights, then sends the ``n_neurons`` spike ``counts`` and waits for the next command.
    Between samples the ``access`` stream reads (answer on ``readback``) and writes weight
    and threshold words.

    Parameters
    ----------
    core : CoreConfig
        Everything: sizes, widths, neuron and STDP parameters, ``n_pe`` lanes.

    Members
    -------
    command : In(stream.Signature(command_layout(core)))
        Starts a sample.
    pixels : In(stream.Signature(pixel_word_layout(core)))
        The sample's pixels, ``encoder.lanes`` per token: pixel ``j`` in lane ``j % lanes``
        of token ``j // lanes`` (rate encoder only).
    raster : In(stream.Signature(unsigned(n_inputs)))
        Direct input only: a timestep's input spikes, input ``j`` at bit ``j``.
    spikes : Out(stream.Signature(spike_layout(core)))
        Output spikes per timestep (a word and its lane mask).
    counts : Out(stream.Signature(count_layout(core)))
        Per-sample spike count of every neuron.
    access : In(stream.Signature(access_layout(core)))
        Weight and threshold reads and writes, between samples.
    readback : Out(stream.Signature(unsigned(n_pe * max(weight, theta))))
        Answers to ``access`` reads, lane 0 at the LSB.
    busy : Out(1)
        High from a command until its last count has gone out.
    timestep_done : Out(1)
        One-cycle pulse when a timestep's last pass has finished (for cycle counting).
    """

    def __init__(self, core: CoreConfig) -> None:
        if not isinstance(core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {core!r}")
        self._core = core
        super().__init__({
            "command": In(stream.Signature(command_layout(core))),
            **({"pixels": In(stream.Signature(pixel_word_layout(core)))}
               if core.encoder.kind == "rate" else
               {"raster": In(stream.Signature(unsigned(core.n_inputs)))}),
            "spikes": Out(stream.Signature(spike_layout(core))),
            "counts": Out(stream.Signature(count_layout(core))),
            "access": In(stream.Signature(access_layout(core))),
            "readback": Out(stream.Signature(unsigned(_access_bits(core)))),
            "busy": Out(1),
            "timestep_done": Out(1),
        })

    @property
    def core(self) -> CoreConfig:
        """The configuration the core was built for."""
        return self._core

    @property
    def words(self) -> int:
        """Neuron words ``W = n_neurons / n_pe`` (weight words per input row)."""
        return self._core.n_neurons // self._core.n_pe

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        d, n, st = core.derived, core.neuron, core.stdp
        N_in, P, W, T = core.n_inputs, core.n_pe, self.words, core.timesteps
        E, C = core.encoder.lanes, d.input_words     # encoder lanes; input j is in lane
                                                     # j % E of per-input word j // E
        learning_built = st.learn
        normalizing = learning_built and st.norm > 0
        weight_word = data.ArrayLayout(unsigned(core.widths.weight), P)
        neuron_word = data.ArrayLayout(neuron_layout(core), P)
        depth = pass_depths(core)

        # -- storage --------------------------------------------------------------------------
        # the weights: word j * W + k; with R row banks, in bank j % R at word (j // R) * W + k
        R = core.row_banks
        if R == 1:
            m.submodules.weights = weights = Memory(shape=weight_word, depth=N_in * W, init=[])
            weight_banks = [weights]
        else:
            weight_banks = []
            for b in range(R):
                bank = Memory(shape=weight_word, depth=(N_in // R) * W, init=[])
                m.submodules[f"weights{b}"] = bank
                weight_banks.append(bank)
        # per-input memories: C words of E lanes
        m.submodules.pixel_mem = pixel_mem = Memory(
            shape=data.ArrayLayout(unsigned(core.encoder.pixel_bits), E), depth=C, init=[])
        input_bases = base_states(core.seed, STREAM_INPUT, N_in)
        m.submodules.input_base = input_base = Memory(
            shape=data.ArrayLayout(unsigned(STATE_BITS), E), depth=C,
            init=[[int(input_bases[c * E + e]) for e in range(E)] for c in range(C)])
        # two banks (timestep parity): the encode pass of t + 1 writes one while the
        # neuron and learn passes of t read the other
        m.submodules.input_state = input_state = Memory(
            shape=data.ArrayLayout(unsigned(STATE_BITS), E), depth=2 * C, init=[])
        m.submodules.x_pre_mem = x_pre_mem = Memory(
            shape=data.ArrayLayout(unsigned(core.widths.trace), E), depth=2 * C, init=[])
        # the row list: slot s in memory s % E (two parity banks in each)
        rows = _row_list(m, "rows", N_in, E)
        # the neuron pass reads one row list per weight bank: with one bank the row list,
        # with R banks bank b's inputs j // R, spiking ones first, from its E / R lanes
        # (e % R == b)
        bank_rows = [rows] if R == 1 else [
            _row_list(m, f"bank{b}_rows", N_in // R, E // R) for b in range(R)]
        interval = st.update_every > 1
        if interval:
            # STDP every U timesteps: inputs with a spike since the last update, and the
            # row list the learn pass walks (those inputs first)
            m.submodules.pre_seen = pre_seen = Memory(shape=unsigned(E), depth=2 * C, init=[])
            learn_rows = _row_list(m, "learn_rows", N_in, E)
        m.submodules.neurons = neurons = Memory(shape=neuron_word, depth=W, init=[])
        neuron_bases = base_states(core.seed, STREAM_NEURON, core.n_neurons)
        m.submodules.neuron_base = neuron_base = Memory(
            shape=data.ArrayLayout(unsigned(STATE_BITS), P), depth=W,
            init=[[int(neuron_bases[k * P + p]) for p in range(P)] for k in range(W)])
        m.submodules.post_words = post_words = Memory(
            shape=unsigned(bits_for(W - 1)), depth=W, init=[])
        m.submodules.learn_words = learn_words = Memory(
            shape=unsigned(bits_for(W - 1)), depth=W, init=[])

        w_rds, w_wrs = [], []
        for bank in weight_banks:
            w_rd = bank.read_port()
            w_wr = bank.write_port()
            w_rds.append(w_rd)
            w_wrs.append(w_wr)
        pix_rd, pix_wr = pixel_mem.read_port(), pixel_mem.write_port()
        base_rd = input_base.read_port()
        ist_rd, ist_wr = input_state.read_port(), input_state.write_port()   # encode
        xpre_rd, xpre_wr = x_pre_mem.read_port(), x_pre_mem.write_port()     # encode
        ist_lrn_rd, xpre_lrn_rd = input_state.read_port(), x_pre_mem.read_port()  # learn
        rows_rd = [bank.read_port() for bank in rows]
        rows_wr = [bank.write_port() for bank in rows]
        if R == 1:
            bank_rows_rd = [rows_rd]
        else:
            bank_rows_rd = [[mem.read_port() for mem in lst] for lst in bank_rows]
            bank_rows_wr = [[mem.write_port() for mem in lst] for lst in bank_rows]
        if interval:
            seen_rd, seen_wr = pre_seen.read_port(), pre_seen.write_port()
            lrows_rd = [bank.read_port() for bank in learn_rows]
            lrows_wr = [bank.write_port() for bank in learn_rows]
        else:
            lrows_rd = rows_rd
        nrn_rd, nrn_wr = neurons.read_port(), neurons.write_port()

        # The weight memory seen as N_in * W words: a pass reads word `addr` (the word
        # arrives in `w_data` the next cycle) and writes word `addr`.  With R banks (W a
        # power of two) word j * W + k is bank j % R, word (j // R) * W + k: bit fields.
        if R == 1:
            w_data = w_rd.data

            def read_weight(addr):
                return [w_rd.addr.eq(addr)]

            def write_weight(addr, word, en):
                return [w_wr.addr.eq(addr), w_wr.data.eq(word), w_wr.en.eq(en)]
        else:
            k_bits, b_bits = exact_log2(W), exact_log2(R)
            w_bank = Signal(b_bits)              # the bank read this cycle
            w_data = Signal(weight_word)
            m.d.comb += w_data.eq(Array(rd.data.as_value() for rd in w_rds)[
                _delay(m, w_bank, 1, "w_bank")])

            def bank_of(addr):
                return Value.cast(addr)[k_bits:k_bits + b_bits]

            def in_bank(addr):
                addr = Value.cast(addr)
                return Cat(addr[:k_bits], addr[k_bits + b_bits:])

            def read_weight(addr):
                return [*(rd.addr.eq(in_bank(addr)) for rd in w_rds), w_bank.eq(bank_of(addr))]

            def write_weight(addr, word, en):
                return [stmt for b, wr in enumerate(w_wrs) for stmt in (
                    wr.addr.eq(in_bank(addr)), wr.data.eq(word),
                    wr.en.eq(en & (bank_of(addr) == b)))]
        nbase_rd = neuron_base.read_port()
        pw_rd, pw_wr = post_words.read_port(), post_words.write_port()
        lw_rd, lw_wr = learn_words.read_port(), learn_words.write_port()

        # -- processing elements: fixed-latency pipes (outputs always ready, never stalled) ----
        encoder = [RateEncoder(core) for _ in range(E)]
        pre_trace = [TraceUnit(core, "pre") for _ in range(E)]
        for e in range(E):
            m.submodules[f"encoder{e}"] = encoder[e]
            m.submodules[f"pre_trace{e}"] = pre_trace[e]
        lif = [LIFNeuronUnit(core) for _ in range(P)]
        post_trace = [TraceUnit(core, "post") for _ in range(P)]
        neuron_gen = [LFSR(core) for _ in range(P)]
        stdp = [StdpUnit(core) for _ in range(P)] if learning_built else []
        for p in range(P):
            m.submodules[f"lif{p}"] = lif[p]
            m.submodules[f"post_trace{p}"] = post_trace[p]
            m.submodules[f"neuron_gen{p}"] = neuron_gen[p]
            if learning_built:
                m.submodules[f"stdp{p}"] = stdp[p]
        units = [*encoder, *pre_trace, *lif, *post_trace, *neuron_gen, *stdp]
        for unit in units:
            m.d.comb += unit.o.ready.eq(1)

        # -- sample and timestep registers ----------------------------------------------------
        key = Signal(unsigned(STATE_BITS))
        learn = Signal()                       # learning on for this sample
        timestep = Signal(d.timestep_bits)
        first = Signal()                       # timestep 0: read reset values, reseed
        m.d.comb += first.eq(timestep == 0)
        U = st.update_every
        phase = Signal(bits_for(U - 1))         # timestep mod update_every
        update_step = Signal()                 # STDP applies at the end of this timestep
        m.d.comb += update_step.eq((phase == U - 1) | (timestep == T - 1))
        step_bank = Signal()                   # bank of the per-input state of `timestep`
        m.d.comb += step_bank.eq(timestep[0])
        active = Signal(range(N_in + 1))       # A: inputs that spiked this timestep
        enc_active = Signal(range(N_in + 1))   # ... in the timestep being encoded
        # per weight bank: its inputs that spiked (in the timestep being encoded, and in
        # this one), and the most of them (with one bank: A)
        if R == 1:
            enc_bank_active, bank_active, bank_most = [enc_active], [active], active
        else:
            enc_bank_active = [Signal(range(N_in // R + 1), name=f"enc_bank{b}_active")
                               for b in range(R)]
            bank_silent = [Signal(range(N_in // R + 1), name=f"bank{b}_silent")
                           for b in range(R)]      # the next silent slot of its row list
            bank_active = [Signal(range(N_in // R + 1), name=f"bank{b}_active")
                           for b in range(R)]
            bank_most = Signal(range(N_in // R + 1))
        pre_rows = Signal(range(N_in + 1))     # inputs with a pre event for STDP (A or more)
        enc_pre_rows = Signal(range(N_in + 1))
        enc_silent_rows = Signal(range(N_in + 1))
        silent = Signal(range(N_in + 1))       # row-list slot of the next silent input, +1
        fired = Signal(range(core.n_neurons + 1))         # spikes this timestep
        # w_inh times the spikes of the last timestep (Z[t-1]): one product for all lanes
        inhibition_all = Signal(range(core.n_neurons * n.w_inh + 1))
        n_post = Signal(range(W + 1))          # words with a spike
        n_learn = Signal(range(W + 1))         # words with a spike or a live post trace

        # -- output spike queue: at most W tokens per timestep, drained before the next
        #    neuron pass ---------------------------------------------------------------------------
        # (SyncFIFOBuffered of depth d takes d - 1 writes in consecutive cycles: its output
        # register fills one cycle after a write)
        m.submodules.spike_fifo = spike_fifo = SyncFIFOBuffered(
            width=data.Layout.cast(spike_layout(core)).size, depth=W + 1)
        m.d.comb += [
            self.spikes.payload.eq(spike_fifo.r_data),
            self.spikes.valid.eq(spike_fifo.r_rdy),
            spike_fifo.r_en.eq(self.spikes.ready),
        ]

        # =========================================================================================
        # Pass 1, encode: one word of E inputs per cycle (E encoder and pre-trace lanes).
        # e0: read the pixels, states, base states, traces of word c; e1: encoders in;
        # e4: encoders out (states, spikes, row list), traces in; e6: traces out.
        enc_start = Signal()                   # start encoding timestep `enc_next`
        enc_next = Signal.like(timestep)
        enc_next_phase = Signal.like(phase)
        enc_busy = Signal()
        enc_issue = Signal()
        enc_t = Signal.like(timestep)          # the timestep being encoded
        enc_phase = Signal.like(phase)
        enc_first = Signal()
        enc_bank = Signal()
        enc_c = Signal(bits_for(C - 1))        # the word being issued: inputs c * E + lane
        m.d.comb += [enc_first.eq(enc_t == 0), enc_bank.eq(enc_t[0])]
        direct = core.encoder.kind == "direct"
        raster_word = Signal(N_in)             # direct input: this timestep's input spikes

        def banked(bank, index):
            """Address of word ``index`` in ``bank`` of a double-buffered per-input memory
            (and of a row-list memory)."""
            return Mux(bank, C + index, index)

        m.d.comb += [
            pix_rd.addr.eq(enc_c), base_rd.addr.eq(enc_c),
            ist_rd.addr.eq(banked(~enc_bank, enc_c)),      # the previous timestep's bank
            xpre_rd.addr.eq(banked(~enc_bank, enc_c)),
        ]
        e1_valid = _delay_valid(m, enc_issue, 1, "e1_valid")
        e1_c = _delay(m, enc_c, 1, "e1_c")
        e1_first = _delay(m, enc_first, 1, "e1_first")
        for e in range(E):
            m.d.comb += [
                encoder[e].i.valid.eq(e1_valid),
                encoder[e].i.payload.pixel.eq(pix_rd.data[e]),
                encoder[e].i.payload.state.eq(Mux(e1_first, base_rd.data[e], ist_rd.data[e])),
                encoder[e].i.payload.key.eq(key),
                encoder[e].i.payload.reseed.eq(e1_first),
            ]
        e4_valid = encoder[0].o.valid
        e4_c = _delay(m, e1_c, ENCODER_LATENCY, "e4_c")
        input_spikes = Signal(E)               # e4: the spikes of word c, lane e at bit e
        if direct:
            # the input spikes come from the timestep's raster word; the encoders still
            # step the generators (stochastic rounding draws)
            m.d.comb += input_spikes.eq(_delay(m, raster_word.word_select(enc_c, E),
                                               1 + ENCODER_LATENCY, "e4_raster"))
        else:
            m.d.comb += input_spikes.eq(Cat(encoder[e].o.payload.spike for e in range(E)))
        for e in range(E):
            m.d.comb += [
                pre_trace[e].i.valid.eq(e4_valid),
                pre_trace[e].i.payload.x.eq(_delay(m, Mux(e1_first, 0, xpre_rd.data[e]),
                                                   ENCODER_LATENCY, f"e4_x{e}")),
                pre_trace[e].i.payload.spike.eq(input_spikes[e]),
                ist_wr.data[e].eq(encoder[e].o.payload.state),
                xpre_wr.data[e].eq(pre_trace[e].o.payload.x),
            ]
        m.d.comb += [
            ist_wr.addr.eq(banked(enc_bank, e4_c)),
            ist_wr.en.eq(e4_valid),
            xpre_wr.addr.eq(banked(enc_bank, _delay(m, e4_c, TRACE_LATENCY, "e6_c"))),
            xpre_wr.en.eq(pre_trace[0].o.valid),
        ]
        # row list: spiking inputs from slot 0 up, silent ones from slot N_in - 1 down
        _append_rows(m, rows_wr, e4_valid, e4_c, input_spikes, enc_active, silent,
                     lambda index: banked(enc_bank, index), "rows")
        if R > 1:
            # bank b's lanes are e = b, b + R, ...: lane i of them is input word * E + i * R
            # + b, row (word * E + i * R + b) // R = word * (E / R) + i of the bank
            for b in range(R):
                _append_rows(m, bank_rows_wr[b], e4_valid, e4_c,
                             Cat(input_spikes[e] for e in range(b, E, R)), enc_bank_active[b],
                             bank_silent[b], lambda index: banked(enc_bank, index),
                             f"bank{b}_rows")
        if interval:
            # pre events since the last update: the accumulation restarts at phase 0
            e4_carry = _delay(m, Mux(_delay(m, enc_phase != 0, 1, "e1_carry"), seen_rd.data, 0),
                              ENCODER_LATENCY, "e4_carry")
            seen = Signal(E)
            m.d.comb += [
                seen_rd.addr.eq(banked(~enc_bank, enc_c)),
                seen.eq(input_spikes | e4_carry),
                seen_wr.addr.eq(banked(enc_bank, e4_c)),
                seen_wr.data.eq(seen),
                seen_wr.en.eq(e4_valid),
            ]
            _append_rows(m, lrows_wr, e4_valid, e4_c, seen, enc_pre_rows, enc_silent_rows,
                         lambda index: banked(enc_bank, index), "learn_rows")
        else:
            m.d.comb += enc_pre_rows.eq(enc_active)

        # The encode pass runs on its own, started by the sequencer: timestep 0 after the
        # pixels are in, timestep t + 1 while the neuron and learn passes of t run.
        enc_drain = Signal(range(depth["encode"] + 1))
        with m.FSM(name="encode"):
            with m.State("IDLE"):
                with m.If(enc_start):
                    m.d.sync += [enc_t.eq(enc_next), enc_c.eq(0), enc_active.eq(0),
                                 silent.eq(N_in), enc_phase.eq(enc_next_phase)]
                    if R > 1:
                        m.d.sync += [*(a.eq(0) for a in enc_bank_active),
                                     *(s.eq(N_in // R) for s in bank_silent)]
                    if interval:
                        m.d.sync += [enc_pre_rows.eq(0), enc_silent_rows.eq(N_in)]
                    m.next = "FETCH" if direct else "ISSUE"
            if direct:
                with m.State("FETCH"):          # the timestep's raster word
                    m.d.comb += [enc_busy.eq(1), self.raster.ready.eq(1)]
                    with m.If(self.raster.valid):
                        m.d.sync += raster_word.eq(self.raster.payload)
                        m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += [enc_busy.eq(1), enc_issue.eq(1)]
                m.d.sync += enc_c.eq(enc_c + 1)
                with m.If(enc_c == C - 1):
                    m.d.sync += enc_drain.eq(depth["encode"])
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += enc_busy.eq(1)
                m.d.sync += enc_drain.eq(enc_drain - 1)
                with m.If(enc_drain == 1):
                    m.next = "IDLE"

        # =========================================================================================
        # Pass 2, neurons: for each word k, max(Ab, 1) tokens accumulate the k-th weight word
        # of every spiking row, token a the row in slot a of each bank's list (Ab the longest
        # list); the last one sends the word's neurons through the lanes.
        # n0: read slot a; n1: read weight word j * W + k (and neuron word k); n2: add,
        # LIF and generator lanes in; n5: LIF out, trace lanes in; n7: trace out, write
        # the neuron word, queue its spikes, extend the word lists.
        nrn_issue = Signal()
        nrn_k = Signal(bits_for(W - 1))
        nrn_a = Signal(bits_for(N_in - 1))
        nrn_last = Signal()                    # last accumulation token of word k
        m.d.comb += nrn_last.eq((bank_most == 0) | (nrn_a == bank_most - 1))
        n1_valid = _delay_valid(m, nrn_issue, 1, "n1_valid")
        n1_k = _delay(m, nrn_k, 1, "n1_k")
        n1_first = _delay(m, nrn_a == 0, 1, "n1_first")
        n1_last = _delay(m, nrn_last, 1, "n1_last")
        n2_valid = _delay_valid(m, n1_valid, 1, "n2_valid")
        n2_first = _delay(m, n1_first, 1, "n2_first")
        n2_last = _delay(m, n1_last, 1, "n2_last")
        n2_k = _delay(m, n1_k, 1, "n2_k")

        weight_sum = data.ArrayLayout(unsigned(d.weight_sum_bits), P)
        current = Signal(weight_sum)            # this row's running sum of weights, exact
        total = Signal(weight_sum, reset_less=True)
        # bank b has a row for this token
        n2_has = [_delay(m, nrn_a < bank_active[b], 2, f"n2_has{b}") for b in range(R)]
        for p in range(P):
            weight = _tree((Mux(n2_has[b], w_rds[b].data[p], 0) for b in range(R)),
                           operator.add)
            m.d.comb += current[p].eq(Mux(n2_first, 0, total[p]) + weight)
        with m.If(n2_valid):
            m.d.sync += total.eq(current)

        update = Signal()                       # n2: word k's neurons go into the lanes
        m.d.comb += update.eq(n2_valid & n2_last)
        stored = nrn_rd.data
        for p in range(P):
            lane = stored[p]
            # the other neurons' spikes: all of them less the lane's own
            inhibition = Signal(range(n.w_inh * (core.n_neurons - 1) + 1),
                                name=f"inhibition{p}")
            m.d.comb += [
                inhibition.eq(Mux(first, 0, inhibition_all - Mux(lane.spike, n.w_inh, 0))),
                lif[p].i.valid.eq(update),
                lif[p].i.payload.v.eq(Mux(first, n.v_rest, lane.v)),
                lif[p].i.payload.refractory.eq(Mux(first, 0, lane.refractory)),
                lif[p].i.payload.theta.eq(lane.theta),
                lif[p].i.payload.current.eq(current[p] << core.widths.current_shift),
                lif[p].i.payload.inhibition.eq(inhibition),
                lif[p].i.payload.learn.eq(learn),
                neuron_gen[p].i.valid.eq(update),
                neuron_gen[p].i.payload.state.eq(Mux(first, nbase_rd.data[p], lane.state)),
                neuron_gen[p].i.payload.key.eq(key),
                neuron_gen[p].i.payload.reseed.eq(first),
            ]
        n5_valid = lif[0].o.valid
        n5_k = _delay(m, n2_k, LIF_LATENCY, "n5_k")
        n5_stored = _delay(m, stored, LIF_LATENCY, "n5_stored")
        n5_first = _delay(m, first, LIF_LATENCY, "n5_first")
        # post events since the last update: the accumulation restarts at phase 0
        n5_carry = _delay(m, phase != 0, LIF_LATENCY, "n5_carry")
        for p in range(P):
            m.d.comb += [
                post_trace[p].i.valid.eq(n5_valid),
                post_trace[p].i.payload.x.eq(Mux(n5_first, 0, n5_stored[p].x_post)),
                post_trace[p].i.payload.spike.eq(lif[p].o.payload.spike),
            ]
        n7_valid = post_trace[0].o.valid
        n7_k = _delay(m, n5_k, TRACE_LATENCY, "n7_k")
        updated = Signal(neuron_word)
        spiked = Signal(P)
        post = Signal(P)                        # post events for STDP (since the last update)
        live = Signal(P)                        # post trace non-zero after this timestep
        for p in range(P):
            neuron = lif[p].o.payload
            count = Mux(n5_first, 0, n5_stored[p].count) + neuron.spike
            post_seen = neuron.spike | (n5_carry & n5_stored[p].post_seen)
            state = _delay(m, neuron_gen[p].o.payload.state, LIF_LATENCY - LFSR_LATENCY,
                           f"n5_state{p}")
            m.d.comb += [
                updated[p].v.eq(_delay(m, neuron.v, TRACE_LATENCY, f"n7_v{p}")),
                updated[p].refractory.eq(
                    _delay(m, neuron.refractory, TRACE_LATENCY, f"n7_refractory{p}")),
                updated[p].theta.eq(_delay(m, neuron.theta, TRACE_LATENCY, f"n7_theta{p}")),
                updated[p].spike.eq(_delay(m, neuron.spike, TRACE_LATENCY, f"n7_spike{p}")),
                updated[p].post_seen.eq(_delay(m, post_seen, TRACE_LATENCY, f"n7_seen{p}")),
                post[p].eq(updated[p].post_seen),
                updated[p].count.eq(_delay(m, count, TRACE_LATENCY, f"n7_count{p}")),
                updated[p].x_post.eq(post_trace[p].o.payload.x),
                updated[p].state.eq(_delay(m, state, TRACE_LATENCY, f"n7_state{p}")),
                spiked[p].eq(updated[p].spike),
                live[p].eq(post_trace[p].o.payload.x != 0),
            ]
        with m.If(n7_valid):
            m.d.sync += fired.eq(fired + sum(spiked[p] for p in range(P)))
            with m.If(post.any()):
                m.d.sync += n_post.eq(n_post + 1)
            with m.If(post.any() | live.any()):
                m.d.sync += n_learn.eq(n_learn + 1)
        spike_token = Signal(spike_layout(core))
        m.d.comb += [
            spike_token.timestep.eq(timestep),
            spike_token.word.eq(n7_k),
            spike_token.mask.eq(spiked),
            spike_fifo.w_data.eq(spike_token),
            spike_fifo.w_en.eq(n7_valid & spiked.any()),
            pw_wr.addr.eq(n_post),
            pw_wr.data.eq(n7_k),
            pw_wr.en.eq(n7_valid & post.any()),
            lw_wr.addr.eq(n_learn),
            lw_wr.data.eq(n7_k),
            lw_wr.en.eq(n7_valid & (post.any() | live.any())),
        ]

        # =========================================================================================
        # Pass 3, learn: a read-modify-write of every weight word STDP can change.  Row
        # slot r < A (an input that spiked) visits the words with a spike or a live post
        # trace, other slots (only when some neuron spiked) the words with a spike.
        # l0: read row slot r and word-list entry w; l1: read the weight word, the input's
        # trace and state, the neuron word; l2: STDP lanes in; l2 + latency: write back.
        lrn_issue = Signal()
        lrn_r = Signal(bits_for(N_in - 1))
        lrn_w = Signal(bits_for(W - 1))
        lrn_pre = Signal()
        m.d.comb += lrn_pre.eq(lrn_r < pre_rows)
        lrn_row_words = Signal(range(W + 1))
        m.d.comb += lrn_row_words.eq(Mux(lrn_pre, n_learn, n_post))
        lrn_rows = Signal(range(N_in + 1))
        m.d.comb += lrn_rows.eq(Mux(n_post != 0, N_in, pre_rows))
        l1_valid = _delay_valid(m, lrn_issue, 1, "l1_valid")
        l1_pre = _delay(m, lrn_pre, 1, "l1_pre")
        l1_k = Signal(bits_for(W - 1))
        m.d.comb += l1_k.eq(Mux(l1_pre, lw_rd.data, pw_rd.data))
        l1_row = Signal(bits_for(N_in - 1))     # the input in (learn) row-list slot r
        l1_addr = Signal(bits_for(N_in * W - 1))
        m.d.comb += l1_addr.eq(l1_row * W + l1_k)
        l2_valid = _delay_valid(m, l1_valid, 1, "l2_valid")
        l2_lane = _delay(m, _lane(l1_row, E), 1, "l2_lane") if E > 1 else None
        l2_pre = _delay(m, l1_pre, 1, "l2_pre")
        l2_addr = _delay(m, l1_addr, 1, "l2_addr")
        if learning_built:
            learned = Signal(weight_word)
            for p in range(P):
                lane = nrn_rd.data[p]
                m.d.comb += [
                    stdp[p].i.valid.eq(l2_valid),
                    stdp[p].i.payload.w.eq(w_data[p]),
                    stdp[p].i.payload.x_pre.eq(_select(xpre_lrn_rd.data, l2_lane, E)),
                    stdp[p].i.payload.x_post.eq(lane.x_post),
                    stdp[p].i.payload.pre.eq(l2_pre),
                    stdp[p].i.payload.post.eq(lane.post_seen),
                    stdp[p].i.payload.rand16.eq(
                        _rand_hi(_select(ist_lrn_rd.data, l2_lane, E))
                        ^ _rand_hi(lane.state)),
                    learned[p].eq(stdp[p].o.payload.w),
                ]
            learned_valid = stdp[0].o.valid
            learned_addr = _delay(m, l2_addr, stdp_latency(core), "learned_addr")

        # =========================================================================================
        # Normalization (learning, norm > 0), per word k: sum the column (one row per cycle),
        # divide norm * 2**F by each lane's sum (restoring division, one quotient bit per
        # cycle), rescale the column (one row per cycle).  The rescale is a pipeline of
        # depth["rescale"]: q1 the weight read, q2 the weight registered (into the DSP), q3
        # the product registered, then round (half up, or with the stochastic draw read in
        # q1), clip and write back in q3.  A lane whose column sums to 0 gets the scale
        # 2**F, which leaves its weights unchanged.  With G = norm_groups, the division and
        # the rescale run G times per word, on the L = P / G lanes of group nrm_g (L
        # dividers and multipliers); the other lanes are written back as they were read.
        G = core.norm_groups
        L = P // G
        nrm_g = Signal(bits_for(G - 1))          # the group of lanes being normalized

        def group_lane(values, i):
            """Lane ``nrm_g * L + i`` of the P-lane ``values``."""
            if G == 1:
                return values[i]
            return Array(values[g * L + i] for g in range(G))[nrm_g]

        frac = d.norm_frac_bits
        numerator = st.norm << frac
        q_bits = quotient_bits(core)
        nrm_issue = Signal()
        nrm_j = Signal(bits_for(N_in - 1))
        nrm_k = Signal(bits_for(W - 1))
        nrm_addr = Signal(bits_for(N_in * W - 1))
        m.d.comb += nrm_addr.eq(nrm_j * W + nrm_k)
        scaling = Signal()                       # rescaling (else summing)
        q1_valid = _delay_valid(m, nrm_issue, 1, "q1_valid")
        q1_scaling = _delay(m, scaling, 1, "q1_scaling")
        q1_addr = _delay(m, nrm_addr, 1, "q1_addr")
        q3_valid = _delay_valid(m, q1_valid & q1_scaling, 2, "q3_valid")
        q3_addr = _delay(m, q1_addr, 2, "q3_addr")
        q2_weight = [_delay(m, group_lane(w_data, i), 1, f"q2_weight{i}") for i in range(L)]
        column = Signal(data.ArrayLayout(unsigned(d.weight_sum_bits), P))
        divisor = [group_lane(column, i) for i in range(L)]
        remainder = Signal(data.ArrayLayout(unsigned(d.weight_sum_bits + 1), L))
        scale = Signal(data.ArrayLayout(unsigned(q_bits), L))
        bit = Signal(bits_for(q_bits - 1))           # numerator bit brought down, MSB first
        numerator_bit = Const(numerator, unsigned(q_bits)).bit_select(bit, 1)
        product = Signal(data.ArrayLayout(unsigned(core.widths.weight + q_bits), L),
                         reset_less=True)
        rescaled = Signal(weight_word)
        group_rescaled = Signal(data.ArrayLayout(unsigned(core.widths.weight), L))
        stochastic_norm = st.norm_rounding == "stochastic"
        q1_lane = _delay(m, _lane(nrm_j, E), 1, "q1_lane") if E > 1 else None
        for p in range(L):
            m.d.sync += product[p].eq(q2_weight[p] * scale[p])
            if stochastic_norm:
                # q1: hi16 of row j's generator ^ lo16 of the lane's neuron generator, both
                # as they were at the last timestep (docs/numerics.md, step 9); used in q3
                draw = (_rand_hi(_select(ist_lrn_rd.data, q1_lane, E))
                        ^ group_lane([lane.state[:ROUNDING_RAND_BITS]
                                      for lane in (nrn_rd.data[q] for q in range(P))], p))
                addend = (_delay(m, draw, 2, f"q3_draw{p}") << frac) >> ROUNDING_RAND_BITS
            else:
                addend = 1 << (frac - 1)
            shifted = (product[p] + addend) >> frac
            m.d.comb += group_rescaled[p].eq(Mux(shifted > d.w_max, d.w_max, shifted))
        # the group's lanes rescaled, the others as read (with one group, every lane)
        q3_read = _delay(m, w_data, 2, "q3_read") if G > 1 else None
        for p in range(P):
            m.d.comb += rescaled[p].eq(group_rescaled[p] if G == 1 else
                                       Mux(nrm_g == p // L, group_rescaled[p % L], q3_read[p]))

        # =========================================================================================
        # Access between samples: a read answers on readback two cycles later (the word is
        # read, then held until taken).
        access = self.access.payload
        rb_pending = Signal()
        rb_valid = Signal()
        rb_theta = Signal()
        rb_data = Signal(_access_bits(core))
        theta_bits, weight_bits = core.widths.theta, core.widths.weight
        thetas = Signal(P * theta_bits)
        access_neurons = Signal(neuron_word)
        access_weights = Signal(weight_word)
        for p in range(P):
            m.d.comb += [
                thetas[p * theta_bits:(p + 1) * theta_bits].eq(nrn_rd.data[p].theta),
                access_neurons[p].theta.eq(access.data[p * theta_bits:(p + 1) * theta_bits]),
            ]
        m.d.comb += [
            access_weights.eq(access.data[:P * weight_bits]),
            self.readback.valid.eq(rb_valid),
            self.readback.payload.eq(rb_data),
        ]
        m.d.sync += rb_pending.eq(0)
        with m.If(rb_pending):
            m.d.sync += [rb_valid.eq(1),
                         rb_data.eq(Mux(rb_theta, thetas, w_data.as_value()))]
        with m.If(self.readback.valid & self.readback.ready):
            m.d.sync += rb_valid.eq(0)
        access_idle = ~rb_pending & ~rb_valid

        # =========================================================================================
        # Counts out: neuron word k read once, its P counts sent one per cycle.
        counting = Signal()
        cnt_k = Signal(bits_for(W - 1))
        cnt_p = Signal(bits_for(P - 1))
        m.d.comb += [
            self.counts.payload.neuron.eq(cnt_k * P + cnt_p),
            self.counts.payload.count.eq(Array(nrn_rd.data[p].count for p in range(P))[cnt_p]),
            self.counts.payload.last.eq((cnt_k == W - 1) & (cnt_p == P - 1)),
        ]

        # =========================================================================================
        # Memory ports shared by the passes, selected by the pipeline stage that is busy
        # (passes never overlap).
        load_c = Signal(bits_for(C - 1))        # the pixel word being loaded
        if not direct:
            m.d.comb += [pix_wr.addr.eq(load_c), pix_wr.data.eq(self.pixels.payload)]
        # the row list: one slot per cycle, the memories read at the slot's word, the lane
        # selected as the word arrives
        def step_words(index):
            return banked(step_bank, index)

        if R == 1 and not interval:
            # the neuron and learn passes share the row list's read port
            row = _read_rows(m, rows_rd, Mux(nrn_issue, nrn_a, lrn_r), step_words, "rows")
            n1_rows = [row]
            m.d.comb += l1_row.eq(row)
        else:
            # the neuron pass reads slot a of every bank's list, the learn pass its own list
            n1_rows = [_read_rows(m, ports, nrn_a, step_words, f"n1_rows{b}")
                       for b, ports in enumerate(bank_rows_rd)]
            m.d.comb += l1_row.eq(_read_rows(m, lrows_rd, lrn_r, step_words, "l1_rows"))
        m.d.comb += [lw_rd.addr.eq(lrn_w), pw_rd.addr.eq(lrn_w), nbase_rd.addr.eq(n1_k)]
        m.d.comb += [ist_lrn_rd.addr.eq(banked(step_bank, _word(l1_row, E))),
                     xpre_lrn_rd.addr.eq(banked(step_bank, _word(l1_row, E)))]
        with m.If(n1_valid):                    # each bank at its own row
            m.d.comb += [*(rd.addr.eq(row * W + n1_k)
                           for rd, row in zip(w_rds, n1_rows, strict=True)),
                         nrn_rd.addr.eq(n1_k)]
        with m.Elif(l1_valid):
            m.d.comb += [*read_weight(l1_addr), nrn_rd.addr.eq(l1_k)]
        with m.Elif(nrm_issue):
            m.d.comb += [*read_weight(nrm_addr), nrn_rd.addr.eq(nrm_k),
                         ist_lrn_rd.addr.eq(banked(step_bank, _word(nrm_j, E)))]
        with m.Elif(counting):
            m.d.comb += nrn_rd.addr.eq(cnt_k)
        with m.Else():
            m.d.comb += [*read_weight(access.addr), nrn_rd.addr.eq(access.addr)]

        access_write = Signal()
        if learning_built:
            learned_write = learned_valid
            learned_word = (learned_addr, learned)
        else:
            learned_write = Const(0, 1)
            learned_word = (0, 0)
        with m.If(learned_write):
            m.d.comb += write_weight(learned_word[0], learned_word[1], 1)
        with m.Elif(q3_valid):
            m.d.comb += write_weight(q3_addr, rescaled, 1)
        with m.Else():
            m.d.comb += write_weight(access.addr, access_weights, access_write & ~access.theta)
        with m.If(n7_valid):
            m.d.comb += [nrn_wr.addr.eq(n7_k), nrn_wr.data.eq(updated), nrn_wr.en.eq(1)]
        with m.Else():
            m.d.comb += [nrn_wr.addr.eq(access.addr), nrn_wr.data.eq(access_neurons),
                         nrn_wr.en.eq(access_write & access.theta)]
        with m.If(q1_valid & ~q1_scaling):
            for p in range(P):
                m.d.sync += column[p].eq(column[p] + w_data[p])

        # =========================================================================================
        # The sequencer
        drain = Signal(range(max(depth.values()) + 1))

        m.d.comb += self.busy.eq(1)
        with m.FSM(name="phase"):
            with m.State("IDLE"):
                m.d.comb += [
                    self.busy.eq(0),
                    self.access.ready.eq(access_idle),
                    self.command.ready.eq(access_idle & ~self.access.valid),
                ]
                with m.If(self.access.valid & access_idle):
                    with m.If(access.write):
                        m.d.comb += access_write.eq(1)
                    with m.Else():
                        m.d.sync += [rb_pending.eq(1), rb_theta.eq(access.theta)]
                with m.Elif(self.command.valid & access_idle):
                    m.d.sync += [
                        key.eq(self.command.payload.key),
                        learn.eq(self.command.payload.learn & learning_built),
                        load_c.eq(0),
                        timestep.eq(0),
                        phase.eq(0),
                    ]
                    if direct:                  # no pixels: encode the first timestep
                        m.d.comb += [enc_start.eq(1), enc_next.eq(0), enc_next_phase.eq(0)]
                        m.next = "NEURONS_WAIT"
                    else:
                        m.next = "LOAD"

            if not direct:
                with m.State("LOAD"):
                    m.d.comb += [self.pixels.ready.eq(1), pix_wr.en.eq(self.pixels.valid)]
                    with m.If(self.pixels.valid):
                        m.d.sync += load_c.eq(load_c + 1)
                        with m.If(load_c == C - 1):
                            m.d.comb += [enc_start.eq(1), enc_next.eq(0),
                                         enc_next_phase.eq(0)]
                            m.next = "NEURONS_WAIT"

            with m.State("NEURONS_WAIT"):
                # this timestep's inputs are encoded, and the spike queue has room for a
                # whole timestep; the next timestep's encode pass starts under this one
                with m.If(~enc_busy & (spike_fifo.level == 0)):
                    m.d.sync += [inhibition_all.eq(fired * n.w_inh), fired.eq(0), n_post.eq(0),
                                 n_learn.eq(0), active.eq(enc_active),
                                 pre_rows.eq(enc_pre_rows), nrn_k.eq(0),
                                 nrn_a.eq(0)]
                    if R > 1:
                        m.d.sync += [*(a.eq(e) for a, e in
                                       zip(bank_active, enc_bank_active, strict=True)),
                                     bank_most.eq(_maximum(enc_bank_active))]
                    m.d.comb += [enc_start.eq(timestep != T - 1), enc_next.eq(timestep + 1),
                                 enc_next_phase.eq(Mux(phase == U - 1, 0, phase + 1))]
                    m.next = "NEURONS"

            with m.State("NEURONS"):
                m.d.comb += nrn_issue.eq(1)
                with m.If(nrn_last):
                    m.d.sync += [nrn_a.eq(0), nrn_k.eq(nrn_k + 1)]
                    with m.If(nrn_k == W - 1):
                        m.d.sync += drain.eq(depth["neurons"])
                        m.next = "NEURONS_DRAIN"
                with m.Else():
                    m.d.sync += nrn_a.eq(nrn_a + 1)

            with m.State("NEURONS_DRAIN"):
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 1):
                    m.next = "LEARN_DECIDE"

            with m.State("LEARN_DECIDE"):
                m.d.sync += [lrn_r.eq(0), lrn_w.eq(0)]
                with m.If(learn & update_step
                          & ((n_post != 0) | ((pre_rows != 0) & (n_learn != 0)))):
                    m.next = "LEARN"
                with m.Else():
                    m.next = "STEP_END"

            with m.State("LEARN"):
                m.d.comb += lrn_issue.eq(1)
                with m.If(lrn_w == lrn_row_words - 1):
                    m.d.sync += [lrn_w.eq(0), lrn_r.eq(lrn_r + 1)]
                    with m.If(lrn_r == lrn_rows - 1):
                        m.d.sync += drain.eq(depth["learn"])
                        m.next = "LEARN_DRAIN"
                with m.Else():
                    m.d.sync += lrn_w.eq(lrn_w + 1)

            with m.State("LEARN_DRAIN"):
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 1):
                    m.next = "STEP_END"

            with m.State("STEP_END"):
                m.d.comb += self.timestep_done.eq(1)
                with m.If(timestep == T - 1):
                    m.d.sync += [nrm_j.eq(0), nrm_k.eq(0), cnt_k.eq(0), cnt_p.eq(0)]
                    if normalizing:
                        with m.If(learn):
                            m.next = "NORM_SUM"
                        with m.Else():
                            m.next = "COUNTS_READ"
                    else:
                        m.next = "COUNTS_READ"
                with m.Else():
                    m.d.sync += [timestep.eq(timestep + 1),
                                 phase.eq(Mux(phase == U - 1, 0, phase + 1))]
                    m.next = "NEURONS_WAIT"

            with m.State("NORM_SUM"):
                m.d.comb += nrm_issue.eq(1)
                with m.If(nrm_j == 0):
                    for p in range(P):
                        m.d.sync += column[p].eq(0)
                m.d.sync += nrm_j.eq(nrm_j + 1)
                with m.If(nrm_j == N_in - 1):
                    m.d.sync += nrm_j.eq(0)
                    m.next = "NORM_SUM_DRAIN"

            with m.State("NORM_SUM_DRAIN"):           # (and between groups of lanes)
                m.d.sync += bit.eq(q_bits - 1)
                for p in range(L):
                    m.d.sync += [remainder[p].eq(0), scale[p].eq(0)]
                m.next = "NORM_DIVIDE"

            with m.State("NORM_DIVIDE"):
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
                    m.next = "NORM_SCALE"

            with m.State("NORM_SCALE"):
                m.d.comb += [nrm_issue.eq(1), scaling.eq(1)]
                m.d.sync += nrm_j.eq(nrm_j + 1)
                with m.If(nrm_j == N_in - 1):
                    m.d.sync += [nrm_j.eq(0), drain.eq(depth["rescale"])]
                    m.next = "NORM_SCALE_DRAIN"

            with m.State("NORM_SCALE_DRAIN"):
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 1):
                    m.d.sync += nrm_g.eq(nrm_g + 1)
                    with m.If(nrm_g != G - 1):       # the word's next group of lanes
                        m.next = "NORM_SUM_DRAIN"
                    with m.Else():                   # the next word
                        m.d.sync += [nrm_g.eq(0), nrm_k.eq(nrm_k + 1)]
                        with m.If(nrm_k == W - 1):
                            m.next = "COUNTS_READ"
                        with m.Else():
                            m.next = "NORM_SUM"

            with m.State("COUNTS_READ"):
                m.d.comb += counting.eq(1)
                m.next = "COUNTS"

            with m.State("COUNTS"):
                m.d.comb += [counting.eq(1), self.counts.valid.eq(1)]
                with m.If(self.counts.ready):
                    m.d.sync += cnt_p.eq(cnt_p + 1)
                    with m.If(cnt_p == P - 1):
                        m.d.sync += [cnt_p.eq(0), cnt_k.eq(cnt_k + 1)]
                        with m.If(cnt_k == W - 1):
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "COUNTS_READ"
        return m


def _rand_hi(state):
    """The stochastic-rounding draw of a generator state: its high 16 bits."""
    return state[STATE_BITS - ROUNDING_RAND_BITS:]
