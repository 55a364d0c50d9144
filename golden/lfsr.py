"""The random generators: one xorshift32 linear-feedback generator per input and per neuron.

Definition (``docs/numerics.md``, "Generators"), shared bit for bit with ``hdl/lfsr.py``:

- Step: Marsaglia's xorshift32, ``x ^= x << 13; x ^= x >> 17; x ^= x << 5`` on a 32-bit word.
  It is linear over GF(2) (an LFSR in matrix form) with period ``2**32 - 1``; 0 is excluded.
- Base states: ``base(seed, stream, index)`` is the high half of SplitMix64 applied to
  ``seed << 32 | stream << 20 | index`` (a zero result becomes 1).  Stream 0 holds one
  generator per input, stream 1 one per neuron.  The RTL holds the base states in a ROM.
- Per-sample reseed: at the start of a sample with 32-bit key ``k`` every generator restarts
  from ``start = (base + k * 0x9E3779B9) mod 2**32`` (0 becomes 1).  A sample's spikes
  therefore depend only on its pixels, the config seed and its key, never on the samples
  before it, so samples can be simulated in any order and in batches.
- Timestep ``t`` (0-based) of a sample uses the state after ``t + 1`` steps: every generator
  steps once at the start of every timestep, whether or not its value is used.
- A state's low 16 bits draw the encoder spike, its high 16 bits the stochastic rounding.

Because the step is linear, ``step^t(a ^ b) = step^t(a) ^ step^t(b)``: :class:`JumpTable`
precomputes ``step^t`` of every byte value in every byte position once per ``T`` and then
advances whole batches of generators over all ``T`` timesteps with four table look-ups,
instead of a Python loop over time.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]        # one generator state per element (STATE_BITS = 32)

#: Width of a generator's state word (the encoder's draw is its low, the rounding draw its
#: high ``ROUNDING_RAND_BITS``; ``hdl/lfsr.py`` builds the same word).
STATE_BITS = 32
#: Shift amounts of the xorshift32 step: left, right, left.
XORSHIFT_SHIFTS = (13, 17, 5)
#: Multiplier that spreads a sample key over the 32-bit state (2**32 / golden ratio).
KEY_MULTIPLIER = 0x9E3779B9
#: Generator streams.
STREAM_INPUT = 0
STREAM_NEURON = 1
#: Indices per stream (``index < 2**20``).
INDEX_BITS = 20

_MASK = np.uint64((1 << STATE_BITS) - 1)
_BYTES = STATE_BITS // 8

__all__ = [
    "STATE_BITS",
    "XORSHIFT_SHIFTS",
    "KEY_MULTIPLIER",
    "STREAM_INPUT",
    "STREAM_NEURON",
    "step",
    "base_states",
    "start_states",
    "JumpTable",
    "jump_table",
    "SampleStates",
]


def step(x: U32) -> U32:
    """One xorshift32 step of every state in ``x`` (``uint32``: shifts drop the bits past
    :data:`STATE_BITS`)."""
    a, b, c = XORSHIFT_SHIFTS
    x = np.asarray(x, dtype=np.uint32)
    x = x ^ (x << np.uint32(a))
    x = x ^ (x >> np.uint32(b))
    return x ^ (x << np.uint32(c))


def _splitmix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def base_states(seed: int, stream: int, count: int) -> U32:
    """Base states of generators ``0..count-1`` of ``stream`` (``uint32``, never 0)."""
    if not 0 <= count <= 1 << INDEX_BITS:
        raise ValueError(f"generator count {count!r} exceeds 2**{INDEX_BITS}")
    key = (np.uint64(seed) << np.uint64(32)) | (np.uint64(stream) << np.uint64(INDEX_BITS))
    z = _splitmix64(key | np.arange(count, dtype=np.uint64))
    states = (z >> np.uint64(64 - STATE_BITS)).astype(np.uint32)
    states[states == 0] = 1
    return states


def start_states(base: U32, keys: npt.ArrayLike) -> U32:
    """States at the start of samples with ``keys``: shape ``keys.shape + base.shape``."""
    k = np.asarray(keys, dtype=np.uint64)
    mix = (k * np.uint64(KEY_MULTIPLIER)) & _MASK
    s = (base.astype(np.uint64)[None, ...] + mix.reshape(-1, *([1] * base.ndim))) & _MASK
    s = s.astype(np.uint32).reshape(k.shape + base.shape)
    s[s == 0] = 1
    return s


class JumpTable:
    """``step^t`` for ``t = 1..timesteps``, as byte tables: ``table[p, v, t-1]``.

    ``table[p, v, t-1] = step^t(v << 8p)``; by linearity ``step^t(x)`` is the XOR of the
    entries for the ``STATE_BITS / 8`` bytes of ``x``.  Time is the last (contiguous) axis,
    so a look-up copies a whole run of states at once.
    """

    def __init__(self, timesteps: int):
        self.timesteps = timesteps
        basis = (np.arange(256, dtype=np.uint32)[None, :]
                 << (np.uint32(8) * np.arange(_BYTES, dtype=np.uint32)[:, None]))
        table = np.empty((_BYTES, 256, timesteps), dtype=np.uint32)
        x = basis
        for t in range(timesteps):
            x = step(x)
            table[:, :, t] = x
        self.table = table

    def run(self, start: U32) -> U32:
        """States for timesteps ``0..T-1`` of generators started at ``start``.

        ``start`` has any shape ``S``; the result has shape ``S[:-1] + (T,) + S[-1:]``
        (time goes before the last, per-generator axis).
        """
        start = np.asarray(start, dtype=np.uint32)
        out = self.table[0][start & np.uint32(0xFF)]                       # S + (T,)
        for p in range(1, _BYTES):
            out ^= self.table[p][(start >> np.uint32(8 * p)) & np.uint32(0xFF)]
        return np.swapaxes(out, -1, -2)


@functools.lru_cache(maxsize=8)
def jump_table(timesteps: int) -> JumpTable:
    """Shared :class:`JumpTable` for ``timesteps`` (built once per process)."""
    return JumpTable(timesteps)


class SampleStates:
    """The generator states of one sample: its inputs' and its neurons' (``docs/numerics.md``,
    "Generators"), for timesteps ``0 .. timesteps - 1``.

    Members
    -------
    inputs : (timesteps, n_inputs) uint32
        Computed at once (the encoder draws from them).
    neurons : (timesteps, n_neurons) uint32
        Computed when first read (only stochastic rounding uses them).
    """

    def __init__(self, input_base: U32, neuron_base: U32, key: int, timesteps: int):
        self._table = jump_table(timesteps)
        self._neuron_base = neuron_base
        self._key = key
        self.inputs: U32 = self._table.run(start_states(input_base, key))

    @functools.cached_property
    def neurons(self) -> U32:
        return self._table.run(start_states(self._neuron_base, self._key))
