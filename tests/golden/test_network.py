"""Tests of the network step order on a tiny hand-computed network, the layer step, batching,
determinism, and every fast loop against the literal one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plasticore.config import CoreConfig, EncoderConfig, NeuronConfig, StdpConfig, Widths
from plasticore.golden.arith import FloatArithmetic, IntegerArithmetic
from plasticore.golden.layer import Layer
from plasticore.golden.lfsr import SampleStates
from plasticore.golden.network import Network, initial_weights
from plasticore.golden.neuron import adapt_threshold, inhibition, lif_step
from plasticore.golden.stdp import stdp_update, trace_step, weight_change
from plasticore.sim.matrix import scaled_core

# -- the tiny network --------------------------------------------------------------------------
#
# 3 inputs, 2 neurons, direct input, floor rounding.  Weights 4 bits (0..15), membrane 8 bits,
# theta 4 bits, traces 4 bits (max 15).  v_rest 0, v_reset 0, v_th 20, shift leak 2
# (d - ceil(d/4)), t_ref 1, theta_plus 2, w_inh 6.  Traces: shift 1 (x - ceil(x/2)), set mode.
# STDP: pot = (x_pre * 8) >> 3 = x_pre, dep = (x_post * 4) >> 3 = floor(x_post / 2).

W0 = [[8, 2],
      [5, 6],
      [3, 9]]
RASTER = [[1, 1, 0],
          [1, 0, 1],
          [0, 1, 1],
          [1, 1, 1],
          [0, 0, 1]]


def tiny_core(timesteps: int = 5, **changes: Any) -> CoreConfig:
    """The tiny network's configuration."""
    base = CoreConfig(
        n_inputs=3, n_neurons=2, n_pe=1, timesteps=timesteps, seed=0,
        widths=Widths(weight=4, membrane=8, theta=4, trace=4),
        encoder=EncoderConfig(kind="direct"),
        neuron=NeuronConfig(v_rest=0, v_reset=0, v_th=20, leak_mode="shift", leak_shift=2,
                            reset_mode="to_reset", t_ref=1, theta_plus=2,
                            theta_decay_shift=0, w_inh=6),
        stdp=StdpConfig(learn=True, tau_pre_shift=1, tau_post_shift=1, trace_mode="set",
                        trace_add=15, eta_pre=4, eta_post=8, eta_shift=3, rounding="floor",
                        potentiation_only=False, soft_bound=False, update_every=1,
                        w_init_max=15, norm=0),
    )
    return base.replace(**changes)


# Hand calculation, learning on, update_every 1 (state after each timestep):
#
# t0: s=[1,1,0]. I = W[0]+W[1] = [13, 8]; h = 0. v = [13, 8] (< 20): z = [0,0].
#     x_pre = [15,15,0]; x_post = [0,0]. STDP: pre rows 0,1, dep = x_post/2 = 0: W unchanged.
# t1: s=[1,0,1]. I = W[0]+W[2] = [11, 11]; h = 0. leak(13) = 13-4 = 9, leak(8) = 8-2 = 6;
#     v = [20, 17]: neuron 0 spikes (20 >= 20 + 0): v = [0, 17], r = [1, 0]. theta = [2, 0].
#     x_pre: decay [15,15,0] -> [7,7,0], set -> [15,7,15]; x_post: -> [15, 0].
#     STDP pre [1,0,1], post [1,0]: pot col 0 = x_pre = [15,7,15]; dep rows 0,2 = [7, 0].
#     W[0,0] = 8+15-7 = 16 -> 15; W[1,0] = 5+7 = 12; W[2,0] = 3+15-7 = 11; col 1 unchanged.
#     W = [[15,2],[12,6],[11,9]].
# t2: s=[0,1,1]. I = W[1]+W[2] = [23, 15]; h = 6*(1 - [1,0]) = [0, 6].
#     neuron 0 refractory (r 1 -> 0, v stays 0; 23 would have crossed 22).
#     neuron 1: leak(17) = 17-5 = 12; 12 + 15 - 6 = 21 >= 20: spike, v = 0, r = 1.
#     z = [0,1]; theta = [2, 2]. x_pre: [7,3,7] -> set [7,15,15]; x_post: [7,0] -> [7,15].
#     STDP pre [0,1,1], post [0,1]: pot col 1 = [7,15,15]; dep rows 1,2 = [28>>3, 60>>3] = [3,7].
#     W[0,1] = 2+7 = 9; W[1,0] = 12-3 = 9; W[1,1] = 6+15-7 = 14; W[2,0] = 11-3 = 8;
#     W[2,1] = 9+15-7 = 17 -> 15. W = [[15,9],[9,14],[8,15]].
# t3: s=[1,1,1]. I = [15+9+8, 9+14+15] = [32, 38]; h = 6*(1 - [0,1]) = [6, 0].
#     neuron 0: 0 + 32 - 6 = 26 >= 20 + 2: spike, v = 0, r = 1. neuron 1 refractory.
#     z = [1,0]; theta = [4, 2]. x_pre: [3,7,7] -> [15,15,15]; x_post: [3,7] -> [15,7].
#     STDP all pre, post [1,0]: pot col 0 = 15; dep = [7, 3].
#     col 0: w + 15 - 7 -> [23, 17, 16] -> [15,15,15]; col 1: w - 3 -> [6, 11, 12].
#     W = [[15,6],[15,11],[15,12]].
# t4: s=[0,0,1]. I = W[2] = [15, 12]; h = 6*(1 - [1,0]) = [0, 6].
#     neuron 0 refractory (v 0). neuron 1: 0 + 12 - 6 = 6 < 22. z = [0,0]; theta [4, 2].
#     x_pre: [7,7,7] -> [7,7,15]; x_post: [7, 3].
#     STDP pre row 2: dep = [28>>3, 12>>3] = [3, 1]: W[2] = [12, 11].
#     W = [[15,6],[15,11],[12,11]].

EXPECTED_RASTER = [[0, 0], [1, 0], [0, 1], [1, 0], [0, 0]]
EXPECTED_W = [  # after timestep t (t = 0..4)
    [[8, 2], [5, 6], [3, 9]],
    [[15, 2], [12, 6], [11, 9]],
    [[15, 9], [9, 14], [8, 15]],
    [[15, 6], [15, 11], [15, 12]],
    [[15, 6], [15, 11], [12, 11]],
]
EXPECTED_THETA = [[0, 0], [2, 0], [2, 2], [4, 2], [4, 2]]
# per timestep: v before, r before, theta before, I, h -> v after, r after, z
EXPECTED_STEPS = [
    ([0, 0], [0, 0], [0, 0], [13, 8], [0, 0], [13, 8], [0, 0], [0, 0]),
    ([13, 8], [0, 0], [0, 0], [11, 11], [0, 0], [0, 17], [1, 0], [1, 0]),
    ([0, 17], [1, 0], [2, 0], [23, 15], [0, 6], [0, 0], [0, 1], [0, 1]),
    ([0, 0], [0, 1], [2, 2], [32, 38], [6, 0], [0, 0], [1, 0], [1, 0]),
    ([0, 0], [1, 0], [4, 2], [15, 12], [0, 6], [0, 6], [0, 0], [0, 0]),
]
EXPECTED_X_PRE = [[15, 15, 0], [15, 7, 15], [7, 15, 15], [15, 15, 15], [7, 7, 15]]
EXPECTED_X_POST = [[0, 0], [15, 0], [7, 15], [15, 7], [7, 3]]


def test_tiny_network_learning_sample() -> None:
    """run_sample(record=True): raster, counts, input spikes, final weights and theta."""
    net = Network(tiny_core(), weights=W0)
    res = net.run_sample(np.array(RASTER), key=0, learn=True, record=True)
    assert res.raster is not None and res.input_raster is not None
    assert res.raster.astype(int).tolist() == EXPECTED_RASTER
    assert res.counts.tolist() == [2, 1]
    assert res.input_spikes.tolist() == [2, 2, 2, 3, 1]
    assert res.input_raster.astype(int).tolist() == RASTER
    assert net.weights.tolist() == EXPECTED_W[4]
    assert net.theta.tolist() == EXPECTED_THETA[4]


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5])
def test_tiny_network_after_each_timestep(T: int) -> None:
    """A T-timestep sample leaves the weights and theta of timestep T-1 (norm is off)."""
    net = Network(tiny_core(timesteps=T), weights=W0)
    res = net.run_sample(np.array(RASTER[:T]), key=0, learn=True, record=True)
    assert res.raster is not None
    assert res.raster.astype(int).tolist() == EXPECTED_RASTER[:T]
    assert net.weights.tolist() == EXPECTED_W[T - 1]
    assert net.theta.tolist() == EXPECTED_THETA[T - 1]


def test_tiny_network_step_by_step() -> None:
    """The same timesteps replayed with the step functions on the hand-computed state."""
    core = tiny_core()
    num = IntegerArithmetic(core)
    w = np.array(W0, dtype=np.int64)
    x_pre = np.zeros(3, np.int64)
    x_post = np.zeros(2, np.int64)
    prev = np.zeros(2, bool)
    for t, (v0, r0, th, cur, inh, v1, r1, z1) in enumerate(EXPECTED_STEPS):
        s = np.array(RASTER[t], bool)
        assert (s.astype(np.int64) @ w).tolist() == cur  # current from the hand weights
        assert inhibition(num, prev).tolist() == inh
        v, r, z = lif_step(num, np.array(v0), np.array(r0), np.array(th), np.array(cur),
                           np.array(inh))
        assert (v.tolist(), r.tolist(), z.astype(int).tolist()) == (v1, r1, z1)
        x_pre = trace_step(num, x_pre, s, 1)
        x_post = trace_step(num, x_post, z, 1)
        assert x_pre.tolist() == EXPECTED_X_PRE[t]
        assert x_post.tolist() == EXPECTED_X_POST[t]
        stdp_update(num, w, x_pre, x_post, s, z, None, None)
        assert w.tolist() == EXPECTED_W[t]
        prev = z


def test_layer_step_by_hand() -> None:
    """Layer.step (steps 3-6) on the hand-computed timesteps, learning on: the weights at the
    start of timestep t set to the hand values (W0, then EXPECTED_W[t - 1]); membrane,
    refractory count, spikes and theta after each step as computed above."""
    core = tiny_core()
    num = IntegerArithmetic(core)
    layer = Layer(core, num, W0)
    state = layer.reset()
    for t, (v0, r0, th, cur, inh, v1, r1, z1) in enumerate(EXPECTED_STEPS):
        assert state.refractory is not None
        assert (state.v.tolist(), state.refractory.tolist(), layer.theta.tolist()) == (v0, r0, th)
        assert inhibition(num, state.spikes).tolist() == inh
        layer.weights = np.array(EXPECTED_W[t - 1] if t else W0, dtype=np.int64)
        s = np.array(RASTER[t], bool)
        assert layer.current(s).tolist() == cur
        z = layer.step(state, s, learn=True)
        assert state.refractory is not None
        assert (state.v.tolist(), state.refractory.tolist(), z.astype(int).tolist()) == (
            v1, r1, z1)
        assert state.spikes.astype(int).tolist() == z1         # the next step's inhibition
        assert layer.theta.tolist() == EXPECTED_THETA[t]
    # learning off: the threshold stays
    layer.step(state, np.ones(3, bool), learn=False)
    assert layer.theta.tolist() == EXPECTED_THETA[-1]


def test_layer_step_batch() -> None:
    """A batch of samples steps as each sample alone: the hand timesteps in row 0, learning
    off (theta [0, 0], weights W0), the same raster reversed in row 1."""
    core = tiny_core()
    layer = Layer(core, IntegerArithmetic(core), W0)
    batch, alone = layer.reset(2), [layer.reset(), layer.reset()]
    rasters = [np.array(RASTER, bool), np.array(RASTER[::-1], bool)]
    w64 = layer.weights.astype(np.float64)
    out = []
    for t in range(5):
        z = layer.step(batch, np.stack([r[t] for r in rasters]), learn=False, weights=w64)
        for b in range(2):
            assert z[b].tolist() == layer.step(alone[b], rasters[b][t], learn=False).tolist()
            assert batch.v[b].tolist() == alone[b].v.tolist()
        out.append(z[0].astype(int).tolist())
    # row 0 is the learning-off raster worked out in test_tiny_network_learning_off
    assert out == [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0]]
    assert layer.theta.tolist() == [0, 0]


def test_tiny_network_learning_off() -> None:
    """learn=False: weights and theta frozen, so the raster differs from the learning run.

    t0 v = [13, 8]; t1 I = [11, 11]: v = [20, 17], neuron 0 spikes; t2 I = W0[1]+W0[2] =
    [8, 15], h = [0, 6]: neuron 0 refractory, neuron 1: 12 + 15 - 6 = 21 spikes;
    t3 I = [16, 17], h = [6, 0]: neuron 0: 0 + 16 - 6 = 10, neuron 1 refractory;
    t4 I = [3, 9], h = 0: neuron 0: 10 - 3 + 3 = 10, neuron 1: 9. Counts [1, 1].
    """
    net = Network(tiny_core(), weights=W0)
    res = net.run_sample(np.array(RASTER), key=0, learn=False, record=True)
    assert res.raster is not None
    assert res.raster.astype(int).tolist() == [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0]]
    assert net.weights.tolist() == W0
    assert net.theta.tolist() == [0, 0]
    assert net.run_batch(np.array([RASTER]), np.array([0])).tolist() == [[1, 1]]
    # stdp.learn = false turns learning off even when run_sample asks for it
    net2 = Network(tiny_core(**{"stdp.learn": False}), weights=W0)
    assert net2.run_sample(np.array(RASTER), key=0, learn=True).counts.tolist() == [1, 1]
    assert net2.weights.tolist() == W0


def test_tiny_network_current_shift() -> None:
    """widths.current_shift = 1: one weight LSB adds two membrane LSBs (learning off).

    t0 I = 2*[13, 8] = [26, 16]: neuron 0 spikes; t1 I = [22, 22], h = [0, 6]: neuron 0
    refractory, neuron 1: leak(16) = 12, 12 + 22 - 6 = 28 spikes; t2 I = [16, 30],
    h = [6, 0]: neuron 0: 0 + 16 - 6 = 10, neuron 1 refractory; t3 I = [32, 34], h = 0:
    neuron 0: leak(10) = 7, 7 + 32 = 39 spikes, neuron 1: 34 spikes; t4 both refractory.
    """
    core = tiny_core(**{"widths.current_shift": 1})
    expected = [[1, 0], [0, 1], [0, 0], [1, 1], [0, 0]]
    for arithmetic in ("integer", "float"):
        net = Network(core, arithmetic, weights=W0)  # type: ignore[arg-type]
        res = net.run_sample(np.array(RASTER), key=0, learn=False, record=True)
        assert res.raster is not None
        assert res.raster.astype(int).tolist() == expected, arithmetic
        assert net.run_batch(np.array([RASTER]), np.array([0])).tolist() == [[2, 2]]
    assert _stepwise(Network(core, weights=W0)).run_sample(
        np.array(RASTER), key=0, learn=False).counts.tolist() == [2, 2]


def test_theta_frozen_when_not_learning() -> None:
    """Learning off: theta neither decays nor grows, even with decay and increments on."""
    core = tiny_core(**{"neuron.theta_decay_shift": 1})
    net = Network(core, weights=W0, theta=[5, 3])
    res = net.run_sample(np.array(RASTER), key=0, learn=False)
    assert res.counts.sum() > 0
    assert net.theta.tolist() == [5, 3]
    assert net.weights.tolist() == W0


def test_state_resets_between_samples() -> None:
    """v, r, traces, previous spikes and accumulators reset; weights and theta persist.

    After the learning sample the weights are EXPECTED_W[4] and theta [4, 2] (hand values
    above); a second sample equals the same sample on a fresh network holding that state.
    """
    for changes in ({}, {"stdp.update_every": 3}):
        net = Network(tiny_core(**changes), weights=W0)
        net.run_sample(np.array(RASTER), key=0, learn=True)
        if not changes:
            assert net.weights.tolist() == EXPECTED_W[4]
            assert net.theta.tolist() == [4, 2]
        fresh = Network(tiny_core(**changes), weights=net.weights, theta=net.theta)
        second = net.run_sample(np.array(RASTER[::-1]), key=1, learn=True, record=True)
        again = fresh.run_sample(np.array(RASTER[::-1]), key=1, learn=True, record=True)
        assert second.raster is not None and again.raster is not None
        assert np.array_equal(second.raster, again.raster)
        assert np.array_equal(net.weights, fresh.weights)
        assert np.array_equal(net.theta, fresh.theta)


# update_every = 2, hand calculation (same raster, same first two timesteps of v and z):
#
# t0: no update ((0+1) % 2 != 0). Events so far: pre [1,1,0], post [0,0].
# t1: neuron 0 spikes as before; x_pre [15,7,15], x_post [15,0]; events pre [1,1,1], post [1,0].
#     Update: pot col 0 = [15,7,15], dep all rows = [7, 0]:
#     col 0: [8+15-7 -> 15, 5+7-7 = 5, 3+15-7 = 11]; col 1 unchanged. W = [[15,2],[5,6],[11,9]].
# t2: I = W[1]+W[2] = [16, 15], h = [0, 6]; neuron 0 refractory; neuron 1: 12+15-6 = 21 spikes.
#     x_pre [7,15,15], x_post [7,15]; events pre [0,1,1], post [0,1]; no update (3 % 2).
#     (With T = 3 this is the last timestep, so the update happens: pot col 1 = [7,15,15],
#     dep rows 1,2 = [3,7]: W = [[15,9],[5-3,6+15-7],[11-3,9+15-7 -> 15]] = [[15,9],[2,14],[8,15]].)
# t3: I = [15+5+11, 2+6+9] = [31, 17]; h = [6, 0]; neuron 0: 31-6 = 25 >= 22 spikes;
#     neuron 1 refractory. x_pre [15,15,15], x_post [15,7]; events pre [1,1,1], post [1,1].
#     Update: pot 15 everywhere, dep [7, 3]: col 0 w+8 -> [15, 13, 15]; col 1 w+12 -> [14,15,15].
#     W = [[15,14],[13,15],[15,15]].
# t4 (last): I = W[2] = [15,15]; h = [0,6]; neuron 0 refractory; neuron 1: 15-6 = 9.
#     x_pre [7,7,15], x_post [7,3]; events pre [0,0,1]: dep row 2 = [3,1]: W[2] = [12, 14].
EXPECTED_W_U2 = [
    [[8, 2], [5, 6], [3, 9]],  # T = 1: update at the last timestep, but dep = 0
    [[15, 2], [5, 6], [11, 9]],
    [[15, 9], [2, 14], [8, 15]],
    [[15, 14], [13, 15], [15, 15]],
    [[15, 14], [13, 15], [12, 14]],
]


@pytest.mark.parametrize("T", [1, 2, 3, 4, 5])
def test_update_every_two(T: int) -> None:
    """update_every = 2: OR-accumulated events applied at (t+1) % 2 == 0 and at the end."""
    net = Network(tiny_core(timesteps=T, **{"stdp.update_every": 2}), weights=W0)
    res = net.run_sample(np.array(RASTER[:T]), key=0, learn=True, record=True)
    assert res.raster is not None
    assert res.raster.astype(int).tolist() == EXPECTED_RASTER[:T]
    assert net.weights.tolist() == EXPECTED_W_U2[T - 1]
    assert net.theta.tolist() == EXPECTED_THETA[T - 1]


def test_update_every_longer_than_sample() -> None:
    """U = 8 > T = 5: the only update is at the last timestep, with all events of the sample.

    Weights stay W0 through t3, so the raster is the learning-off one: z = [0,0],[1,0],[0,1],
    [0,0],[0,0]; theta = [2, 2]. Events: pre [1,1,1], post [1,1]. Traces at t4:
    x_pre [15,15,0] -> [15,7,15] -> [7,15,15] -> [15,15,15] -> [7,7,15];
    x_post [0,0] -> [15,0] -> [7,15] -> [3,7] -> [1,3].
    pot = x_pre = [7,7,15] on both columns; dep = [1*4>>3, 3*4>>3] = [0, 1] on all rows.
    col 0: [8+7, 5+7, 3+15] -> [15, 12, 15]; col 1: [2+7-1, 6+7-1, 9+15-1] -> [8, 12, 15].
    """
    net = Network(tiny_core(**{"stdp.update_every": 8}), weights=W0)
    res = net.run_sample(np.array(RASTER), key=0, learn=True, record=True)
    assert res.raster is not None
    assert res.raster.astype(int).tolist() == [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0]]
    assert net.theta.tolist() == [2, 2]
    assert net.weights.tolist() == [[15, 8], [12, 12], [15, 15]]


def test_normalization_after_sample() -> None:
    """norm = 30 rescales the final weights [[15,6],[15,11],[12,11]] once, after the sample.

    col 0: S = 42, scale = floor(30 * 65536 / 42) = floor(46811.43) = 46811;
           15: 702165 + 32768 = 734933 -> 11 (11.21); 12: 561732 + 32768 = 594500 -> 9 (9.07)
    col 1: S = 28, scale = floor(70217.14) = 70217;
           6: 421302 + 32768 = 454070 -> 6 (6.93); 11: 772387 + 32768 = 805155 -> 12 (12.29)
    """
    net = Network(tiny_core(**{"stdp.norm": 30}), weights=W0)
    res = net.run_sample(np.array(RASTER), key=0, learn=True, record=True)
    assert res.raster is not None
    assert res.raster.astype(int).tolist() == EXPECTED_RASTER  # normalization comes after
    assert net.weights.tolist() == [[11, 6], [11, 12], [9, 12]]
    # learning off: no normalization either
    net_off = Network(tiny_core(**{"stdp.norm": 30}), weights=W0)
    net_off.run_sample(np.array(RASTER), key=0, learn=False)
    assert net_off.weights.tolist() == W0


# -- generators in the learning rule ---------------------------------------------------------

MASK32, MASK64 = (1 << 32) - 1, (1 << 64) - 1


def xorshift32_ref(x: int) -> int:
    x ^= (x << 13) & MASK32
    x ^= x >> 17
    return x ^ ((x << 5) & MASK32)


def base_ref(seed: int, stream: int, index: int) -> int:
    """hi32(SplitMix64(seed << 32 | stream << 20 | index)), 0 -> 1 (docs: Generators)."""
    z = ((seed << 32 | stream << 20 | index) + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return ((z ^ (z >> 31)) >> 32) or 1


def state_ref(seed: int, stream: int, index: int, key: int, t: int) -> int:
    """Generator state seen at timestep t: t + 1 steps from the reseeded start."""
    x = ((base_ref(seed, stream, index) + key * 0x9E3779B9) & MASK32) or 1
    for _ in range(t + 1):
        x = xorshift32_ref(x)
    return x


def test_stochastic_normalization_draws() -> None:
    """norm_rounding = "stochastic": the final weights of the learning sample rescaled with
    r = hi16(input generator) ^ lo16(neuron generator) at the last timestep (t = 4),
    the generators computed here from their definition; scales as in the test above."""
    core = tiny_core(**{"stdp.norm": 30, "stdp.norm_rounding": "stochastic"})
    net = Network(core, weights=W0)
    net.run_sample(np.array(RASTER), key=0, learn=True)
    before = EXPECTED_W[4]
    scales = [46811, 70217]
    expected = [[min(15, (before[j][i] * scales[i]
                          + ((state_ref(0, 0, j, 0, 4) >> 16)
                             ^ (state_ref(0, 1, i, 0, 4) & 0xFFFF))) >> 16)
                 for i in range(2)] for j in range(3)]
    assert net.weights.tolist() == expected
    assert expected != [[11, 6], [11, 12], [9, 12]]      # not what rounding to nearest gives


def test_stochastic_rounding_draws() -> None:
    """At t = 1 both inputs spike into neuron 0 (I = 20 = v_th) and it fires; the update uses
    rand16[j] = hi16(g_j[1]) ^ hi16(g_0[1]) of the input (stream 0) and neuron (stream 1)
    generators after 2 steps from (base + key * 0x9E3779B9).

    eta_post 5, eta_pre 3, eta_shift 4: pot = (15*5 + r) >> 4 = (75 + r) >> 4,
    dep = (15*3 + r) >> 4 = (45 + r) >> 4, r = (rand16 << 4) >> 16 = rand16 >> 12.
    """
    core = CoreConfig(
        n_inputs=2, n_neurons=1, n_pe=1, timesteps=2, seed=77,
        widths=Widths(weight=4, membrane=8, theta=4, trace=4),
        encoder=EncoderConfig(kind="direct"),
        neuron=NeuronConfig(v_reset=0, v_th=20, t_ref=0, theta_plus=0, w_inh=0),
        stdp=StdpConfig(tau_pre_shift=1, tau_post_shift=1, trace_add=15, eta_pre=3,
                        eta_post=5, eta_shift=4, rounding="stochastic", w_init_max=15,
                        norm=0),
    )
    raster = np.array([[0, 0], [1, 1]])
    outcomes = set()
    for key in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 2**32 - 1]:
        net = Network(core, weights=[[10], [10]])
        res = net.run_sample(raster, key=key, learn=True)
        assert res.counts.tolist() == [1]
        hi_neuron = state_ref(77, 1, 0, key, 1) >> 16
        want = []
        for j in range(2):
            r = ((state_ref(77, 0, j, key, 1) >> 16) ^ hi_neuron) >> 12
            want.append([10 + ((75 + r) >> 4) - ((45 + r) >> 4)])
        assert net.weights.tolist() == want, key
        outcomes.update(w[0] for w in want)
    assert len(outcomes) >= 2  # the draw matters for these keys


# -- batches, determinism --------------------------------------------------------------------


def rate_core(**changes: Any) -> CoreConfig:
    """16 rate-coded inputs, 4 neurons, 40 timesteps, stochastic rounding, easy to fire."""
    base = CoreConfig(
        n_inputs=16, n_neurons=4, n_pe=2, timesteps=40, seed=5,
        neuron=NeuronConfig(v_reset=300, v_th=1000, t_ref=2, theta_plus=13, w_inh=500),
        stdp=StdpConfig(norm=600),
    )
    return base.replace(**changes)


SAMPLES = np.array([
    [255] * 16,
    [0] * 8 + [255] * 8,
    list(range(0, 256, 16)),
    [128] * 16,
    [255, 0] * 8,
    [0] * 16,
])
KEYS = np.array([0, 7, 3, 2**32 - 1, 12, 5])


@pytest.mark.parametrize("changes", [
    {},
    {"neuron.leak_mode": "multiply", "neuron.reset_mode": "subtract"},
    {"neuron.t_ref": 0, "neuron.w_inh": 0},
], ids=["default", "multiply-subtract", "no-refractory"])
@pytest.mark.parametrize("arithmetic", ["integer", "float"])
def test_run_batch_equals_run_sample(changes: dict[str, Any], arithmetic: str) -> None:
    """run_batch counts equal run_sample(learn=False) counts, sample by sample, in chunks."""
    core = rate_core(**changes)
    net = Network(core, arithmetic)  # type: ignore[arg-type]
    for i in range(3):  # learn a little so weights and theta are not the initial ones
        net.run_sample(SAMPLES[i], key=100 + i, learn=True)
    assert np.any(net.theta > 0)
    single = np.array([net.run_sample(s, key=int(k), learn=False).counts
                       for s, k in zip(SAMPLES, KEYS, strict=True)])
    assert single.sum() > 0  # the comparison is not between all-zero counts
    assert np.array_equal(net.run_batch(SAMPLES, KEYS), single)
    assert np.array_equal(net.run_batch(SAMPLES, KEYS, chunk=4), single)
    assert single[-1].tolist() == [0, 0, 0, 0]  # an all-zero image never drives the neurons


def test_run_batch_progress_and_errors() -> None:
    """Progress reports chunk sizes; mismatched lengths are an error."""
    net = Network(rate_core())
    seen: list[int] = []
    net.run_batch(SAMPLES, KEYS, progress=seen.append, chunk=4)
    assert seen == [4, 2]
    with pytest.raises(ValueError):
        net.run_batch(SAMPLES, KEYS[:3])


def test_determinism() -> None:
    """Same seed and key give the same result; a different key a different input raster."""
    core = rate_core()
    a = Network(core).run_sample(SAMPLES[3], key=9, learn=False, record=True)
    net_b = Network(core)
    net_b.run_sample(SAMPLES[0], key=1, learn=False)  # an earlier sample does not matter
    b = net_b.run_sample(SAMPLES[3], key=9, learn=False, record=True)
    c = net_b.run_sample(SAMPLES[3], key=10, learn=False, record=True)
    assert a.input_raster is not None and b.input_raster is not None
    assert c.input_raster is not None
    assert np.array_equal(a.input_raster, b.input_raster)
    assert np.array_equal(a.counts, b.counts)
    assert not np.array_equal(a.input_raster, c.input_raster)
    # a different config seed changes the raster too
    d = Network(rate_core(seed=6)).run_sample(SAMPLES[3], key=9, learn=False, record=True)
    assert d.input_raster is not None
    assert not np.array_equal(a.input_raster, d.input_raster)
    # learning is deterministic as well
    n1, n2 = Network(core), Network(core)
    for i in range(3):
        n1.run_sample(SAMPLES[i], key=i, learn=True)
        n2.run_sample(SAMPLES[i], key=i, learn=True)
    assert np.array_equal(n1.weights, n2.weights)
    assert np.array_equal(n1.theta, n2.theta)


def test_initial_weights() -> None:
    """Uniform integers in [0, w_init_max] from default_rng([seed, 0x5EED])."""
    core = rate_core()
    w = initial_weights(core)
    rng = np.random.default_rng([5, 0x5EED])
    assert np.array_equal(w, rng.integers(0, 77, size=(16, 4), endpoint=True))
    assert w.min() >= 0 and w.max() <= 77
    assert np.array_equal(Network(core).weights, w)


def test_network_rejects_bad_state() -> None:
    """Weights and theta must have the config's shape and range."""
    core = tiny_core()
    with pytest.raises(ValueError):
        Network(core, weights=[[16, 0], [0, 0], [0, 0]])  # w_max is 15
    with pytest.raises(ValueError):
        Network(core, weights=[[1, 0], [0, 0]])
    with pytest.raises(ValueError):
        Network(core, weights=W0, theta=[16, 0])  # theta_max is 15
    with pytest.raises(ValueError):
        Network(core, arithmetic="fixed")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Network(core, weights=W0).run_sample(np.array(RASTER[:4]), key=0)


# -- float reference tracking ----------------------------------------------------------------


def tracking_core(**changes: Any) -> CoreConfig:
    """v_th 16384 (+ theta_max 16383 = v_max): out of reach of currents <= 100 per step."""
    return CoreConfig(n_inputs=4, n_neurons=2, n_pe=1, timesteps=10,
                      neuron=NeuronConfig(v_th=16384), stdp=StdpConfig(norm=100)
                      ).replace(**changes)


@settings(max_examples=80, deadline=None)
@given(k=st.integers(1, 6),
       drive=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100),
                                st.integers(0, 100), st.integers(0, 100)),
                      min_size=1, max_size=60))
def test_float_tracking_shift(k: int, drive: list[tuple[int, int, int, int]]) -> None:
    """With no spikes, |v_int - v_float| < 2**k * (1 - (1 - 2**-k)**t) < 2**k (shift leak k).

    e_{t+1} = [leak_int(d) - leak_float(d)] + (1 - 2**-k) e_t, the first term a truncation
    error, |.| < 1; with e_0 = 0 (the first step adds integers exactly),
    |e_t| < sum_{m<t} (1 - 2**-k)**m = 2**k (1 - (1 - 2**-k)**t).
    Currents <= 100 keep |v| <= 100 * 2**k = 6400, far from the rails and v_th = 16384.
    """
    core = tracking_core(n_neurons=2, **{"neuron.leak_shift": k, "neuron.v_rest": -50})
    ints, flts = IntegerArithmetic(core), FloatArithmetic(core)
    v_i = np.full(2, -50, np.int64)
    v_f = np.full(2, -50.0)
    r = np.zeros(2, np.int64)
    a = 1.0 - 2.0**-k
    for t, (c0, c1, h0, h1) in enumerate(drive):
        cur, inh = np.array([c0, c1]), np.array([h0, h1])
        v_i, r_i, z_i = lif_step(ints, v_i, r, np.zeros(2, np.int64), cur, inh)
        v_f, r_f, z_f = lif_step(flts, v_f, r, np.zeros(2), cur.astype(float),
                                 inh.astype(float))
        assert not z_i.any() and not z_f.any()
        err = np.abs(v_i - v_f)
        assert np.all(err < 2**k)
        assert np.all(err <= 2**k * (1.0 - a**t) + 1e-9)


@settings(max_examples=60, deadline=None)
@given(frac=st.integers(2, 8), data=st.data(),
       drive=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)),
                      min_size=1, max_size=60))
def test_float_tracking_multiply(frac: int, data: st.DataObject,
                                 drive: list[tuple[int, int]]) -> None:
    """Multiply leak a = q / 2**f < 1: the same argument gives |v_int - v_float| < 1 / (1 - a)."""
    q = data.draw(st.integers(0, (1 << frac) - 1))
    core = tracking_core(n_neurons=1, **{"neuron.leak_mode": "multiply", "neuron.decay_q": q,
                                         "neuron.decay_frac": frac})
    ints, flts = IntegerArithmetic(core), FloatArithmetic(core)
    v_i, v_f = np.zeros(1, np.int64), np.zeros(1)
    r = np.zeros(1, np.int64)
    bound = 1.0 / (1.0 - q / 2**frac)
    for cur, inh in drive:
        v_i, _, _ = lif_step(ints, v_i, r, np.zeros(1, np.int64), np.array([cur]),
                             np.array([inh]))
        v_f, _, _ = lif_step(flts, v_f, r, np.zeros(1), np.array([float(cur)]),
                             np.array([float(inh)]))
        assert abs(int(v_i[0]) - float(v_f[0])) < bound


# -- the event-driven training loop equals the literal one -------------------------------



def _stepwise(net: Network) -> Network:
    """Force ``net`` onto the literal loop of docs/numerics.md."""
    net.event_driven = False
    return net


def _random_core(seed: int, weight: int, leak_mode: str, reset_mode: str, t_ref: int,
                 theta_decay: int, w_inh: int, current_shift: int,
                 **stdp: Any) -> CoreConfig:
    """12 rate-coded inputs, 6 neurons, 60 timesteps; neurons that fire (from 3-bit weights
    on) and learn fast."""
    w_max = (1 << weight) - 1
    return CoreConfig(
        n_inputs=12, n_neurons=6, n_pe=1, timesteps=60, seed=seed,
        widths=Widths(weight=weight, membrane=12, theta=8, trace=6,
                      current_shift=current_shift),
        encoder=EncoderConfig(max_rate=0.4),
        neuron=NeuronConfig(v_rest=-3, v_reset=-10, v_th=40, leak_mode=leak_mode,
                            leak_shift=3, decay_q=56, decay_frac=6,
                            reset_mode=reset_mode, t_ref=t_ref, theta_plus=5,
                            theta_decay_shift=theta_decay, w_inh=w_inh),
        stdp=StdpConfig(tau_pre_shift=2, tau_post_shift=3, trace_add=20, eta_pre=3000,
                        eta_post=40000, eta_shift=14, w_init_max=w_max, norm=6 * w_max,
                        **stdp),
    )


def _compare_loops(core: CoreConfig, arithmetic: str, learn: bool) -> int:
    """Four samples through run_sample and through the literal loop: rasters, counts,
    weights and thresholds equal after each.  Returns the output spikes."""
    rng = np.random.default_rng(core.seed)
    fast = Network(core, arithmetic)  # type: ignore[arg-type]
    slow = _stepwise(Network(core, arithmetic))  # type: ignore[arg-type]
    spikes = 0
    for key in range(4):
        pixels = rng.integers(0, 256, size=core.n_inputs)
        a = fast.run_sample(pixels, key, learn=learn, record=True)
        b = slow.run_sample(pixels, key, learn=learn, record=True)
        assert np.array_equal(a.raster, b.raster)
        assert np.array_equal(a.counts, b.counts)
        assert np.array_equal(fast.weights, slow.weights)
        assert np.array_equal(fast.theta, slow.theta)
        spikes += int(a.counts.sum())
    return spikes


_NEURON = dict(
    seed=st.integers(0, 2**32 - 1),
    leak_mode=st.sampled_from(["shift", "multiply"]),
    reset_mode=st.sampled_from(["to_reset", "subtract"]),
    t_ref=st.integers(0, 4),
    theta_decay=st.sampled_from([0, 3]),
    w_inh=st.sampled_from([0, 5, 40]),
    current_shift=st.sampled_from([0, 2]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weight=st.sampled_from([3, 5, 8]), rounding=st.sampled_from(["floor", "stochastic"]),
       potentiation_only=st.booleans(), soft_bound=st.booleans(),
       norm_rounding=st.sampled_from(["nearest", "stochastic"]), **_NEURON)
def test_stdp_event_form_equals_literal_loop(weight: int, rounding: str,
                                             potentiation_only: bool, soft_bound: bool,
                                             norm_rounding: str, **neuron: Any) -> None:
    """Learning with the STDP rule's event-driven form (integer arithmetic, set-mode traces,
    update_every 1, soft bounds only with potentiation only) equals the literal loop bit
    for bit, on neurons that fire."""
    core = _random_core(weight=weight, **neuron, rounding=rounding,
                        potentiation_only=potentiation_only,
                        soft_bound=soft_bound and potentiation_only,
                        norm_rounding=norm_rounding)
    net = Network(core)
    states = SampleStates(net.input_base, net.neuron_base, 0, core.timesteps)
    raster = np.zeros((core.timesteps, core.n_inputs), bool)
    assert net.rule.event_learner(net.layers[0], states, raster) is not None
    assert _compare_loops(core, "integer", learn=True) > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weight=st.sampled_from([1, 3, 8]), rounding=st.sampled_from(["floor", "stochastic"]),
       potentiation_only=st.booleans(), soft_bound=st.booleans(),
       trace_mode=st.sampled_from(["set", "add"]), update_every=st.sampled_from([1, 3]),
       arithmetic=st.sampled_from(["integer", "float"]), learn=st.booleans(), **_NEURON)
def test_run_sample_equals_literal_loop(weight: int, rounding: str, potentiation_only: bool,
                                        soft_bound: bool, trace_mode: str, update_every: int,
                                        arithmetic: str, learn: bool, **neuron: Any) -> None:
    """Whichever loop run_sample picks for any configuration (the event-driven one with
    learning off in integer arithmetic, the STDP rule's event-driven form, or the literal
    loop), it equals the literal loop bit for bit."""
    core = _random_core(weight=weight, **neuron, rounding=rounding,
                        potentiation_only=potentiation_only, soft_bound=soft_bound,
                        trace_mode=trace_mode, update_every=update_every)
    _compare_loops(core, arithmetic, learn)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["rate", "direct"]),
    leak_mode=st.sampled_from(["shift", "multiply"]),
    reset_mode=st.sampled_from(["to_reset", "subtract"]),
    t_ref=st.integers(0, 4),
    w_inh=st.sampled_from([0, 5, 40]),
    arithmetic=st.sampled_from(["integer", "float"]),
    current_shift=st.sampled_from([0, 2]),
    chunk=st.sampled_from([1, 3, 1024]),
)
def test_batch_loop_equals_literal_loop(seed: int, kind: str, leak_mode: str,
                                        reset_mode: str, t_ref: int, w_inh: int,
                                        arithmetic: str, current_shift: int,
                                        chunk: int) -> None:
    """run_batch's counts equal the literal loop's (run_sample, learning off) sample by
    sample, for random weights and thresholds, rate-coded or direct input."""
    core = CoreConfig(
        n_inputs=12, n_neurons=6, n_pe=1, timesteps=40, seed=seed,
        widths=Widths(weight=6, membrane=12, theta=8, current_shift=current_shift),
        encoder=EncoderConfig(kind=kind, max_rate=0.4),
        neuron=NeuronConfig(v_rest=-3, v_reset=-10, v_th=100, leak_mode=leak_mode,
                            leak_shift=3, decay_q=56, decay_frac=6, reset_mode=reset_mode,
                            t_ref=t_ref, w_inh=w_inh),
        stdp=StdpConfig(w_init_max=63, norm=0),
    )
    rng = np.random.default_rng(seed)
    net = _stepwise(Network(core, arithmetic,  # type: ignore[arg-type]
                            weights=rng.integers(0, 64, (12, 6)),
                            theta=rng.integers(0, 100, 6)))
    if kind == "rate":
        samples = rng.integers(0, 256, (5, 12))
    else:
        samples = rng.random((5, 40, 12)) < 0.3
    keys = rng.integers(0, 2**32, 5)
    literal = np.array([net.run_sample(s, int(k), learn=False).counts
                        for s, k in zip(samples, keys, strict=True)])
    assert literal.sum() > 0
    assert np.array_equal(net.run_batch(samples, keys, chunk=chunk), literal)


# -- no overflow, no wrap: every state stays in its word, at any width -----------------------



@st.composite
def _widths(draw: st.DrawFn) -> tuple[int, int, int]:
    membrane = draw(st.integers(8, 24))
    weight = draw(st.integers(1, min(16, membrane - 1)))
    trace = draw(st.integers(1, 16))
    return weight, membrane, trace


@settings(max_examples=60, deadline=None)
@given(widths=_widths(), data=st.data(),
       leak_mode=st.sampled_from(["shift", "multiply"]),
       reset_mode=st.sampled_from(["to_reset", "subtract"]),
       soft_bound=st.booleans(), trace_mode=st.sampled_from(["set", "add"]))
def test_pe_outputs_stay_in_their_words(widths: tuple[int, int, int], data: st.DataObject,
                                        leak_mode: str, reset_mode: str, soft_bound: bool,
                                        trace_mode: str) -> None:
    """Any input a port can carry gives outputs inside their words (saturate, never wrap)."""
    weight, membrane, trace = widths
    core = scaled_core(weight, membrane, trace=trace, leak_mode=leak_mode,
                       reset_mode=reset_mode, soft_bound=soft_bound, trace_mode=trace_mode)
    d, num, n = core.derived, IntegerArithmetic(core), 64
    ints = lambda lo, hi: np.array(data.draw(  # noqa: E731
        st.lists(st.integers(lo, hi), min_size=n, max_size=n)), dtype=np.int64)
    v = ints(d.v_min, d.v_max)
    refractory = ints(0, core.neuron.t_ref)
    theta = ints(0, d.theta_max)
    current = ints(0, (1 << d.current_bits) - 1)
    inhib = ints(0, (1 << d.inhibition_bits) - 1)
    v2, r2, spike = lif_step(num, v, refractory, theta, current, inhib)
    assert v2.min() >= d.v_min and v2.max() <= d.v_max
    assert r2.min() >= 0 and r2.max() <= core.neuron.t_ref
    theta2 = adapt_threshold(num, theta, spike)
    assert theta2.min() >= 0 and theta2.max() <= d.theta_max
    x = trace_step(num, ints(0, d.trace_max), ints(0, 1).astype(bool), 3)
    assert x.min() >= 0 and x.max() <= d.trace_max
    w = weight_change(num, ints(0, d.w_max), ints(0, d.trace_max), ints(0, d.trace_max),
                      ints(0, 1).astype(bool), ints(0, 1).astype(bool), ints(0, 0xFFFF))
    assert w.min() >= 0 and w.max() <= d.w_max


@settings(max_examples=15, deadline=None)
@given(widths=_widths(), seed=st.integers(0, 2**32 - 1))
def test_learning_keeps_weights_and_thresholds_in_range(widths: tuple[int, int, int],
                                                        seed: int) -> None:
    """Training at any width keeps weights in [0, w_max] and theta in [0, theta_max]."""
    weight, membrane, trace = widths
    core = scaled_core(weight, membrane, trace=trace, timesteps=40, seed=seed)
    net = Network(core)
    rng = np.random.default_rng(seed)
    for key in range(3):
        net.run_sample(rng.integers(0, 256, core.n_inputs), key)
        assert net.weights.min() >= 0 and net.weights.max() <= core.derived.w_max
        assert net.theta.min() >= 0 and net.theta.max() <= core.derived.theta_max
