"""The BPTT trainer (golden/bptt.py, surrogate.py, optim.py, bptt_integer.py): the
surrogates against their formulas, the backward pass against hand-derived gradients, finite
differences and an independent loop-by-loop reference, the recorded forward pass against the
network's, the integer path's roundings by hand, and the trainer's behaviour (loss falls,
repeatable, the epoch it keeps, bad parameters)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.config import Config
from plasticore.golden import bptt as B
from plasticore.golden.augment import affine_images, augment
from plasticore.golden.bptt_integer import IntegerLayer, MasterRounding, quantize_error
from plasticore.golden.datasets import Dataset, load_digits
from plasticore.golden.lfsr import base_states, step
from plasticore.golden.network import Network
from plasticore.golden.optim import Optimizer, schedule_factor
from plasticore.golden.surrogate import surrogate, surrogate_table
from plasticore.golden.train import evaluate, load_weights, save_weights

NEURON = {"v_rest": 0, "v_reset": 0, "leak_mode": "none", "reset_mode": "subtract",
          "reset_amount": 0, "t_ref": 0, "theta_plus": 0, "theta_decay_shift": 0, "w_inh": 0}


def layer(n: int, v_th: int, membrane: int = 16, bias: int = 0, shift: int = 0,
          theta: int = 1, **neuron: Any) -> dict[str, Any]:
    return {"n_neurons": n, "n_pe": 1,
            "widths": {"weight": 8, "membrane": membrane, "theta": theta, "trace": 8,
                       "current_shift": shift, "weight_signed": True, "bias": bias},
            "neuron": {**NEURON, "v_th": v_th, **neuron}}


def make_config(layers: list[dict[str, Any]], n_inputs: int, kind: str = "direct",
                timesteps: int = 4, readout: str = "count", seed: int = 0,
                epochs: int = 1, **rule: Any) -> Config:
    return Config.from_dict({
        "timesteps": timesteps, "seed": seed,
        "input": {"n_inputs": n_inputs, "kind": kind, "pixel_bits": 8, "max_rate": 0.5},
        "layers": layers, "rule": {"kind": "bptt", **rule},
        "data": {"dataset": "digits", "epochs": epochs},
        "classify": {"readout": readout, "n_classes": layers[-1]["n_neurons"]}})


def grids_of(config: Config) -> list[B.LayerGrid]:
    return [B.LayerGrid(core, i == 0) for i, core in enumerate(config.network.cores)]


def params_of(weights: list[Any], thetas: list[Any] | None = None,
              biases: list[Any] | None = None) -> list[list[Any]]:
    out = []
    for i, w in enumerate(weights):
        w = np.asarray(w, dtype=np.float64)
        n = w.shape[1]
        th = np.zeros(n) if thetas is None else np.asarray(thetas[i], dtype=np.float64)
        b = np.zeros(n) if biases is None else np.asarray(biases[i], dtype=np.float64)
        out.append([w, b, th])
    return out


def gradients(config: Config, params: list[list[Any]], x: Any, y: Any,
              integer: bool = False) -> tuple[float, list[list[Any]]]:
    grids = grids_of(config)
    net = B._network(config, grids, params)
    rec = B.forward(net, x, np.arange(len(x)))
    loss, g, direct, _ = B.loss_gradient(rec, np.asarray(y), config.classify.readout,
                                         grids[-1].v_th)
    bc = config.network.rule.bptt
    assert bc is not None
    layers = [IntegerLayer(c, bc) for c in config.network.cores] if integer else None
    return loss, B.backward(grids, params, rec, g, direct, bc, True, layers)


# -- surrogate --------------------------------------------------------------------------

def test_surrogate_formulas() -> None:
    """Both bumps peak at 1 and follow their formulas (values worked out by hand)."""
    assert surrogate("fast_sigmoid", 0.0, 5.0) == 1.0
    # 1 / (1 + 5 * 0.2)**2 = 1 / 4
    assert surrogate("fast_sigmoid", np.array([0.2, -0.2]), 5.0) == pytest.approx([.25, .25])
    # 1 / (1 + (pi/2 * 5 * 0.2)**2) = 1 / (1 + pi**2 / 4) = 0.288400...
    assert surrogate("arctan", 0.2, 5.0) == pytest.approx(0.2884004, rel=1e-6)
    assert surrogate("arctan", 0.0, 2.0) == 1.0
    with pytest.raises(ValueError, match="surrogate must be one of"):
        surrogate("sigmoid", 0.0, 1.0)


def test_surrogate_table() -> None:
    """Entry k holds the bump at the middle of its interval, S fraction bits, the peak
    saturating: 2 index bits of step 0.5 stand for x = -0.75, -0.25, 0.25, 0.75."""
    # 256 / 1.75**2 = 83.59 -> 84; 256 / 1.25**2 = 163.84 -> 164
    assert surrogate_table("fast_sigmoid", 1.0, 2, 0.5, 8).tolist() == [84, 164, 164, 84]
    assert surrogate_table("fast_sigmoid", 1.0, 2, 1e-6, 8).tolist() == [255] * 4


# -- backward ---------------------------------------------------------------------------

def test_backward_by_hand() -> None:
    """One input spiking at both timesteps into two neurons (v_th = 100, leak halves, reset
    by subtraction), weights 80 and 0, class 1.

    Neuron 0: u = 80 (no spike), then 40 + 80 = 120 (spike); neuron 1: u = 0, 0.  Counts
    (1, 0), so p0 = e / (e + 1) and dL/dcount = (p0, p1 - 1) = (p0, -p0).  Surrogate
    (slope 5) at x = -0.2 and 0.2: 1/4 each; at x = -1: 1/36.  e[1] = g sigma[1], e[0] =
    g sigma[0] + 0.5 e[1]; dL/dw = (e[0] + e[1]) / 100; dL/dtheta = -g (sigma[0] +
    sigma[1]) / 100.
    """
    config = make_config([layer(2, 100, leak_mode="shift", leak_shift=1)], 1, timesteps=2)
    x = np.ones((1, 2, 1), bool)
    loss, grads = gradients(config, params_of([[[80, 0]]]), x, [1])
    p0 = math.e / (math.e + 1)
    assert loss == pytest.approx(-math.log(1 - p0))
    g = np.array([p0, -p0])
    sig0, sig1 = np.array([0.25, 1 / 36]), np.array([0.25, 1 / 36])
    e1 = g * sig1
    e0 = g * sig0 + 0.5 * e1
    np.testing.assert_allclose(grads[0][0], [(e0 + e1) / 100], rtol=1e-12)
    np.testing.assert_allclose(grads[0][2], -g * (sig0 + sig1) / 100, rtol=1e-12)
    assert grads[0][1] is None                       # the layer has no bias


def test_label_smoothing_by_hand() -> None:
    """The same network with the target smoothed by 0.2 over two classes: (0.1, 0.9), so
    the loss is -(0.1 log p0 + 0.9 log p1) and dL/dcount = (p0 - 0.1, p1 - 0.9) = (p0 - 0.1,
    0.1 - p0)."""
    config = make_config([layer(2, 100, leak_mode="shift", leak_shift=1)], 1, timesteps=2,
                         label_smoothing=0.2)
    grids = grids_of(config)
    rec = B.forward(B._network(config, grids, params_of([[[80, 0]]])), np.ones((1, 2, 1), bool),
                    np.arange(1))
    loss, g, direct, predictions = B.loss_gradient(rec, np.array([1]), "count", 100.0, 0.2)
    p0 = math.e / (math.e + 1)
    assert loss == pytest.approx(-(0.1 * math.log(p0) + 0.9 * math.log(1 - p0)))
    np.testing.assert_allclose(g[:, 0], [[p0 - 0.1, 0.1 - p0]] * 2, rtol=1e-12)
    assert direct is None and predictions.tolist() == [0]


def _reference(config: Config, params: list[list[Any]], x: Any, y: Any) -> list[list[Any]]:
    """The backward pass written out sample by sample, neuron by neuron, from the forward
    quantities the golden network produces (independent of ``bptt.backward``)."""
    grids = grids_of(config)
    net = B._network(config, grids, params)
    rec = B.forward(net, x, np.arange(len(x)))
    cores = config.network.cores
    T, nb = config.network.timesteps, len(x)
    counts = rec.outputs.counts
    out = [[np.zeros_like(p[0]), np.zeros_like(p[1]), np.zeros_like(p[2])] for p in params]
    for b in range(nb):
        z = np.exp(counts[b] - counts[b].max())
        dcount = z / z.sum()
        dcount[y[b]] -= 1
        dz = [dcount.copy() for _ in range(T)]       # dL/dz[t] of the current layer
        for li in range(len(cores) - 1, -1, -1):
            core, grid = cores[li], grids[li]
            n_in, n = params[li][0].shape
            w = net.layers[li].weights
            theta = net.layers[li].theta
            beta = grid.beta
            below = [np.zeros(n_in) for _ in range(T)]
            for i in range(n):
                nxt = 0.0
                for t in reversed(range(T)):
                    u = rec.integrated[li][t, b, i]
                    spiked = rec.spikes[li][t, b, i]
                    xd = (u - core.neuron.v_th - theta[i]) / core.neuron.v_th
                    sig = 1 / (1 + 5.0 * abs(xd)) ** 2
                    keep = 0.0 if (core.neuron.reset_mode == "to_reset" and spiked) else 1.0
                    e = dz[t][i] * sig + keep * beta * nxt
                    nxt = e
                    s = rec.inputs[li][t, b] if rec.inputs[li].ndim == 3 else rec.inputs[li][b]
                    out[li][0][:, i] += s * e * grid.gain / core.neuron.v_th / nb
                    out[li][1][i] += e / core.neuron.v_th / nb
                    out[li][2][i] -= dz[t][i] * sig / core.neuron.v_th / nb
                    for j in range(n_in):
                        below[t][j] += w[j, i] * e * grid.gain / core.neuron.v_th
            dz = below
    return out


@pytest.mark.parametrize("reset", ["subtract", "to_reset"])
def test_backward_matches_reference(reset: str) -> None:
    """Two layers (rate input, a hidden layer with bias and a multiply leak, an output
    layer), every gradient equal to the loop-by-loop reference."""
    hidden = layer(6, 300, membrane=14, bias=8, leak_mode="multiply", decay_q=230,
                   decay_frac=8, reset_mode=reset)
    config = make_config([hidden, layer(3, 200, shift=2, bias=6, reset_mode=reset)], 5,
                         kind="rate", timesteps=6)
    rng = np.random.default_rng(1)
    params = params_of([rng.integers(-60, 127, (5, 6)), rng.integers(-40, 60, (6, 3))],
                       [rng.integers(0, 2, 6), rng.integers(0, 2, 3)],
                       [rng.integers(-20, 40, 6), rng.integers(-10, 10, 3)])
    x = rng.integers(0, 256, (4, 5))
    y = np.array([0, 1, 2, 1])
    _, grads = gradients(config, params, x, y)
    ref = _reference(config, params, x, y)
    assert sum(int(z.sum()) for z in B.forward(
        B._network(config, grids_of(config), params), x, np.arange(4)).spikes) > 0
    for li in range(2):
        for k in range(3):
            np.testing.assert_allclose(grads[li][k], ref[li][k], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("readout", ["membrane_final", "membrane_max"])
def test_backward_finite_difference(readout: str) -> None:
    """A spiking hidden layer (current input) into an output layer that never fires,
    integrate-and-fire, read by its final or its highest membrane: the loss is then a
    smooth function of the output layer's weights and biases (the maximum's timestep stays
    put for a one-LSB change), and the gradient equals the central difference over one LSB
    on their grids."""
    hidden = layer(4, 2000, membrane=18, leak_mode="multiply", decay_q=200, decay_frac=8)
    out = layer(3, 1 << 17, membrane=20, bias=10, shift=4)
    config = make_config([hidden, out], 6, kind="current", timesteps=5, readout=readout)
    rng = np.random.default_rng(2)
    params = params_of([rng.integers(-20, 60, (6, 4)), rng.integers(-100, 100, (4, 3))],
                       biases=[np.zeros(4), rng.integers(-50, 50, 3)])
    x = rng.integers(0, 256, (5, 6))
    y = np.array([0, 1, 2, 2, 0])
    _, grads = gradients(config, params, x, y)
    assert np.abs(grads[1][0]).max() > 0
    for k, index in [(0, (1, 2)), (0, (3, 0)), (1, (1,))]:
        up = [[p.copy() for p in lp] for lp in params]
        down = [[p.copy() for p in lp] for lp in params]
        up[1][k][index] += 1
        down[1][k][index] -= 1
        numeric = (gradients(config, up, x, y)[0] - gradients(config, down, x, y)[0]) / 2
        assert grads[1][k][index] == pytest.approx(numeric, rel=1e-4)


def test_membrane_max_gradient_by_hand() -> None:
    """Membranes 10, 10, 20, 20 and -5, -5, -10, -10 (no leak, no spikes): the maxima are
    20 first reached at t = 2 and -5 at t = 0, so the gradient enters there only."""
    config = make_config([layer(2, 1000)], 1, timesteps=4, readout="membrane_max")
    grids = grids_of(config)
    net = B._network(config, grids, params_of([[[10, -5]]]))
    x = np.array([[[1], [0], [1], [0]]], bool)
    rec = B.forward(net, x, np.arange(1))
    assert rec.v[:, 0].tolist() == [[10, -5], [10, -5], [20, -10], [20, -10]]
    loss, g, direct, _ = B.loss_gradient(rec, np.array([0]), "membrane_max", 1000.0)
    z = np.exp([0.02, -0.005])
    p = z / z.sum()
    assert loss == pytest.approx(-math.log(p[0]))
    assert direct is not None and not g.any()
    want = np.zeros((4, 1, 2))
    want[2, 0, 0], want[0, 0, 1] = p[0] - 1, p[1]
    np.testing.assert_allclose(direct, want, rtol=1e-12)


# -- forward ----------------------------------------------------------------------------

def test_forward_equals_network() -> None:
    """The recorded forward pass is the network's: per layer spike totals and output counts
    equal ``run_outputs``, and a spike is exactly a membrane at or above its threshold."""
    config = make_config([layer(8, 400, bias=8, leak_mode="shift", leak_shift=2),
                          layer(3, 100, shift=1)], 10, kind="rate", timesteps=7)
    grids = grids_of(config)
    rng = np.random.default_rng(3)
    params = B.initial_parameters(grids, rng, 3.0)
    params[0][1][:] = rng.integers(-50, 100, 8)
    params[1][0][:] = rng.integers(0, 100, (8, 3))
    net = B._network(config, grids, params)
    x = rng.integers(0, 256, (9, 10))
    keys = np.arange(100, 109)
    rec = B.forward(net, x, keys)
    want = Network(config.network, "integer",
                   weights=[g.quantize(0, p[0]) for g, p in zip(grids, params, strict=True)],
                   bias=[grids[0].quantize(1, params[0][1]), None]).run_outputs(x, keys)
    assert (rec.outputs.counts == want.counts).all()
    assert [int(z.sum()) for z in rec.spikes] == want.layer_spikes.sum(axis=0).tolist()
    assert (rec.spikes[1].sum(axis=0) == want.counts).all() and want.counts.sum() > 0
    for li, core in enumerate(config.network.cores):
        assert (rec.spikes[li] == (rec.integrated[li] >= core.neuron.v_th)).all()


def test_affine_images() -> None:
    """A 3x3 image moved one row down and one column left, zeros shifted in (exact); a
    quarter turn about the centre; a scaling by 2 about the centre samples the centre
    pixel and its neighbours half way (bilinear, rounded)."""
    img = np.arange(1, 10).reshape(1, 9)
    out = affine_images(img, (3, 3), np.array([1]), np.array([-1]))
    assert out.reshape(3, 3).tolist() == [[0, 0, 0], [2, 3, 0], [5, 6, 0]]
    out = affine_images(img, (3, 3), np.zeros(1), np.zeros(1), np.array([np.pi / 2]))
    # output (y, x) takes input (cy + (y-cy) cos - (x-cx) sin, ...) = (2 - x, y)
    assert out.reshape(3, 3).tolist() == [[7, 4, 1], [8, 5, 2], [9, 6, 3]]
    out = affine_images(img * 10, (3, 3), np.zeros(1), np.zeros(1), None, np.array([2.0]))
    # corner (0, 0) samples (0.5, 0.5): (10 + 20 + 40 + 50) / 4 = 30; edge (0, 1) samples
    # (0.5, 1): (20 + 50) / 2 = 35
    assert out.reshape(3, 3).tolist() == [[30, 35, 40], [45, 50, 55], [60, 65, 70]]
    rng = np.random.default_rng(0)
    assert augment(img, (3, 3), rng, 0, 0.0, 0.0, 0.0) is img


# -- integer gradient path --------------------------------------------------------------

def test_integer_roundings_by_hand() -> None:
    """v_th = 1024, slope 4, 4 index bits: the table covers 8 / 4 thresholds in 16 entries,
    256 LSBs (shift 8, x step 1/4) each."""
    config = make_config([layer(2, 1024, leak_mode="shift", leak_shift=1)], 1, slope=4.0,
                         surrogate_index_bits=4, surrogate_bits=8, error_bits=8, error_frac=4)
    bc = config.network.rule.bptt
    assert bc is not None
    il = IntegerLayer(config.network.cores[0], bc)
    assert il.table_shift == 8
    # error grid: round(x * 16), saturated to 8 bits
    assert quantize_error(np.array([0.5, -0.25, 100.0, -0.03]), bc).tolist() == [8, -4, 127, 0]
    # d = 10 and -1 share the entries next to 0 (x = +-1/8: 256 / 1.5**2 = 113.8 -> 114);
    # d = -1024 is entry 4 (x = -7/8: 256 / 4.5**2 = 12.6 -> 13); far below: entry 0
    # (x = -15/8: 256 / 8.5**2 = 3.5 -> 4)
    u = np.array([1034, 1023, 0, -100000])
    assert il.sigma(u, np.zeros(4, np.int64)).tolist() == [114, 114, 13, 4]
    # a = (g * sigma + 128) >> 8: 100 * 114 -> 45 (44.53 rounds up), -100 * 114 -> -45;
    # e[1] = a, e[0] = a + trunc(e[1] / 2) = 45 + 22
    g = np.array([[[100, -100]], [[100, -100]]])
    a, e = il.errors(g, np.full((2, 1, 2), 114), np.zeros((2, 1, 2), bool), None)
    assert a[0].tolist() == [[45, -45]] and e[1].tolist() == [[45, -45]]
    assert e[0].tolist() == [[67, -67]]
    # saturation at the 8-bit error rail
    _, e = il.errors(np.full((2, 1, 1), 127), np.full((2, 1, 1), 255),
                     np.zeros((2, 1, 1), bool), None)
    assert e[0].tolist() == [[127]]
    # below: round(3 * 1000 / 1024) = 3 (2.93), as (3000 * 2**17 + 2**26) >> 27
    assert il.multiplier == 1 << 17 and il.precision == 27
    assert il.below(np.array([[[1000]]]), np.array([[3]])).tolist() == [[[3]]]


def test_master_rounding() -> None:
    """A change of 1.2 steps of 2**-2 becomes 1 step with probability 0.8, 2 with 0.2, by
    the generators' high 16 bits: the draw below 52429 (0.8 * 2**16) rounds down."""
    rounding = MasterRounding(7, [(4096,)], 2)
    old = np.zeros(4096)
    new = np.full(4096, 0.3)
    rounding.apply(0, old, new)
    rand16 = step(base_states(7, 2, 4096)) >> np.uint32(16)
    assert (new == np.where(rand16 < 52429, 0.25, 0.5)).all()
    assert abs(new.mean() - 0.3) < 0.01
    old, new = np.full(3, 0.75), np.full(3, 0.75)
    rounding = MasterRounding(7, [(3,)], 2)
    rounding.apply(0, old, new)
    assert (new == 0.75).all()                        # no change stays exactly put


def test_integer_backward_follows_float() -> None:
    """On a network firing at moderate rates the integer path's gradients point where the
    float path's do (cosine above 0.95: the table is a staircase of the bump) and stay
    within 15 % in size.  (Far above the
    threshold they part: the table's end entries answer for every larger distance.)"""
    hidden = layer(6, 30000, membrane=18, bias=10, leak_mode="multiply", decay_q=230,
                   decay_frac=8)
    config = make_config([hidden, layer(3, 2000, shift=4)], 5, kind="current", timesteps=8)
    rng = np.random.default_rng(4)
    params = params_of([rng.integers(-20, 60, (5, 6)), rng.integers(-40, 100, (6, 3))],
                       biases=[rng.integers(-100, 300, 6), np.zeros(3)])
    x = rng.integers(0, 256, (16, 5))
    y = rng.integers(0, 3, 16)
    _, gf = gradients(config, params, x, y)
    _, gi = gradients(config, params, x, y, integer=True)
    for li, k in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]:
        a, b = gf[li][k].ravel(), gi[li][k].ravel()
        assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) > 0.95
        assert 0.85 < np.linalg.norm(b) / np.linalg.norm(a) < 1.15


# -- optimizer --------------------------------------------------------------------------

def test_schedules_and_optimizers() -> None:
    """Schedules by hand; Adam's first step moves by lr * scale (m_hat / sqrt(s_hat) = 1);
    SGD by lr * scale**2 * g; decoupled decay shrinks by lr * decay."""
    assert schedule_factor("constant", 3, 10) == 1.0
    assert schedule_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert [schedule_factor("step", e, 9) for e in (0, 3, 6)] == [1.0, 0.5, 0.25]
    p = np.array([10.0, -4.0])
    Optimizer("adam", [100.0]).step([p], [np.array([0.5, -2.0])], 0.01)
    assert p == pytest.approx([9.0, -3.0])
    p = np.array([1.0])
    Optimizer("sgd", [2.0], weight_decay=0.5).step([p], [np.array([0.25])], 0.1)
    assert p == pytest.approx([(1.0 - 0.1 * 4 * 0.25) * (1 - 0.1 * 0.5)])


# -- the trainer ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits() -> tuple[Dataset, Dataset]:
    train, test = load_digits()
    return (Dataset("digits", train.images[:240], train.labels[:240], train.shape, 10),
            Dataset("digits", test.images[:100], test.labels[:100], test.shape, 10))


def small_digits(**rule: Any) -> Config:
    hidden = layer(24, 32768, membrane=20, bias=15, leak_mode="multiply", decay_q=117965,
                   decay_frac=17)
    out = layer(10, 512, membrane=16, bias=12, shift=2, leak_mode="multiply",
                decay_q=117965, decay_frac=17)
    return make_config([hidden, out], 64, kind="current", timesteps=8,
                       **{"batch": 8, "learning_rate": 0.01, **rule})


def test_train_loss_falls_and_repeats(digits: tuple[Dataset, Dataset]) -> None:
    """Loss falls over three epochs; progress counts every training sample and every epoch
    is told to ``on_epoch``; the epoch kept
    is the best on validation; the same seed gives the same network (shifted images
    included), another seed another."""
    config = small_digits(validation=40)
    seen: list[tuple[str, int, int]] = []
    told: list[Any] = []
    result = B.train_bptt(config, digits[0], epochs=3,
                          progress=lambda *a: seen.append(a), on_epoch=told.append)
    assert told == result.history     # each epoch told as it ends
    losses = [h.loss for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    assert seen[-2] == ("train", 600, 600) and seen[-1] == ("validate", 3, 3)
    valid = [h.validation_accuracy for h in result.history]
    assert result.best_epoch == valid.index(max(valid))
    assert all(0 < r < 1 for h in result.history for r in h.layer_rates)
    shifted = small_digits(validation=40, augment_shift=1, augment_translate=0.5,
                           augment_rotate=10.0, augment_scale=0.1)
    one = B.train_bptt(shifted, digits[0], epochs=2)
    again = B.train_bptt(shifted, digits[0], epochs=2)
    for la, lb in zip(one.network.layers, again.network.layers, strict=True):
        assert (la.weights == lb.weights).all() and (la.bias == lb.bias).all()
    other = B.train_bptt(Config.from_dict({**shifted.to_dict(), "seed": 1}), digits[0],
                         epochs=2)
    assert (other.network.layers[0].weights != one.network.layers[0].weights).any()


def test_early_stopping(digits: tuple[Dataset, Dataset]) -> None:
    """A learning rate too small to change a weight leaves the validation accuracy where
    it was: with patience 2 training stops after epoch 2 and keeps epoch 0 (ties go to the
    earlier)."""
    result = B.train_bptt(small_digits(validation=40, patience=2, learning_rate=1e-12),
                          digits[0], epochs=6)
    assert len(result.history) == 3 and result.best_epoch == 0
    assert len({h.validation_accuracy for h in result.history}) == 1


def test_trained_network_saves_and_evaluates(digits: tuple[Dataset, Dataset],
                                             tmp_path: Path) -> None:
    """The returned network evaluates with ``golden.train.evaluate`` and, saved and loaded,
    gives the same predictions (what ``plasticore eval --weights`` runs); the integer
    backward trains too."""
    config = small_digits(backward="integer", learn_theta=True)
    result = B.train_bptt(config, digits[0], epochs=2)
    ev = evaluate(result.network, digits[0], digits[1], readout="count")
    assert ev.accuracy > 0.3
    path = tmp_path / "w.npz"
    save_weights(path, config, result.network)
    data = load_weights(path, config.network)
    loaded = Network(config.network, "integer",
                     weights=[d["weights"] for d in data["layers"]],
                     theta=[d["theta"] for d in data["layers"]],
                     bias=[d["bias"] for d in data["layers"]])
    again = evaluate(loaded, digits[0], digits[1], readout="count")
    assert (again.predictions == ev.predictions).all()


def test_train_bad_parameters(digits: tuple[Dataset, Dataset]) -> None:
    """Each bad request is refused in one line naming what is wrong."""
    config = small_digits(validation=240)
    with pytest.raises(ValueError, match=r"rule.validation = 240: must be below the 240"):
        B.train_bptt(config, digits[0])
    with pytest.raises(ValueError, match="epochs = 0: must be at least 1"):
        B.train_bptt(small_digits(), digits[0], epochs=0)
    d = small_digits().to_dict()
    d["rule"] = {"kind": "none"}
    with pytest.raises(ValueError, match="rule.kind = 'none': BPTT training needs"):
        B.train_bptt(Config.from_dict(d), digits[0])
    direct = make_config([layer(10, 100)], 64, augment_translate=0.5)
    with pytest.raises(ValueError, match="moves pixel images, not direct-input rasters"):
        B.train_bptt(direct, digits[0])
    d = small_digits().to_dict()
    d["classify"]["readout"] = "proportion"
    with pytest.raises(ValueError, match="classify.readout = 'proportion'"):
        B.train_bptt(Config.from_dict(d), digits[0])
