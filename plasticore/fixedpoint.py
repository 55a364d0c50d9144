"""Integer helpers of the fixed-point numerics, shared by the golden model and the tests.

All functions take and return ``np.int64`` arrays (or Python ints) and are exact: nothing
here wraps, every rounding is named.  ``docs/numerics.md`` defines each in words; the RTL
implements the same definitions in Amaranth.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .config import ROUNDING_RAND_BITS

IntArray = npt.NDArray[np.int64]
ArrayLike = IntArray | int

__all__ = [
    "signed_range",
    "unsigned_range",
    "saturate",
    "shr_floor",
    "decay_shift",
    "decay_shift_unsigned",
    "decay_multiply",
    "round_shift",
    "rounding_offset",
]


def signed_range(bits: int) -> tuple[int, int]:
    """``(min, max)`` of a two's complement word of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unsigned_range(bits: int) -> tuple[int, int]:
    """``(0, max)`` of an unsigned word of ``bits`` bits."""
    return 0, (1 << bits) - 1


def saturate(x: ArrayLike, bits: int, signed: bool) -> ArrayLike:
    """Clamp ``x`` to the range of a ``bits``-bit word (saturation, never wrap-around)."""
    lo, hi = signed_range(bits) if signed else unsigned_range(bits)
    return np.clip(x, lo, hi)


def shr_floor(x: ArrayLike, n: int) -> ArrayLike:
    """Arithmetic right shift: ``floor(x / 2**n)`` (toward minus infinity, as ``>>>``)."""
    return np.right_shift(x, n)


def decay_shift(d: ArrayLike, shift: int) -> ArrayLike:
    """Shift-mode decay: ``trunc(d * (1 - 2**-shift))``, rounded toward zero.

    Written as ``d - ((d + (2**shift - 1 if d > 0 else 0)) >> shift)``: the decrement is
    rounded away from zero, so any non-zero ``d`` moves at least one LSB toward zero and a
    decaying state always reaches its rest value.  ``|result| <= |d|``; never overflows.
    """
    bias = np.where(np.greater(d, 0), (1 << shift) - 1, 0)
    return d - np.right_shift(d + bias, shift)


def decay_shift_unsigned(x: ArrayLike, shift: int) -> ArrayLike:
    """:func:`decay_shift` of a non-negative ``x``: ``x - ((x + 2**shift - 1) >> shift)``.

    The same function on ``x >= 0`` (for ``x = 0`` both give 0), with one comparison less.
    """
    return x - np.right_shift(x + ((1 << shift) - 1), shift)


def decay_multiply(d: ArrayLike, q: int, frac: int) -> ArrayLike:
    """Multiply-mode decay: ``trunc(d * q / 2**frac)``, rounded toward zero.

    Written as ``(d * q + (2**frac - 1 if d < 0 else 0)) >> frac``.  With
    ``0 <= q <= 2**frac`` the result satisfies ``|result| <= |d|``.
    """
    prod = np.multiply(d, q)
    bias = np.where(np.less(d, 0), (1 << frac) - 1, 0)
    result: ArrayLike = np.right_shift(prod + bias, frac)
    return result


def round_shift(x: ArrayLike, shift: int, rand16: ArrayLike | None) -> ArrayLike:
    """``x / 2**shift`` for ``x >= 0``, floor (``rand16 is None``) or stochastic.

    Stochastic rounding adds ``r = (rand16 << shift) >> 16`` (uniform in ``[0, 2**shift)``
    with 16 bits of resolution, ``rand16`` uniform in ``[0, 2**16)``; 16 is
    ``ROUNDING_RAND_BITS``) before the shift, so the result rounds up with probability equal
    to the shifted-out fraction (exactly when ``shift <= 16``).
    """
    if rand16 is None or shift == 0:
        return np.right_shift(x, shift)
    return np.right_shift(x + rounding_offset(rand16, shift), shift)


def rounding_offset(rand16: ArrayLike, shift: int) -> ArrayLike:
    """The stochastic-rounding addend ``(rand16 << shift) >> 16`` of :func:`round_shift`
    (``rand16`` a ``ROUNDING_RAND_BITS``-bit draw, 16 bits).

    It is bitwise-linear: ``offset(a ^ b) == offset(a) ^ offset(b)`` (a shift distributes
    over XOR), which lets the network precompute the offsets of every input and neuron
    generator instead of every synapse's.
    """
    return np.right_shift(np.left_shift(rand16, shift), ROUNDING_RAND_BITS)
