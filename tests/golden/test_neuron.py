"""Tests of the LIF neuron, adaptive threshold and inhibition, hand-computed step by step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from plasticore.config import CoreConfig, NeuronConfig, StdpConfig, Widths
from plasticore.golden.arith import IntegerArithmetic
from plasticore.golden.neuron import adapt_threshold, inhibition, lif_step


def make_core(**changes: Any) -> CoreConfig:
    """Membrane 10 bits (-512..511), theta 6 bits (0..63), shift leak 2, threshold 100."""
    base = CoreConfig(
        n_inputs=3, n_neurons=3, n_pe=1, timesteps=10,
        widths=Widths(weight=4, membrane=10, theta=6, trace=4),
        neuron=NeuronConfig(v_rest=0, v_reset=-7, v_th=100, leak_mode="shift", leak_shift=2,
                            t_ref=0, theta_plus=0, theta_decay_shift=0, w_inh=0),
        stdp=StdpConfig(trace_add=15, w_init_max=10, norm=0),
    )
    return base.replace(**changes)


def run(core: CoreConfig, currents: list[list[int]], inhibs: list[list[int]] | None = None,
        theta: list[int] | None = None, v0: list[int] | None = None
        ) -> tuple[list[list[int]], list[list[int]], list[list[bool]]]:
    """Drive lif_step for len(currents) timesteps; membrane, refractory and spikes per step."""
    num = IntegerArithmetic(core)
    n = len(currents[0])
    v = np.array(v0 if v0 is not None else [core.neuron.v_rest] * n, dtype=np.int64)
    r = np.zeros(n, np.int64)
    th = np.array(theta if theta is not None else [0] * n, dtype=np.int64)
    vs, rs, zs = [], [], []
    for t, cur in enumerate(currents):
        h = np.zeros(n, np.int64) if inhibs is None else np.array(inhibs[t], np.int64)
        v, r, z = lif_step(num, v, r, th, np.array(cur, np.int64), h)
        vs.append(v.tolist())
        rs.append(r.tolist())
        zs.append(z.tolist())
    return vs, rs, zs


def column(rows: list[list[Any]], i: int) -> list[Any]:
    return [row[i] for row in rows]


# -- leak ------------------------------------------------------------------------------------


def test_shift_leak_sequence() -> None:
    """Shift 2 from 40: d - ceil(d/4) each step, linear below 4, exactly 0 at the end."""
    core = make_core(**{"neuron.v_th": 400})
    vs, _, zs = run(core, [[40]] + [[0]] * 11)
    # 40; 40-ceil(10)=30; 30-ceil(7.5)=22; 22-6=16; 16-4=12; 12-3=9; 9-3=6; 6-2=4;
    # 4-1=3; 3-1=2; 2-1=1; 1-1=0
    assert column(vs, 0) == [40, 30, 22, 16, 12, 9, 6, 4, 3, 2, 1, 0]
    assert not any(column(zs, 0))


def test_shift_leak_around_nonzero_rest() -> None:
    """v_rest = 10: the distance from rest decays toward zero from both sides."""
    core = make_core(**{"neuron.v_rest": 10, "neuron.v_th": 400})
    currents = [[0, 30]] + [[0, 0]] * 11
    inhibs = [[30, 0]] + [[0, 0]] * 11
    vs, _, _ = run(core, currents, inhibs)
    # neuron 0: 10 - 30 = -20 (d = -30); d: -30 -> -30 - floor(-7.5) = -22 -> -16 -> -12 -> -9
    # -> -6 -> -4 -> -3 -> -2 -> -1 -> 0; v = 10 + d
    assert column(vs, 0) == [-20, -12, -6, -2, 1, 4, 6, 7, 8, 9, 10, 10]
    # neuron 1: 10 + 30 = 40 (d = 30); d: 30 -> 22 -> 16 -> 12 -> 9 -> 6 -> 4 -> 3 -> 2 -> 1 -> 0
    assert column(vs, 1) == [40, 32, 26, 22, 19, 16, 14, 13, 12, 11, 10, 10]


def test_multiply_leak_sequence() -> None:
    """Multiply mode, q / 2**f = 5/8, rounded toward zero on both sides."""
    core = make_core(**{"neuron.v_th": 400, "neuron.leak_mode": "multiply",
                        "neuron.decay_q": 5, "neuron.decay_frac": 3})
    currents = [[40, 0], [10, 0]] + [[0, 0]] * 7
    inhibs = [[0, 40]] + [[0, 0]] * 8
    vs, _, _ = run(core, currents, inhibs)
    # neuron 0: 40; 40*5=200>>3=25, +10 = 35; 175>>3=21; 105>>3=13; 65>>3=8; 40>>3=5;
    # 25>>3=3; 15>>3=1; 5>>3=0
    assert column(vs, 0) == [40, 35, 21, 13, 8, 5, 3, 1, 0]
    # neuron 1: -40; (-200+7)>>3 = -25; (-125+7)>>3 = -15; (-75+7)>>3 = -9; (-45+7)>>3 = -5;
    # (-25+7)>>3 = -3; (-15+7)>>3 = -1; (-5+7)>>3 = 0; 0
    assert column(vs, 1) == [-40, -25, -15, -9, -5, -3, -1, 0, 0]


def test_no_leak() -> None:
    """Multiply with decay_q = 2**decay_frac: a perfect integrator on both sides."""
    core = make_core(**{"neuron.v_th": 400, "neuron.leak_mode": "multiply",
                        "neuron.decay_q": 16, "neuron.decay_frac": 4})
    currents = [[7, 0], [7, 0], [7, 0], [0, 0], [0, 0]]
    inhibs = [[0, 3], [0, 3], [0, 3], [5, 0], [0, 0]]
    vs, _, _ = run(core, currents, inhibs)
    assert column(vs, 0) == [7, 14, 21, 16, 16]  # 7+7+7, then -5, then held
    assert column(vs, 1) == [-3, -6, -9, -9, -9]


# -- threshold and reset ---------------------------------------------------------------------


def test_exact_threshold_crossing() -> None:
    """v == v_th + theta spikes, one less does not; theta raises the threshold."""
    core = make_core(**{"neuron.t_ref": 2})
    vs, rs, zs = run(core, [[105, 104, 100]], theta=[5, 5, 0])
    # thresholds 105, 105, 100
    assert zs[0] == [True, False, True]
    assert vs[0] == [-7, 104, -7]  # reset to v_reset = -7
    assert rs[0] == [2, 0, 2]


def test_threshold_crossing_after_leak() -> None:
    """The comparison uses the leaked + integrated value: 80 leaks to 60; +45 = 105 spikes."""
    core = make_core()
    vs, _, zs = run(core, [[45, 44]], theta=[5, 5], v0=[80, 80])
    # 80 - ceil(80/4) = 60; 60 + 45 = 105 >= 105; 60 + 44 = 104 < 105
    assert zs[0] == [True, False]
    assert vs[0] == [-7, 104]


def test_subtract_reset() -> None:
    """reset_mode subtract: v - (v_th + theta)."""
    core = make_core(**{"neuron.reset_mode": "subtract"})
    vs, _, zs = run(core, [[130, 100, 104]], theta=[5, 0, 5])
    # 130 >= 105 -> 25; 100 >= 100 -> 0; 104 < 105 -> stays
    assert zs[0] == [True, True, False]
    assert vs[0] == [25, 0, 104]


# -- refractory ------------------------------------------------------------------------------


@pytest.mark.parametrize(("t_ref", "spike_steps", "refractory"), [
    (0, [0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 0, 0, 0]),
    (1, [0, 2, 4, 6], [1, 0, 1, 0, 1, 0, 1, 0]),
    (3, [0, 4], [3, 2, 1, 0, 3, 2, 1, 0]),
])
def test_refractory_boundaries(t_ref: int, spike_steps: list[int],
                               refractory: list[int]) -> None:
    """Constant current 200 (threshold 100): a spike blocks exactly the next t_ref steps.

    Active step after a reset: leak(-7) = -7 - floor(-7/4) = -5, + 200 = 195 >= 100: spike.
    Blocked steps keep v = v_reset = -7.
    """
    core = make_core(**{"neuron.t_ref": t_ref})
    vs, rs, zs = run(core, [[200]] * 8)
    assert [t for t, z in enumerate(column(zs, 0)) if z] == spike_steps
    assert column(rs, 0) == refractory
    assert column(vs, 0) == [-7] * 8


def test_refractory_ignores_input() -> None:
    """Input during refractory is lost; integration resumes from the held v."""
    core = make_core(**{"neuron.t_ref": 2})
    vs, rs, zs = run(core, [[200], [300], [300], [0]])
    # t0 spike -> -7, r 2; t1, t2 blocked (r 1, 0), v -7; t3: leak(-7) = -5, + 0
    assert column(zs, 0) == [True, False, False, False]
    assert column(rs, 0) == [2, 1, 0, 0]
    assert column(vs, 0) == [-7, -7, -7, -5]


# -- saturation ------------------------------------------------------------------------------


def test_saturation_at_both_rails() -> None:
    """Huge current clamps to v_max = 511, huge inhibition to v_min = -512."""
    core = make_core(**{"neuron.reset_mode": "subtract", "neuron.v_th": 300})
    vs, _, zs = run(core, [[10000, 0], [0, 0]], [[0, 10000], [0, 0]])
    # neuron 0: sat(10000) = 511 >= 300 -> 511 - 300 = 211 (unsaturated: 9700)
    # neuron 1: sat(-10000) = -512; next: -512 - floor(-512/4) = -512 + 128 = -384
    assert zs[0] == [True, False]
    assert vs[0] == [211, -512]
    assert vs[1][1] == -384
    # neuron 0 at t1: leak(211) = 211 - ceil(52.75) = 158
    assert vs[1][0] == 158


def test_saturate_once() -> None:
    """leaked + current - inhibition is summed exactly, then clamped once."""
    core = make_core(**{"neuron.v_th": 400})
    vs, _, zs = run(core, [[600, 600, 0]], [[600, 0, 600]], v0=[0, 0, 0])
    # neuron 0: 0 + 600 - 600 = 0 (clamping after the current would give 511 - 600 = -89)
    # neuron 1: sat(600) = 511 >= 400: spike, reset to -7; neuron 2: sat(-600) = -512
    assert vs[0] == [0, -7, -512]
    assert zs[0] == [False, True, False]


def test_max_membrane_leaks() -> None:
    """From v_max with no input: 511 - ceil(511/4) = 511 - 128 = 383."""
    core = make_core(**{"neuron.v_th": 448})
    vs, _, _ = run(core, [[0]], v0=[511])
    assert vs[0] == [383]


# -- adaptive threshold ----------------------------------------------------------------------


def test_adaptive_threshold_increment_and_saturation() -> None:
    """theta + theta_plus on a spike, clamped at theta_max = 63."""
    core = make_core(**{"neuron.theta_plus": 5})
    num = IntegerArithmetic(core)
    theta = np.array([0, 10, 60, 63], np.int64)
    spike = np.array([True, False, True, True])
    # 0+5 = 5; 10 (no spike); 60+5 = 65 -> 63; 63+5 -> 63
    assert adapt_threshold(num, theta, spike).tolist() == [5, 10, 63, 63]


def test_adaptive_threshold_decay_then_bump() -> None:
    """Decay first (shift 2, toward zero), then the increment."""
    core = make_core(**{"neuron.theta_plus": 5, "neuron.theta_decay_shift": 2})
    num = IntegerArithmetic(core)
    theta = np.array([40, 1, 0, 63], np.int64)
    spike = np.array([False, True, False, True])
    # 40 - ((40+3)>>2) = 30; 1 - ((1+3)>>2) = 0, +5 = 5; 0; 63 - ((63+3)>>2) = 47, +5 = 52
    assert adapt_threshold(num, theta, spike).tolist() == [30, 5, 0, 52]


def test_theta_decay_sequence() -> None:
    """With no spikes theta decays to exactly 0: 40, 30, 22, 16, 12, 9, 6, 4, 3, 2, 1, 0."""
    core = make_core(**{"neuron.theta_plus": 5, "neuron.theta_decay_shift": 2})
    num = IntegerArithmetic(core)
    theta = np.array([40], np.int64)
    seq = []
    for _ in range(12):
        theta = adapt_threshold(num, theta, np.array([False]))
        seq.append(int(theta[0]))
    assert seq == [30, 22, 16, 12, 9, 6, 4, 3, 2, 1, 0, 0]


def test_theta_no_decay_no_plus() -> None:
    """theta_plus = 0 and no decay: theta is unchanged, spike or not."""
    core = make_core()
    num = IntegerArithmetic(core)
    theta = np.array([7, 0], np.int64)
    assert adapt_threshold(num, theta, np.array([True, False])).tolist() == [7, 0]


# -- inhibition ------------------------------------------------------------------------------


def test_inhibition_counts_others_only() -> None:
    """w_inh * (spikes of the other neurons at t-1)."""
    core = make_core(**{"neuron.w_inh": 7})
    num = IntegerArithmetic(core)
    prev = np.array([[True, False, True], [False, True, False], [False, False, False],
                     [True, True, True]])
    # others: [1, 2, 1], [1, 0, 1], [0, 0, 0], [2, 2, 2]; times 7
    assert inhibition(num, prev).tolist() == [[7, 14, 7], [7, 0, 7], [0, 0, 0],
                                              [14, 14, 14]]
    assert inhibition(num, prev[0]).tolist() == [7, 14, 7]
    assert inhibition(num, prev[0]).dtype == np.int64
