"""Tests of traces, pair STDP (floor, stochastic, soft bound) and weight normalization."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from plasticore.config import CoreConfig, NeuronConfig, StdpConfig, Widths
from plasticore.golden.arith import IntegerArithmetic
from plasticore.golden.stdp import (
    depression,
    normalize,
    potentiation,
    rounding_rand,
    stdp_update,
    trace_step,
    update_due,
    update_schedule,
    weight_change,
)


def make_core(**changes: Any) -> CoreConfig:
    """Weights and traces 4 bits (0..15), eta_post 100, eta_pre 30, eta_shift 6, floor."""
    base = CoreConfig(
        n_inputs=3, n_neurons=4, n_pe=1, timesteps=10,
        widths=Widths(weight=4, membrane=10, theta=6, trace=4),
        neuron=NeuronConfig(v_reset=0, v_th=100, w_inh=0),
        stdp=StdpConfig(tau_pre_shift=2, tau_post_shift=2, trace_mode="set", trace_add=6,
                        eta_pre=30, eta_post=100, eta_shift=6, rounding="floor",
                        w_init_max=10, norm=0),
    )
    return base.replace(**changes)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def bools(*values: int) -> np.ndarray:
    return np.array(values, dtype=bool)


# -- traces ----------------------------------------------------------------------------------


def test_trace_set_mode() -> None:
    """Decay x - ceil(x/4), then set to trace_max = 15 where spiking."""
    num = IntegerArithmetic(make_core())
    x = ints(15, 8, 1, 0, 15)
    # 15 - ((15+3)>>2) = 11; 8 - ((8+3)>>2) = 6; 1 - 1 = 0; 0 -> set 15; 15 -> 11 -> set 15
    got = trace_step(num, x, bools(0, 0, 0, 1, 1), 2)
    assert got.tolist() == [11, 6, 0, 15, 15]
    assert got.dtype == np.int64


def test_trace_add_mode() -> None:
    """Decay, then add trace_add = 6 and saturate at 15."""
    num = IntegerArithmetic(make_core(**{"stdp.trace_mode": "add"}))
    x = ints(15, 11, 10, 0, 5)
    # 15 -> 11 + 6 = 17 -> 15; 11 - ((11+3)>>2) = 8, + 6 = 14; 10 - 3 = 7, + 6 = 13;
    # 0 + 6 = 6; 5 - ((5+3)>>2) = 3 (no spike)
    assert trace_step(num, x, bools(1, 1, 1, 1, 0), 2).tolist() == [15, 14, 13, 6, 3]


def test_trace_decays_to_zero() -> None:
    """tau shift 1 from 15: 15 - 8 = 7, 7 - 4 = 3, 3 - 2 = 1, 1 - 1 = 0."""
    num = IntegerArithmetic(make_core())
    x, seq = ints(15), []
    for _ in range(5):
        x = trace_step(num, x, bools(0), 1)
        seq.append(int(x[0]))
    assert seq == [7, 3, 1, 0, 0]


# -- potentiation and depression -------------------------------------------------------------


def test_potentiation_depression_floor() -> None:
    """pot = (x_pre * 100) >> 6, dep = (x_post * 30) >> 6."""
    num = IntegerArithmetic(make_core())
    w = ints(5, 5, 5, 5)
    # 1500 >> 6 = 23 (23.44); 700 >> 6 = 10 (10.94); 0; 100 >> 6 = 1 (1.56)
    assert potentiation(num, w, ints(15, 7, 0, 1), None).tolist() == [23, 10, 0, 1]
    # 450 >> 6 = 7 (7.03); 90 >> 6 = 1 (1.41); 60 >> 6 = 0 (0.94); 0
    assert depression(num, w, ints(15, 3, 2, 0), None).tolist() == [7, 1, 0, 0]


def test_floor_rounding_ignores_draws() -> None:
    """rounding = floor: a draw passed in does not change the result."""
    num = IntegerArithmetic(make_core())
    assert potentiation(num, ints(5), ints(15), ints(0xFFFF)).tolist() == [23]


def test_potentiation_depression_stochastic() -> None:
    """r = (rand16 << 6) >> 16 = rand16 >> 10 is added before the shift."""
    num = IntegerArithmetic(make_core(**{"stdp.rounding": "stochastic"}))
    w = ints(5, 5, 5, 5)
    # 1500 = 23 * 64 + 28: up iff r >= 36, i.e. rand16 >= 36 * 1024 = 36864
    rand = ints(36863, 36864, 0, 0xFFFF)  # r = 35, 36, 0, 63
    assert potentiation(num, w, ints(15, 15, 15, 15), rand).tolist() == [23, 24, 23, 24]
    # x_post 2: 60 = 0 * 64 + 60: up iff r >= 4, i.e. rand16 >= 4096; x_post 0 never moves
    rand = ints(4095, 4096, 0, 0xFFFF)  # r = 3, 4, 0, 63
    assert depression(num, w, ints(2, 2, 2, 0), rand).tolist() == [0, 1, 0, 0]


def test_soft_bound() -> None:
    """Soft bound: shift 6 + 4 = 10; pot scaled by (15 - w), dep by w."""
    core = make_core(**{"stdp.soft_bound": True})
    assert core.derived.stdp_shift == 10
    num = IntegerArithmetic(core)
    w = ints(5, 15, 0)
    # 1500 * 10 = 15000 >> 10 = 14 (14.65); 1500 * 0 = 0; 1500 * 15 = 22500 >> 10 = 21 (21.97)
    assert potentiation(num, w, ints(15, 15, 15), None).tolist() == [14, 0, 21]
    # 450 * 5 = 2250 >> 10 = 2 (2.20); 450 * 15 = 6750 >> 10 = 6 (6.59); 0
    assert depression(num, w, ints(15, 15, 15), None).tolist() == [2, 6, 0]


def test_soft_bound_stochastic() -> None:
    """Soft bound + stochastic: r = rand16 >> 6; 15000 = 14 * 1024 + 664, up iff r >= 360."""
    num = IntegerArithmetic(make_core(**{"stdp.soft_bound": True, "stdp.rounding": "stochastic"}))
    rand = ints(23039, 23040)  # r = 359, 360 (360 * 64 = 23040)
    assert potentiation(num, ints(5, 5), ints(15, 15), rand).tolist() == [14, 15]


# -- weight change ---------------------------------------------------------------------------

# (w, x_pre, x_post, pre, post) with pot(15) = 23, pot(7) = 10, pot(1) = 1, pot(0) = 0,
# dep(15) = 7, dep(3) = 1, dep(2) = 0
CASES = [
    (14, 15, 15, 1, 1),  # a: 14 + 23 - 7 = 30 -> 15 (clip pot first, then dep: 8)
    (2, 7, 15, 1, 1),  # b: 2 + 10 - 7 = 5 (dep first, clip at 0, then pot: 10)
    (3, 15, 15, 1, 0),  # c: 3 - 7 = -4 -> 0
    (10, 15, 15, 0, 1),  # d: 10 + 23 = 33 -> 15
    (9, 15, 15, 0, 0),  # e: no event: 9
    (9, 1, 3, 1, 1),  # f: 9 + 1 - 1 = 9
    (0, 0, 15, 1, 1),  # g: 0 + 0 - 7 -> 0
    (8, 7, 2, 1, 0),  # h: 8 - 0 = 8
]


def case_arrays() -> tuple[np.ndarray, ...]:
    cols = list(zip(*CASES, strict=True))
    return (ints(*cols[0]), ints(*cols[1]), ints(*cols[2]), bools(*cols[3]), bools(*cols[4]))


def test_weight_change_exact_sum_clipped_once() -> None:
    """w = clip(w + pot - dep, 0, 15) of the exact sum."""
    num = IntegerArithmetic(make_core())
    w, x_pre, x_post, pre, post = case_arrays()
    got = weight_change(num, w, x_pre, x_post, pre, post, None)
    assert got.tolist() == [15, 5, 0, 15, 9, 9, 0, 8]


def test_weight_change_potentiation_only() -> None:
    """potentiation_only: pre events never depress."""
    num = IntegerArithmetic(make_core(**{"stdp.potentiation_only": True}))
    w, x_pre, x_post, pre, post = case_arrays()
    # a 14+23 -> 15; b 2+10 = 12; c 3; d 15; e 9; f 9+1 = 10; g 0; h 8
    got = weight_change(num, w, x_pre, x_post, pre, post, None)
    assert got.tolist() == [15, 12, 3, 15, 9, 10, 0, 8]


def test_weight_change_stochastic_shared_draw() -> None:
    """pot and dep use the same draw: w 5, x_pre 1 (100 = 1 + 36/64), x_post 2 (60/64).

    pot rounds up iff r >= 28 (rand16 >= 28672); dep iff r >= 4 (rand16 >= 4096).
    """
    num = IntegerArithmetic(make_core(**{"stdp.rounding": "stochastic"}))
    rand = ints(0, 4095, 4096, 28671, 28672)  # r = 0, 3, 4, 27, 28
    n = len(rand)
    got = weight_change(num, ints(*[5] * n), ints(*[1] * n), ints(*[2] * n),
                        bools(*[1] * n), bools(*[1] * n), rand)
    # 5+1-0, 5+1-0, 5+1-1, 5+1-1, 5+2-1
    assert got.tolist() == [6, 6, 5, 5, 6]


def test_rounding_rand() -> None:
    """rand16[j, i] = hi16(input j) ^ hi16(neuron i)."""
    got = rounding_rand(ints(0x00FF, 0xF0F0), ints(0x0F0F, 0xFFFF, 0))
    assert got.tolist() == [[0x0FF0, 0xFF00, 0x00FF], [0xFFFF, 0x0F0F, 0xF0F0]]


# -- stdp_update against the dense definition ------------------------------------------------

VARIANTS = [
    {},
    {"stdp.rounding": "stochastic"},
    {"stdp.soft_bound": True},
    {"stdp.soft_bound": True, "stdp.rounding": "stochastic", "stdp.eta_shift": 16,
     "stdp.eta_pre": 60000, "stdp.eta_post": 65535},  # total shift 20 > 16
    {"stdp.potentiation_only": True, "stdp.rounding": "stochastic"},
    {"stdp.eta_shift": 0, "stdp.eta_pre": 1, "stdp.eta_post": 1,
     "stdp.rounding": "stochastic"},
]


@pytest.mark.parametrize("variant", VARIANTS, ids=[str(v) for v in VARIANTS])
@pytest.mark.parametrize("seed", range(8))
def test_stdp_update_equals_dense(variant: dict[str, Any], seed: int) -> None:
    """The sparse/dense in-place update equals weight_change over the whole matrix."""
    core = make_core(n_inputs=7, n_neurons=5, **variant)
    num = IntegerArithmetic(core)
    stochastic = core.stdp.rounding == "stochastic"
    rng = np.random.default_rng(seed)
    n_in, n_out = 7, 5
    for trial in range(6):
        w = rng.integers(0, 16, (n_in, n_out), dtype=np.int64)
        x_pre = rng.integers(0, 16, n_in, dtype=np.int64) * (rng.random(n_in) < 0.7)
        x_post = rng.integers(0, 16, n_out, dtype=np.int64) * (rng.random(n_out) < 0.5)
        pre = rng.random(n_in) < 0.5
        # half the trials have no post event (the sparse path), half have some
        post = rng.random(n_out) < 0.4 if trial % 2 else np.zeros(n_out, bool)
        in_hi = rng.integers(0, 1 << 16, n_in, dtype=np.int64)
        n_hi = rng.integers(0, 1 << 16, n_out, dtype=np.int64)
        rand = (in_hi[:, None] ^ n_hi[None, :]) if stochastic else None
        want = weight_change(num, w.copy(), x_pre[:, None], x_post[None, :], pre[:, None],
                             post[None, :], rand)
        got = w.copy()
        out = stdp_update(num, got, x_pre, x_post, pre, post,
                          in_hi if stochastic else None, n_hi if stochastic else None)
        assert out is got  # in place
        assert np.array_equal(got, want), (trial, got, want)


def test_stdp_update_sparse_hand() -> None:
    """No post event: only rows with a pre event and columns with a live post trace change."""
    num = IntegerArithmetic(make_core())
    w = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [5, 5, 5, 5]], dtype=np.int64)
    x_post = ints(15, 0, 3, 2)  # dep 7, 0, 1, 0
    stdp_update(num, w, ints(15, 15, 15), x_post, bools(1, 0, 1), bools(0, 0, 0, 0), None, None)
    assert w.tolist() == [[0, 5, 4, 5], [5, 5, 5, 5], [0, 5, 4, 5]]


# -- normalization ---------------------------------------------------------------------------


def test_normalize_hand_example() -> None:
    """norm 25: scale = floor(25 * 2**16 / S) = floor(1638400 / S); round half up; clip 15."""
    num = IntegerArithmetic(make_core(**{"stdp.norm": 25}))
    w = np.array([[3, 1, 0, 2],
                  [3, 1, 0, 0],
                  [0, 0, 0, 1]], dtype=np.int64)
    got = normalize(num, w)
    # col 0: S = 6, scale = floor(273066.67) = 273066; 3 * 273066 + 32768 = 851966 < 13 * 65536
    #        = 851968 -> 12 (the exact 12.5 would round to 13: the floored scale matters)
    # col 1: S = 2, scale = 819200 (12.5); 819200 + 32768 = 851968 = 13 * 65536 -> 13 (half up)
    # col 2: S = 0 -> left alone
    # col 3: S = 3, scale = floor(546133.33) = 546133; w 2: 1092266 + 32768 = 1125034 -> 17
    #        (17 * 65536 = 1114112) -> clip 15; w 1: 546133 + 32768 = 578901 -> 8 (8.83)
    assert got.tolist() == [[12, 13, 0, 15],
                            [12, 13, 0, 0],
                            [0, 0, 0, 8]]
    assert got.dtype == np.int64


def test_normalize_off() -> None:
    """norm = 0 leaves the weights as they are."""
    num = IntegerArithmetic(make_core())
    w = np.array([[3, 1], [3, 15], [0, 0]], dtype=np.int64)
    assert normalize(num, w).tolist() == [[3, 1], [3, 15], [0, 0]]


def test_trace_step_accepts_integer_spike_flags() -> None:
    """0/1 integer flags mean the same as booleans (not positions)."""
    core = CoreConfig().replace(**{"stdp.tau_pre_shift": 3})
    num = IntegerArithmetic(core)
    x = np.array([100, 100, 100, 100], dtype=np.int64)
    # decay: 100 - ((100 + 7) >> 3) = 100 - 13 = 87; the spiking input is set to 255
    expected = [87, 87, 255, 87]
    assert trace_step(num, x.copy(), np.array([0, 0, 1, 0]), 3).tolist() == expected
    assert trace_step(num, x.copy(), np.array([0, 0, 1, 0], bool), 3).tolist() == expected


# -- the update schedule ---------------------------------------------------------------------


@pytest.mark.parametrize("U, T, due", [
    (1, 4, "1111"),          # every timestep
    (2, 5, "01011"),         # (t + 1) % 2 == 0, and the last timestep flushes
    (3, 6, "001001"),        # T a multiple of U: the last update is a regular one
    (3, 7, "0010011"),
    (8, 5, "00001"),         # U > T: only the flush at the end
    (4, 1, "1"),
])
def test_update_due(U: int, T: int, due: str) -> None:
    """STDP updates at (t + 1) % U == 0 and at the last timestep t = T - 1."""
    want = [c == "1" for c in due]
    assert [update_due(t, U, T) for t in range(T)] == want
    assert update_schedule(U, T).tolist() == want
