"""Tests of the xorshift32 generators, base states, per-sample reseed and jump tables."""

from __future__ import annotations

import numpy as np
import pytest

from plasticore.golden.lfsr import (
    KEY_MULTIPLIER,
    STREAM_INPUT,
    STREAM_NEURON,
    JumpTable,
    SampleStates,
    base_states,
    jump_table,
    start_states,
    step,
)

MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


def xorshift32_ref(x: int) -> int:
    """Marsaglia's xor32 on Python ints: x ^= x << 13; x ^= x >> 17; x ^= x << 5."""
    x ^= (x << 13) & MASK32
    x ^= x >> 17
    x ^= (x << 5) & MASK32
    return x


def splitmix64_ref(z: int) -> int:
    """SplitMix64 output for state z (Steele, Lea, Flood 2014), on Python ints."""
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def u32(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.uint32)


# -- step ------------------------------------------------------------------------------------


def test_step_published_values() -> None:
    """Marsaglia (2003), xor32: from 2463534242 the first output is 723471715."""
    assert int(step(u32(2463534242))[0]) == 723471715
    assert xorshift32_ref(2463534242) == 723471715


def test_step_from_one() -> None:
    """From 1: 1 ^ 1<<13 = 8193; 8193 >> 17 = 0; 8193 ^ 8193<<5 = 0x2001 ^ 0x40020 = 270369."""
    assert int(step(u32(1))[0]) == 270369


def test_step_keeps_32_bits_and_never_zero() -> None:
    """Bits shifted past bit 31 are dropped; the top bit state maps to a non-zero state."""
    # x = 2**31: x << 13 drops out, x ^= x >> 17 = 2**31 | 2**14, then ^ (that << 5) on 32 bits:
    # (2**31 | 2**14) << 5 = 2**19 (2**36 dropped) -> 2**31 | 2**19 | 2**14
    assert int(step(u32(1 << 31))[0]) == (1 << 31) | (1 << 19) | (1 << 14)
    x = base_states(7, STREAM_INPUT, 64)
    for _ in range(50):
        x = step(x)
        assert x.dtype == np.uint32
        assert np.all(x != 0)


def test_step_vectorized() -> None:
    """Arrays step elementwise like the Python reference."""
    states = [1, 2, 3, 0xDEADBEEF, MASK32, 2463534242]
    assert step(u32(*states)).tolist() == [xorshift32_ref(s) for s in states]


# -- base states -----------------------------------------------------------------------------


def test_base_state_splitmix_published() -> None:
    """SplitMix64 seeded with 0 first returns 0xE220A8397B1DCDAF; base(0, 0, 0) is its top half."""
    assert splitmix64_ref(0) == 0xE220A8397B1DCDAF
    assert int(base_states(0, STREAM_INPUT, 1)[0]) == 0xE220A839


@pytest.mark.parametrize(("seed", "stream"), [(0, 0), (0, 1), (1, 0), (12345, 1),
                                              (2**32 - 1, 1)])
def test_base_states_formula(seed: int, stream: int) -> None:
    """base = hi32(SplitMix64(seed << 32 | stream << 20 | index)), 0 -> 1."""
    got = base_states(seed, stream, 20)
    want = [(splitmix64_ref(seed << 32 | stream << 20 | i) >> 32) or 1 for i in range(20)]
    assert got.dtype == np.uint32
    assert got.tolist() == want


def test_base_states_properties() -> None:
    """Non-zero, deterministic, distinct per stream and index; a prefix is stable."""
    a = base_states(3, STREAM_INPUT, 256)
    b = base_states(3, STREAM_NEURON, 256)
    assert np.all(a != 0) and np.all(b != 0)
    assert np.array_equal(a, base_states(3, STREAM_INPUT, 256))
    assert len(set(a.tolist()) | set(b.tolist())) == 512
    assert np.array_equal(base_states(3, STREAM_INPUT, 10), a[:10])
    assert not np.array_equal(base_states(4, STREAM_INPUT, 256), a)
    assert base_states(3, STREAM_INPUT, 0).shape == (0,)


def test_base_states_count_limit() -> None:
    """At most 2**20 generators per stream."""
    with pytest.raises(ValueError):
        base_states(0, STREAM_INPUT, (1 << 20) + 1)


# -- start states ----------------------------------------------------------------------------


def test_start_states_hand_example() -> None:
    """start = (base + key * 0x9E3779B9) mod 2**32."""
    assert KEY_MULTIPLIER == 0x9E3779B9
    base = u32(5, 0xFFFFFFFF)
    got = start_states(base, [0, 1, 2])
    assert got.shape == (3, 2)
    assert got.dtype == np.uint32
    assert got[0].tolist() == [5, 0xFFFFFFFF]  # key 0: unchanged
    # key 1: 5 + 0x9E3779B9 = 0x9E3779BE; 0xFFFFFFFF + 0x9E3779B9 = 0x19E3779B8 -> 0x9E3779B8
    assert got[1].tolist() == [0x9E3779BE, 0x9E3779B8]
    # key 2: 2 * 0x9E3779B9 = 0x13C6EF372 -> 0x3C6EF372; + 5 = 0x3C6EF377;
    # + 0xFFFFFFFF = 0x13C6EF371 -> 0x3C6EF371
    assert got[2].tolist() == [0x3C6EF377, 0x3C6EF371]


def test_start_states_zero_becomes_one() -> None:
    """A base that makes the sum exactly 2**32 (0 mod 2**32) starts at 1 instead."""
    # 0x61C88647 + 0x9E3779B9 = 0x100000000 -> 0 -> 1
    base = u32(0x61C88647, 0x61C88648)
    assert start_states(base, 1).tolist() == [1, 1]  # second: 0x100000001 -> 1 (no rule needed)
    # key 2**32 - 1: (2**32 - 1) * M = -M mod 2**32 = 0x61C88647; base M makes the sum 0 -> 1
    assert start_states(u32(0x9E3779B9, 0x9E3779BA), 2**32 - 1).tolist() == [1, 1]
    # the same rule with base 0x61C88646: sum 0xFFFFFFFF is left alone
    assert start_states(u32(0x61C88646), 1).tolist() == [0xFFFFFFFF]


def test_start_states_shapes() -> None:
    """Shape is keys.shape + base.shape; a scalar key gives base.shape."""
    base = base_states(1, STREAM_NEURON, 5)
    assert start_states(base, 7).shape == (5,)
    assert start_states(base, np.arange(4)).shape == (4, 5)
    keys = np.arange(6).reshape(2, 3)
    out = start_states(base, keys)
    assert out.shape == (2, 3, 5)
    want = [[[((int(b) + int(k) * 0x9E3779B9) & MASK32) or 1 for b in base] for k in row]
            for row in keys]
    assert out.tolist() == want


# -- jump table ------------------------------------------------------------------------------


def stepped(start: np.ndarray, timesteps: int) -> list[list[int]]:
    """States after 1..T steps of each generator, by the Python reference: (T, n)."""
    out, x = [], [int(s) for s in start]
    for _ in range(timesteps):
        x = [xorshift32_ref(s) for s in x]
        out.append(x)
    return out


def test_jump_table_1d() -> None:
    """run((n,)) has shape (T, n); row t is the state after t + 1 steps."""
    T = 17
    start = base_states(9, STREAM_INPUT, 6)
    got = JumpTable(T).run(start)
    assert got.shape == (T, 6)
    assert got.dtype == np.uint32
    assert got.tolist() == stepped(start, T)
    # the first row is one step of lfsr.step
    assert np.array_equal(got[0], step(start))


def test_jump_table_2d_and_3d() -> None:
    """run((B, n)) -> (B, T, n); run((A, B, n)) -> (A, B, T, n)."""
    T = 9
    start = start_states(base_states(2, STREAM_NEURON, 4), np.arange(3))  # (3, 4)
    got = JumpTable(T).run(start)
    assert got.shape == (3, T, 4)
    for b in range(3):
        assert got[b].tolist() == stepped(start[b], T)
    start3 = start.reshape(1, 3, 4).repeat(2, axis=0)
    start3[1] = step(start3[1])  # make the two planes differ
    got3 = JumpTable(T).run(start3)
    assert got3.shape == (2, 3, T, 4)
    for a in range(2):
        for b in range(3):
            assert got3[a, b].tolist() == stepped(start3[a, b], T)


def test_jump_table_edge_states() -> None:
    """All-ones, single-bit and byte-boundary states (every byte position of the table)."""
    start = u32(1, 0x100, 0x10000, 0x1000000, 0x80000000, MASK32, 0x01020304)
    assert JumpTable(5).run(start).tolist() == stepped(start, 5)


def test_jump_table_cached() -> None:
    """jump_table(T) is built once per T."""
    assert jump_table(11) is jump_table(11)
    assert jump_table(11).timesteps == 11
    assert jump_table(11).table.shape == (4, 256, 11)   # byte position, byte, time


# -- a sample's states ------------------------------------------------------------------------


def test_sample_states() -> None:
    """Timestep t of a sample with key k sees its generators t + 1 steps after the reseed,
    inputs and neurons alike (the neurons' computed only when asked for)."""
    T, key = 7, 12345
    inputs, neurons = base_states(4, STREAM_INPUT, 5), base_states(4, STREAM_NEURON, 3)
    states = SampleStates(inputs, neurons, key, T)
    assert states.inputs.shape == (T, 5) and states.inputs.dtype == np.uint32
    assert states.inputs.tolist() == stepped(start_states(inputs, key), T)
    assert "neurons" not in vars(states)
    assert states.neurons.tolist() == stepped(start_states(neurons, key), T)
    assert states.neurons is states.neurons

