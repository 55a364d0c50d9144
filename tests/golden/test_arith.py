"""The arithmetic helpers of ``golden/arith.py`` that the policies do not cover elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from plasticore.golden.arith import exact_matmul


def test_exact_matmul_equals_the_integer_product() -> None:
    """Signed 16-bit errors times spike counts and pixels, with sums far beyond float32's
    exact range (2**24): the same as numpy's int64 product, element for element."""
    rng = np.random.default_rng(7)
    a = rng.integers(-(1 << 15), 1 << 15, size=(800, 100), dtype=np.int64)
    b = rng.integers(-255, 256, size=(100, 10), dtype=np.int64)
    got = exact_matmul(a, b)
    assert got.dtype == np.int64
    assert np.array_equal(got, a @ b)
    assert np.abs(a @ b).max() > 1 << 24
    # by hand: [[3, -2]] @ [[5], [7]] = 15 - 14
    assert exact_matmul(np.array([[3, -2]]), np.array([[5], [7]])).tolist() == [[1]]


def test_exact_matmul_refuses_what_float64_cannot_hold() -> None:
    """Operands whose sums could pass 2**53 are refused rather than rounded."""
    big = np.full((1, 4), 1 << 26, dtype=np.int64)
    with pytest.raises(ValueError, match="2\\*\\*53"):
        exact_matmul(big, big.T)
    assert exact_matmul(big[:, :1] >> 1, big.T[:1] >> 1).tolist() == [[1 << 50]]
