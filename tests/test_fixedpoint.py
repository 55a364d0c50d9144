"""Tests of the fixed-point helpers against hand values from docs/numerics.md."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plasticore.fixedpoint import (
    decay_multiply,
    decay_shift,
    decay_shift_unsigned,
    round_shift,
    saturate,
    shr_floor,
    signed_range,
    unsigned_range,
)

INT64 = st.integers(-(2**63), 2**63 - 1)
# Decay operands small enough that d + 2**shift and d * q never approach 2**63.
STATE = st.integers(-(2**40), 2**40)


def trunc_fraction(x: Fraction) -> int:
    """Round a rational toward zero (independent of numpy)."""
    return int(x)  # int() of a Fraction truncates toward zero


def as_int(x) -> int:
    """A 0-d numpy result (or Python int) as a Python int."""
    return int(np.asarray(x))


# -- ranges and saturate ---------------------------------------------------------------------


def test_ranges() -> None:
    """Word ranges: 8-bit signed -128..127, 8-bit unsigned 0..255, 1-bit signed -1..0."""
    assert signed_range(8) == (-128, 127)
    assert unsigned_range(8) == (0, 255)
    assert signed_range(1) == (-1, 0)
    assert unsigned_range(1) == (0, 1)


def test_saturate_hand_values() -> None:
    """Clamp, never wrap: 200 in signed 8 bits is 127 (wrap would give -56)."""
    x = np.array([200, -200, 127, -128, 128, -129, 0, 5], dtype=np.int64)
    assert saturate(x, 8, signed=True).tolist() == [127, -128, 127, -128, 127, -128, 0, 5]
    # unsigned 8 bits: 0..255
    assert saturate(x, 8, signed=False).tolist() == [200, 0, 127, 0, 128, 0, 0, 5]
    assert as_int(saturate(256, 8, signed=False)) == 255
    assert as_int(saturate(-1, 4, signed=False)) == 0


@given(bits=st.integers(1, 24), signed=st.booleans(), x=INT64)
def test_saturate_in_range(bits: int, signed: bool, x: int) -> None:
    """Any int64 lands inside the word, unchanged if it was already inside."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    y = as_int(saturate(np.int64(x), bits, signed))
    assert lo <= y <= hi
    assert y == min(max(x, lo), hi)


# -- shr_floor -------------------------------------------------------------------------------


def test_shr_floor_hand_values() -> None:
    """Arithmetic shift floors toward minus infinity: -5 >> 1 = floor(-2.5) = -3."""
    x = np.array([5, -5, -1, 1, -8, 7, 0], dtype=np.int64)
    # 5/2=2.5->2, -5/2=-2.5->-3, -1/2->-1, 1/2->0, -8/2=-4, 7/2=3.5->3
    assert shr_floor(x, 1).tolist() == [2, -3, -1, 0, -4, 3, 0]
    # -1 >> 10 stays -1 (floor(-1/1024) = -1); -1024 >> 10 = -1; -1025 >> 10 = floor(-1.0009) = -2
    assert shr_floor(np.array([-1, -1024, -1025]), 10).tolist() == [-1, -1, -2]


# -- decay_shift -----------------------------------------------------------------------------


def test_decay_shift_hand_values() -> None:
    """trunc(d * (1 - 2**-k)) via d - ((d + (2**k - 1 if d > 0 else 0)) >> k)."""
    # k = 3: 100 - ((100 + 7) >> 3) = 100 - 13 = 87 (= trunc(87.5))
    assert as_int(decay_shift(100, 3)) == 87
    # k = 3: -100 - (-100 >> 3) = -100 - (-13) = -87 (= trunc(-87.5))
    assert as_int(decay_shift(-100, 3)) == -87
    # 1 - ((1 + 2**k - 1) >> k) = 1 - 1 = 0; -1 - (-1 >> k) = -1 - (-1) = 0
    for k in (1, 4, 16):
        assert as_int(decay_shift(1, k)) == 0
        assert as_int(decay_shift(-1, k)) == 0
        assert as_int(decay_shift(0, k)) == 0


@pytest.mark.parametrize("k", [1, 2, 5, 7, 12])
def test_decay_shift_around_power_of_two(k: int) -> None:
    """Values at and next to 2**k, both signs."""
    p = 1 << k
    d = np.array([p - 1, p, p + 1, -(p - 1), -p, -(p + 1)], dtype=np.int64)
    expected = [
        p - 2,  # (p-1) - ((2p-2) >> k) = (p-1) - 1        (k >= 1: 2p-2 < 2p)
        p - 1,  # p - ((2p-1) >> k) = p - 1
        p - 1,  # (p+1) - ((2p) >> k) = p + 1 - 2
        -p + 2,  # -(p-1) - floor(-(p-1)/p) = -(p-1) + 1
        -p + 1,  # -p - (-1)
        -p + 1,  # -(p+1) - floor(-(p+1)/p) = -(p+1) + 2
    ]
    assert decay_shift(d, k).tolist() == expected


@given(d=STATE, k=st.integers(1, 16))
def test_decay_shift_is_trunc(d: int, k: int) -> None:
    """The written formula equals trunc(d * (1 - 2**-k)) computed with exact rationals."""
    assert as_int(decay_shift(np.int64(d), k)) == trunc_fraction(d * (1 - Fraction(1, 2**k)))


@given(d=STATE, k=st.integers(1, 16))
def test_decay_shift_contracts(d: int, k: int) -> None:
    """|decay(d)| <= |d|, same sign or zero, and a non-zero d moves at least one LSB."""
    y = as_int(decay_shift(np.int64(d), k))
    assert abs(y) <= abs(d)
    assert y == 0 or (y > 0) == (d > 0)
    if d != 0:
        assert abs(y) <= abs(d) - 1


@settings(max_examples=60, deadline=None)
@given(d=st.integers(-(2**20), 2**20), k=st.integers(1, 6))
def test_decay_shift_reaches_zero(d: int, k: int) -> None:
    """Repeated decay reaches exactly 0 within bit_length(|d|) * 2**k steps.

    Every 2**k steps shrink |d| by at least (1 - 2**-k)**(2**k) < 1/e < 1/2 (trunc only
    shrinks further), so |d| < 2**b reaches |d| < 1 after b * 2**k steps.  Below 2**k the
    decay is linear: |d| <= 2**k steps take exactly |d| steps.
    """
    bound = abs(d).bit_length() * (1 << k)
    x, steps = np.int64(d), 0
    while x != 0:
        x = decay_shift(x, k)
        steps += 1
        assert steps <= bound
    if abs(d) <= 1 << k:
        assert steps == abs(d)


@given(x=st.integers(0, 2**40), k=st.integers(1, 16))
def test_decay_shift_unsigned_matches(x: int, k: int) -> None:
    """decay_shift_unsigned equals decay_shift for x >= 0."""
    assert as_int(decay_shift_unsigned(np.int64(x), k)) == as_int(decay_shift(np.int64(x), k))


def test_decay_shift_unsigned_exhaustive_small() -> None:
    """All x in 0..1023 for every k in 1..12, as arrays."""
    x = np.arange(1024, dtype=np.int64)
    for k in range(1, 13):
        assert np.array_equal(decay_shift_unsigned(x, k), decay_shift(x, k))


# -- decay_multiply --------------------------------------------------------------------------


def test_decay_multiply_hand_values() -> None:
    """trunc(d * q / 2**f) via (d * q + (2**f - 1 if d < 0 else 0)) >> f."""
    # q/2**f = 3/4: 100 -> 300 >> 2 = 75; 101 -> 303 >> 2 = 75 (75.75)
    assert as_int(decay_multiply(100, 3, 2)) == 75
    assert as_int(decay_multiply(101, 3, 2)) == 75
    # -100 -> (-300 + 3) >> 2 = floor(-74.25) = -75 (= trunc(-75))
    assert as_int(decay_multiply(-100, 3, 2)) == -75
    # -101 -> (-303 + 3) >> 2 = -75 (= trunc(-75.75)); plain floor would give -76
    assert as_int(decay_multiply(-101, 3, 2)) == -75
    # 5/8: -1 -> (-5 + 7) >> 3 = 0; -3 -> (-15 + 7) >> 3 = -1 (trunc(-1.875))
    assert as_int(decay_multiply(-1, 5, 3)) == 0
    assert as_int(decay_multiply(-3, 5, 3)) == -1
    # default-like factor 64880/65536: 1000 * 64880 = 64880000, >> 16 = 989 (989.99)
    assert as_int(decay_multiply(1000, 64880, 16)) == 989
    assert as_int(decay_multiply(-1000, 64880, 16)) == -989


@pytest.mark.parametrize("frac", [1, 4, 16, 17])
def test_decay_multiply_identity_and_zero(frac: int) -> None:
    """q = 2**frac keeps every value; q = 0 sends every value to 0."""
    d = np.array([-(2**23), -12345, -1, 0, 1, 777, 2**23 - 1], dtype=np.int64)
    assert np.array_equal(decay_multiply(d, 1 << frac, frac), d)
    assert decay_multiply(d, 0, frac).tolist() == [0] * len(d)


@given(d=STATE, frac=st.integers(1, 17), data=st.data())
def test_decay_multiply_is_trunc(d: int, frac: int, data: st.DataObject) -> None:
    """Equals trunc(d * q / 2**f) exactly; |result| <= |d|, same sign or zero."""
    q = data.draw(st.integers(0, 1 << frac))
    y = as_int(decay_multiply(np.int64(d), q, frac))
    assert y == trunc_fraction(Fraction(d * q, 2**frac))
    assert abs(y) <= abs(d)
    assert y == 0 or (y > 0) == (d > 0)


@settings(max_examples=60, deadline=None)
@given(d=st.integers(-(2**20), 2**20), frac=st.integers(1, 6), data=st.data())
def test_decay_multiply_reaches_zero(d: int, frac: int, data: st.DataObject) -> None:
    """With q < 2**f, |d_n| <= |d| q**n / 2**(f n), so d_n = 0 once |d| q**n < 2**(f n)."""
    q = data.draw(st.integers(0, (1 << frac) - 1))
    bound = 0
    while abs(d) * q**bound >= 2 ** (frac * bound):
        bound += 1
    x, steps = np.int64(d), 0
    while x != 0:
        x = decay_multiply(x, q, frac)
        steps += 1
        assert steps <= bound


# -- round_shift -----------------------------------------------------------------------------


def test_round_shift_floor() -> None:
    """Floor: 13 >> 2 = 3 (3.25), 15 >> 2 = 3 (3.75), 16 >> 2 = 4; shift 0 is identity."""
    x = np.array([13, 15, 16, 0, 1], dtype=np.int64)
    assert round_shift(x, 2, None).tolist() == [3, 3, 4, 0, 0]
    assert round_shift(x, 0, None).tolist() == [13, 15, 16, 0, 1]


def test_round_shift_stochastic_hand_values() -> None:
    """r = (rand16 << s) >> 16 is added before the shift."""
    # s = 2, x = 13 (3.25): rounds up iff r = rand16 >> 14 >= 3, i.e. rand16 >= 0xC000
    assert as_int(round_shift(13, 2, 0xBFFF)) == 3  # r = 0x2FFFC >> 16 = 2, 15 >> 2 = 3
    assert as_int(round_shift(13, 2, 0xC000)) == 4  # r = 0x30000 >> 16 = 3, 16 >> 2 = 4
    assert as_int(round_shift(13, 2, 0)) == 3  # r = 0
    assert as_int(round_shift(13, 2, 0xFFFF)) == 4  # r = 3
    # an exact multiple never rounds up: 16 + 3 = 19 >> 2 = 4
    assert as_int(round_shift(16, 2, 0xFFFF)) == 4
    # s = 6, x = 1500 (23.4375 = 23 + 28/64): r = rand16 >> 10; up iff r >= 36 (rand16 >= 36864)
    assert as_int(round_shift(1500, 6, 36863)) == 23  # r = 35, 1535 >> 6 = 23
    assert as_int(round_shift(1500, 6, 36864)) == 24  # r = 36, 1536 >> 6 = 24
    # s = 20 (> 16): r = (rand16 << 20) >> 16 = rand16 * 16; x = 2**19 (0.5)
    # rand16 = 0x8000 -> r = 2**19, 2**20 >> 20 = 1; rand16 = 0x7FFF -> r = 2**19 - 16 -> 0
    assert as_int(round_shift(2**19, 20, 0x8000)) == 1
    assert as_int(round_shift(2**19, 20, 0x7FFF)) == 0
    # elementwise with an array of draws
    rand = np.array([0, 0x4000, 0x8000, 0xC000], dtype=np.int64)
    # x = 1 with s = 2 (0.25): r = rand >> 14 = [0, 1, 2, 3] -> up only for r = 3
    assert round_shift(np.ones(4, np.int64), 2, rand).tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("shift", [0, 1, 2, 5, 11, 15, 16])
@pytest.mark.parametrize("x", [0, 1, 3, 13, 1000, 65535, 123457])
def test_round_shift_stochastic_exact_mean(x: int, shift: int) -> None:
    """Averaged over all 65536 draws, stochastic rounding gives exactly x / 2**shift."""
    rand = np.arange(1 << 16, dtype=np.int64)
    total = int(round_shift(np.full(1 << 16, x, np.int64), shift, rand).sum())
    assert Fraction(total, 1 << 16) == Fraction(x, 1 << shift)


@given(x=st.integers(0, 2**40), shift=st.integers(0, 24), rand=st.integers(0, 2**16 - 1))
def test_round_shift_is_floor_or_ceil(x: int, shift: int, rand: int) -> None:
    """Stochastic rounding gives floor or ceil of x / 2**shift, floor mode gives floor."""
    lo = x >> shift
    hi = -((-x) >> shift)
    assert as_int(round_shift(np.int64(x), shift, None)) == lo
    assert as_int(round_shift(np.int64(x), shift, np.int64(rand))) in (lo, hi)
