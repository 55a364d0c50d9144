"""Cycle model of the network core (``hdl/core/``): clock cycles per timestep and per
sample, predicted exactly from a sample's spikes.

This module is the timing contract of the core, as ``docs/numerics.md`` is its arithmetic
contract.  Each processing element states its pipeline latency beside its code (their
Amaranth-simulator tests measure it); the depth of each pass is defined here from them, the
passes drain by it, and tests compare :func:`sample_cycles` with the cycles the RTL takes.

The encode pass of timestep ``t + 1`` runs while the neuron and learn passes of ``t`` do.
The main sequence of timestep ``t`` (``A`` inputs spiked, ``W = n_neurons / n_pe`` neuron
words, ``Wp`` words with an output spike, ``Wl`` words with a spike or a non-zero post trace
after the timestep; the spike output consumer always ready) takes ``M_t`` cycles::

    neurons  W * max(Ab, 1) + depth["neurons"]
    decide   1
    learn    A * Wl + (n_inputs - A) * Wp + depth["learn"]   (learning on and work to do;
                                                              the second term only if Wp > 0)
    end      1

(``Ab`` the most spiking inputs in one weight bank: with ``row_banks = R`` the weight memory
has ``R`` banks by input, ``j`` in bank ``j % R``, and the neuron pass adds one row of every
bank per cycle; ``Ab = A`` with one bank; with ``update_every = U > 1`` the learn pass runs
only at update timesteps, ``A`` there
counting the inputs with a spike since the last update and ``Wp``, ``Wl`` the words with a
spike since then) and the encode pass ``E = n_inputs / lanes + depth["encode"]`` (one word
of ``lanes = encoder.lanes`` inputs per cycle; plus one cycle with direct input).  The lanes
change only ``E``: the row list the encode pass builds has one bank per lane, and the neuron
and learn passes read it one row per cycle as before.  Timestep 0 encodes alone, and a
timestep waits one cycle for its inputs to be encoded, or longer when the encode pass
outlasts the previous main sequence::

    cycles(0) = E + 1 + M_0
    cycles(t) = max(0, E - M_(t-1)) + 1 + M_t

Per sample: ``1 + n_inputs / lanes`` to accept the command and the pixels, a word of
``lanes`` per cycle (``1`` with direct input, whose raster words the encode pass takes one
per timestep), then the timesteps, then
with learning and ``norm > 0`` the normalization, per word a column sum, then for each of
the ``G = norm_groups`` groups of lanes a division and a rescale pass::

    normalize  W * (n_inputs + G * (1 + derived.quotient_bits + n_inputs + depth["rescale"]))

then ``W * (1 + n_pe)`` to send the counts, and with a membrane readout
(``hdl/core/membrane.py``, ``classify.readout`` ``membrane_max`` or ``membrane_final``)
``2 * W`` more to send the membrane words (a read and a send cycle each)
(:func:`readout_cycles`).

With the LUT forward engine (``forward = "lut"``, ``k = lut_group``; ``docs/architecture.md``,
"The LUT forward engine") the neuron pass reads one table word per group with a spike
instead of one weight word per spiking input: ``Ab`` above becomes ``Gb``, the most groups
with a spike in one table bank (group ``g`` in bank ``g % row_banks``,
``golden.lut.group_of``); every other term is the same (:func:`bank_rows`).  After a
weight write the next sample's command is taken, then the tables are built before the
sequencer starts (``B = lut_bank_groups * W * 2**k + depth["build"]`` cycles,
:func:`build_cycles`): ``B`` more in the load with pixels, or in timestep 0's wait with
direct input (whose timestep 0 counts from the command).

With current input (``encoder.kind = "current"``) there is no encode pass (``E = 0``):
the pixels load as for the rate encoder, then the current pass
(``hdl/core/current.py``) computes every neuron's pixel current before timestep 0, taking
``X = depth["settle"] + W * max(Ab, 1) + depth["current"]`` cycles (``Ab`` the most
non-zero pixels in one row bank; :func:`current_cycles`) where the encode pass of
timestep 0 would take ``E``; every timestep then has no spiking input (``Ab = 0``)::

    cycles(0) = X + 1 + M_0
    cycles(t) = 1 + M_t
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import CoreConfig
from ..golden.arith import IntegerArithmetic
from ..golden.lut import patterns
from ..golden.stdp import trace_step, update_due
from .encoder import ENCODER_LATENCY
from .lif import LIF_LATENCY
from .stdp import stdp_latency
from .trace import TRACE_LATENCY

__all__ = [
    "normalizes",
    "pass_depths",
    "readout_cycles",
    "TimestepWork",
    "SampleCycles",
    "learned_words",
    "bank_rows",
    "build_cycles",
    "encode_cycles",
    "current_cycles",
    "first_wait",
    "main_cycles",
    "timestep_cycles",
    "sample_cycles",
    "lower_bound",
    "NetworkSampleCycles",
    "network_sample_cycles",
]

Array = Any

def normalizes(core: CoreConfig) -> bool:
    """Whether the core normalizes the weights after a learning sample (and builds the
    normalization pass): learning built in and ``stdp.norm > 0``."""
    return core.stdp.learn and core.stdp.norm > 0


def pass_depths(core: CoreConfig) -> dict[str, int]:
    """Cycles from a pass's last issued token to its last write (the drain of the pass).

    ``encode``: memory read, encoder, pre trace; ``neurons``: row-list read, weight read,
    LIF unit, post trace; ``learn``: row and word-list read, weight read, STDP unit;
    ``rescale`` (the normalization's rescale pass): weight read, weight register, product
    register (round, clip and write back in the product's cycle); ``current`` (current
    input's pass): row-list read, weight and pixel read, product register, the banks'
    sum register (add to the word's sum and write in the next cycle); ``settle``: before
    the current pass reads its row lists (one per row bank, ``encoder.lanes /
    row_banks`` lanes each), their last appended rows landing (two cycles late with more
    than one lane); ``build`` (LUT engine): from the table build's last write to the
    sequencer taking the command it held.
    """
    return {
        "encode": 1 + ENCODER_LATENCY + TRACE_LATENCY,
        "neurons": 2 + LIF_LATENCY + TRACE_LATENCY,
        "learn": 2 + stdp_latency(core),
        "rescale": 3,
        "current": 4,
        "settle": 2 if core.encoder.lanes > core.row_banks else 0,
        "build": 1,
    }


@dataclass(frozen=True)
class TimestepWork:
    """What one timestep of one sample gives the core to do.

    Members
    -------
    active : int
        Inputs that spiked (``A``).
    post_words : int
        Neuron words with a post event for STDP: an output spike (``Wp``; with
        ``update_every = U > 1``, a spike since the last update).
    learn_words : int
        Neuron words with a post event or a non-zero post trace after the timestep (``Wl``).
    pre_rows : int
        Inputs with a pre event for STDP (``A``; with ``U > 1``, a spike since the last
        update).
    update : bool
        STDP applies at this timestep (always with ``U = 1``).
    bank_active : int
        The most rows the neuron pass reads in one bank (:func:`bank_rows`): the inputs
        that spiked in one weight bank (``Ab``; input ``j`` is in bank ``j % row_banks``;
        ``A`` with one bank), or with ``forward = "lut"`` the groups with a spike in one
        table bank (``Gb``).
    """

    active: int
    post_words: int
    learn_words: int
    pre_rows: int
    update: bool
    bank_active: int


def learned_words(core: CoreConfig, work: TimestepWork, learn: bool) -> int:
    """Weight words the learn pass reads, updates and writes in a timestep: each row with a
    pre event at the words with a post event or a live trace, each other row (when some
    word has a post event) at the words with a post event; 0 without learning or off an
    update timestep."""
    if not (learn and core.stdp.learn and work.update):
        return 0
    words = work.pre_rows * work.learn_words
    if work.post_words:
        words += (core.n_inputs - work.pre_rows) * work.post_words
    return words


def bank_rows(core: CoreConfig, spikes: Array) -> int:
    """The neuron pass's tokens per neuron word in a timestep with input ``spikes``
    (``(n_inputs,)``), before the ``max(., 1)``: the most spiking inputs in one weight bank
    (``Ab``), or with ``forward = "lut"`` the most groups with a spike in one table bank
    (``Gb``)."""
    s = np.asarray(spikes, dtype=bool)
    if core.forward == "lut":
        s = patterns(core, s) != 0              # the groups, group g in bank g % R
    return int(np.count_nonzero(s.reshape(-1, core.row_banks), axis=0).max())


def build_cycles(core: CoreConfig) -> int:
    """Cycles the LUT engine's table build adds to the first sample after a weight write
    (``B``): each bank's ``lut_bank_groups * W`` table blocks, ``2**k`` cycles each (``k``
    reads of the single-input entries, a cycle to take the last, a write of every other
    entry but 0), then ``depth["build"]``; 0 for the accumulate engine."""
    if core.forward != "lut":
        return 0
    d = core.derived
    return d.lut_bank_groups * d.neurons_per_pe * d.lut_entries + pass_depths(core)["build"]


def encode_cycles(core: CoreConfig) -> int:
    """Cycles of the encode pass (``E``): one word of ``encoder.lanes`` inputs per cycle
    (``derived.input_words`` words), then its drain (with direct input, one more to take the
    timestep's raster word); 0 with current input (no encode pass)."""
    if core.encoder.kind == "current":
        return 0
    fetch = 1 if core.encoder.kind == "direct" else 0
    return fetch + core.derived.input_words + pass_depths(core)["encode"]


def current_cycles(core: CoreConfig, pixels: Array) -> int:
    """Cycles of the current pass (``X``, current input) from the last pixel word taken
    until it is done: the row lists settling, ``max(Ab, 1)`` tokens for each of the ``W``
    neuron words (``Ab`` the most non-zero ``pixels`` in one row bank, pixel ``j`` in bank
    ``j % row_banks``), then its drain."""
    depth = pass_depths(core)
    nonzero = np.asarray(pixels).reshape(-1, core.row_banks) != 0
    active = int(np.count_nonzero(nonzero, axis=0).max())
    return depth["settle"] + core.derived.neurons_per_pe * max(active, 1) + depth["current"]


def first_wait(core: CoreConfig, pixels: Array | None) -> int:
    """Cycles from the last input word of the load (the command with direct input) until
    timestep 0's inputs are ready: the encode pass ``E``, or with current input the
    current pass ``X`` of ``pixels``."""
    if core.encoder.kind != "current":
        return encode_cycles(core)
    if pixels is None:
        raise ValueError("current input: the cycle model needs the sample's pixels")
    return current_cycles(core, pixels)


def main_cycles(core: CoreConfig, work: TimestepWork, learn: bool) -> int:
    """Cycles of a timestep's neuron and learn passes (``M_t``, see the module
    docstring)."""
    depth = pass_depths(core)
    W = core.derived.neurons_per_pe
    cycles = W * max(work.bank_active, 1) + depth["neurons"]
    cycles += 1
    learned = learned_words(core, work, learn)
    if learned:
        cycles += learned + depth["learn"]
    return cycles + 1


@dataclass(frozen=True)
class SampleCycles:
    """Predicted cycles of one sample.

    Members
    -------
    timesteps : (timesteps,) int64
        Cycles of each timestep.
    load : int
        Accepting the command and the pixels (and a table build before the pixels).
    normalize : int
        The weight normalization after the last timestep (0 without learning).
    counts : int
        Sending the per-sample counts, then any membrane words (:func:`readout_cycles`).
    """

    timesteps: Array
    load: int
    normalize: int
    counts: int

    @property
    def total(self) -> int:
        """Cycles from accepting the command to the last count (or membrane word)."""
        return self.load + int(self.timesteps.sum()) + self.normalize + self.counts


def readout_cycles(core: CoreConfig, membrane: str | None = None) -> int:
    """Cycles of the readout after the last timestep: ``W * (1 + n_pe)`` for the counts
    (``CountReadout``), plus ``2 * W`` for the membrane words with a membrane readout
    (``MembraneReadout``, ``membrane`` ``"max"`` or ``"final"``), the consumer ready."""
    W = core.derived.neurons_per_pe
    return W * (1 + core.n_pe) + (2 * W if membrane else 0)


def work_of(core: CoreConfig, input_raster: Array | None, raster: Array
            ) -> list[TimestepWork]:
    """The per-timestep work of a sample from its input and output spike rasters
    (``SampleResult.input_raster`` and ``.raster`` of a ``record=True`` run; the input
    raster is ``None`` with current input: no input spikes)."""
    num = IntegerArithmetic(core)
    W, P, U, T = core.derived.neurons_per_pe, core.n_pe, core.stdp.update_every, core.timesteps
    if input_raster is None:
        input_raster = np.zeros((T, core.n_inputs), bool)
    x_post: Array = np.zeros(core.n_neurons, np.int64)
    pre_seen = np.zeros(core.n_inputs, bool)
    post_seen = np.zeros(core.n_neurons, bool)
    out = []
    for t in range(T):
        if t == 0 or update_due(t - 1, U, T):   # events accumulate from one update on
            pre_seen[:], post_seen[:] = False, False
        spikes = np.asarray(raster[t], dtype=bool)
        pre_seen |= np.asarray(input_raster[t], dtype=bool)
        post_seen |= spikes
        x_post = trace_step(num, x_post, spikes, core.stdp.tau_post_shift)
        post_words = post_seen.reshape(W, P).any(axis=1)
        live_words = (x_post != 0).reshape(W, P).any(axis=1) | post_words
        out.append(TimestepWork(int(np.count_nonzero(input_raster[t])),
                                int(post_words.sum()), int(live_words.sum()),
                                int(pre_seen.sum()), update_due(t, U, T),
                                bank_rows(core, input_raster[t])))
    return out


def timestep_cycles(core: CoreConfig, works: list[TimestepWork], learn: bool,
                    first: int | None = None) -> Array:
    """Clock cycles of each timestep of a sample (see the module docstring); ``first``
    the wait before timestep 0 (:func:`first_wait`; the encode pass by default)."""
    encode = encode_cycles(core)
    out, previous = [], None
    for work in works:
        main = main_cycles(core, work, learn)
        if previous is None:
            wait = encode if first is None else first
        else:
            wait = max(0, encode - previous)
        out.append(wait + 1 + main)
        previous = main
    return np.array(out, dtype=np.int64)


def sample_cycles(core: CoreConfig, input_raster: Array | None, raster: Array,
                  learn: bool, pixels: Array | None = None,
                  membrane: str | None = None, build: bool = False) -> SampleCycles:
    """Predicted cycles of a sample from its spike rasters (see :func:`work_of`); with
    current input (``input_raster`` ``None``) from its ``pixels`` too; ``membrane`` the
    core's membrane readout (``None``: counts only); ``build``: the first sample after a
    weight write (a LUT core builds its tables first, :func:`build_cycles`)."""
    learn = learn and core.stdp.learn
    W = core.derived.neurons_per_pe
    built = build_cycles(core) if build else 0
    direct = core.encoder.kind == "direct"
    steps = timestep_cycles(core, work_of(core, input_raster, raster), learn,
                            first_wait(core, pixels) + (built if direct else 0))
    N = core.n_inputs
    group = 1 + core.derived.quotient_bits + N + pass_depths(core)["rescale"]
    normalize = W * (N + core.norm_groups * group) if learn and normalizes(core) else 0
    pixel_words = core.derived.input_words if not direct else 0
    return SampleCycles(steps, 1 + pixel_words + (0 if direct else built), normalize,
                        readout_cycles(core, membrane))


def lower_bound(core: CoreConfig, work: TimestepWork, learn: bool) -> float:
    """The event-driven lower bound of a timestep the design admits: every spiking row's
    weight words, one neuron-update pass and the learning pass, spread over the lanes
    (``A * W / row_banks + W + learned words`` cycles, each word ``n_pe`` synapses wide,
    ``row_banks`` words added per cycle)."""
    W = core.derived.neurons_per_pe
    return work.active * W / core.row_banks + W + learned_words(core, work, learn)


# -- a network of layers, one core per layer (``hdl/network.py``) ---------------------------

@dataclass(frozen=True)
class NetworkSampleCycles:
    """Predicted cycles of one sample of a :class:`~.network.NetworkCore`, every time
    counted from the cycle its command is taken (cycle 0).

    Members
    -------
    step_ends : (n_layers, timesteps) int64
        The cycle of each layer's ``timestep_done`` pulse of each timestep.
    total : int
        Cycles from the command to the last layer's last count, both included.
    idle : int
        The first cycle every layer is idle again (the earliest next command).
    """

    step_ends: Array
    total: int
    idle: int

    @property
    def timesteps(self) -> Array:
        """Cycles of each of the last layer's timesteps (from the command to its first
        end, then from end to end)."""
        ends = self.step_ends[-1]
        return np.diff(np.concatenate([[0], ends]))


def network_sample_cycles(cores: list[CoreConfig] | tuple[CoreConfig, ...],
                          input_raster: Array | None, rasters: list[Array],
                          pixels: Array | None = None,
                          membrane: str | None = None,
                          build: bool = False) -> NetworkSampleCycles:
    """Predicted cycles of a sample of the layer pipeline (``NetworkCore``, learning off,
    the last layer's spike and count consumers always ready), from the input raster and
    every layer's output raster (``rasters[l]``, ``(timesteps, n_neurons_l)``); with current
    input (``input_raster`` ``None``) from the sample's ``pixels`` too.

    Each layer runs its single-core schedule (module docstring), with two couplings through
    the :class:`~.core.raster.SpikeRaster` between layers ``l`` and ``l + 1``.  In cycles
    from the command (layer ``l``: ``n_t`` its neuron pass start, ``s_t = n_t + M_t`` its
    ``timestep_done``, ``E`` its encode pass, ``A'`` ``max(Ab, 1)``, ``Dn``
    ``depth["neurons"]``)::

        n_t   = max(s_(t-1) + 1, e_t, q_t)                (n_(-1) = s_(-1) = 0)
        e_t   = max(n_(t-1) + 1, a_t) + E                 (layer 0: a_t = 0; rate input:
                                                           e_0 = 1 + C + E, C pixel words;
                                                           current input: E = 0 and
                                                           e_0 = 1 + C + X)
        w_k   = n_t + (k + 1) * A' + Dn                   (word k's spike token written)
        x_k   = max(w_k + 2, x_prev + 1, close_(t-1) + 1) (token taken; the last layer's
                                                           without the third term)
        q_t   = x_last(t-1) + 1                           (the spike queue empty; no token:
                                                           no wait)
        close_t = max(s_t, x_last(t) + 1, f_(t-1))        (the converter closes timestep t)
        a_t(l + 1) = close_t(l) + 1,  f_t = max(n_(t-1) + 1, a_t)  (raster t taken)

    (``f_(t-1)`` of layer ``l + 1``: the output register is free once layer ``l + 1`` has
    taken the previous raster.)  Layer ``l`` sends its counts after its last timestep,
    ``W_l * (1 + n_pe_l)`` cycles (the last layer with ``membrane`` then its membrane
    words: :func:`readout_cycles`); the sample's ``total`` ends with the last layer's, and
    the network is ``idle`` once every layer's have gone.  With ``build`` (the first
    sample after a weight write) a LUT layer's schedule starts :func:`build_cycles` later
    (its tables are built between the command and its first input).
    """
    L, T = len(cores), cores[0].timesteps
    inputs = [None if input_raster is None else np.asarray(input_raster, dtype=bool)] + [
        np.asarray(r, dtype=bool) for r in rasters[:-1]]
    works = [work_of(core, inputs[index], rasters[index])
             for index, core in enumerate(cores)]
    never = -(1 << 62)
    n = [[0] * T for _ in range(L)]             # neuron pass starts
    s = [[0] * T for _ in range(L)]             # timestep_done
    f = [[never] * T for _ in range(L)]         # raster t taken (direct input)
    close = [[never] * T for _ in range(L)]     # converter after layer l closes t
    last_taken = [[never] * T for _ in range(L)]  # the last spike token of t taken
    previous_token = [never] * L
    for t in range(T):
        for index, core in enumerate(cores):
            depth = pass_depths(core)
            E = encode_cycles(core)
            W, P = core.derived.neurons_per_pe, core.n_pe
            if index == 0:
                arrive = 0
            else:
                arrive = close[index - 1][t] + 1
            direct = core.encoder.kind == "direct"
            start = (1 if direct else 1 + core.derived.input_words) + \
                (build_cycles(core) if build else 0) if t == 0 else n[index][t - 1] + 1
            taken = max(start, arrive) if direct else start
            f[index][t] = taken
            encoded = taken + (first_wait(core, pixels) if t == 0 else E)
            queue = last_taken[index][t - 1] + 1 if t > 0 else never
            begin = max((s[index][t - 1] if t > 0 else 0) + 1, encoded, queue)
            n[index][t] = begin
            work = works[index][t]
            s[index][t] = begin + main_cycles(core, work, learn=False)
            spiked = np.asarray(rasters[index][t], dtype=bool).reshape(W, P).any(axis=1)
            opened = close[index][t - 1] + 1 if (t > 0 and index < L - 1) else never
            A = max(work.bank_active, 1)
            for k in np.flatnonzero(spiked):
                written = begin + (int(k) + 1) * A + depth["neurons"]
                taken_at = max(written + 2, previous_token[index] + 1, opened)
                previous_token[index] = taken_at
                last_taken[index][t] = taken_at
            if index < L - 1:
                free = f[index + 1][t - 1] if t > 0 else never
                close[index][t] = max(s[index][t], last_taken[index][t] + 1, free)
    counts = [s[index][T - 1] + readout_cycles(core, membrane if index == L - 1 else None)
              for index, core in enumerate(cores)]
    return NetworkSampleCycles(np.array(s, dtype=np.int64), counts[-1] + 1, max(counts) + 1)
