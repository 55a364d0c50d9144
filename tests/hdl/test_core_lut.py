# amaranth: UnusedElaboratable=no
"""Whole cores on the LUT forward engine in Amaranth's simulator: every spike, count,
weight read back, and the cycles of every timestep (the first sample's table build
included) against the golden model and its cycle model; groups of 2 to 6, row banks, signed
weights and a bias, rate and direct input; and the co-simulation matrix's networks with a
LUT layer in either position (``NetworkCore``)."""

from __future__ import annotations

import numpy as np
import pytest

from plasticore.config import CoreConfig, RuleConfig
from plasticore.hdl.cycles import build_cycles
from plasticore.sim import cosim
from plasticore.sim.core_session import Sample, compare, golden_session, run_amaranth
from plasticore.sim.matrix import network_matrix, network_state, scaled_core


def _lut_core(k: int, *, n_inputs: int = 24, n_neurons: int = 8, n_pe: int = 2,
              lanes: int = 1, banks: int = 1, kind: str = "rate", signed: bool = True,
              bias: int = 8, v_th: int = 600, timesteps: int = 10) -> CoreConfig:
    """A core trained elsewhere on the LUT engine, thresholds low enough to spike often."""
    return scaled_core(8, 16, timesteps=timesteps, learn=False, n_inputs=n_inputs,
                       n_neurons=n_neurons).replace(stdp=RuleConfig("none").core_stdp).replace(
        n_pe=n_pe, row_banks=banks, forward="lut", lut_group=k,
        **{"encoder.lanes": lanes, "encoder.kind": kind, "widths.weight_signed": signed,
           "widths.bias": bias, "neuron.v_th": v_th, "neuron.v_rest": 0,
           "neuron.v_reset": 0, "neuron.t_ref": 1, "neuron.theta_plus": 0,
           "neuron.w_inh": 20})


CASES = {
    "k2-rate-unsigned": _lut_core(2, signed=False, bias=0, v_th=1500),
    "k3-rate-lanes2-banks2": _lut_core(3, lanes=2, banks=2),
    "k4-rate-lanes4-banks2": _lut_core(4, lanes=4, banks=2, n_inputs=32),
    "k5-direct-w3": _lut_core(5, kind="direct", n_neurons=6),      # W = 3, 5 groups of 5
    "k6-direct-lanes8-banks4": _lut_core(6, kind="direct", lanes=8, banks=4, n_inputs=64,
                                         n_pe=4),
    "k6-rate-lanes1-partial": _lut_core(6, n_inputs=20),           # the last group of 2
}


def _session(core: CoreConfig, n: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    d = core.derived
    w = rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons), endpoint=True)
    if core.widths.weight_signed:
        w[:, ::2] = np.abs(w[:, ::2])           # some neurons mostly excited
    bias = rng.integers(d.bias_min, d.bias_max, core.n_neurons, endpoint=True) \
        if core.widths.bias else None
    if core.encoder.kind == "direct":
        images = rng.random((n, core.timesteps, core.n_inputs)) < 0.4
    else:
        images = rng.integers(0, 255, (n, core.n_inputs), endpoint=True)
    samples = [Sample(images[i], key=50 + i, learn=False) for i in range(n)]
    return w, np.zeros(core.n_neurons, np.int64), samples, bias


@pytest.mark.parametrize("label", list(CASES))
def test_lut_core_matches_golden(label: str) -> None:
    """Spikes, counts and weights bit for bit; every timestep's cycles and every sample's
    as the cycle model, the first sample's with the table build."""
    core = CASES[label]
    w, theta, samples, bias = _session(core)
    expected = golden_session(core, w, theta, samples, bias)
    assert sum(len(s) for s in expected.spikes) >= 10, "the session must spike"
    got = run_amaranth(core, w, theta, samples, bias=bias)
    assert compare(core, got, expected) is None, compare(core, got, expected)
    # the build: only the first sample after the weights load waits for it
    assert expected.totals[0] - expected.totals[1] > build_cycles(core) - 50


def test_lut_core_under_backpressure() -> None:
    """Consumers that stall 40 % of the time change only the cycles."""
    core = CASES["k4-rate-lanes4-banks2"]
    w, theta, samples, bias = _session(core, n=2, seed=1)
    expected = golden_session(core, w, theta, samples, bias)
    got = run_amaranth(core, w, theta, samples, stall=0.4, seed=3, bias=bias)
    assert compare(core, got, expected, cycles=False) is None


def test_a_wrong_table_is_caught() -> None:
    """The comparison is able to fail: the golden model with one weight changed (as a
    wrong table entry would change the current) differs from the RTL's run."""
    core = CASES["k3-rate-lanes2-banks2"]
    w, theta, samples, bias = _session(core)
    got = run_amaranth(core, w, theta, samples, bias=bias)
    spoiled = w.copy()
    spoiled[:, 0] = core.derived.w_max          # neuron 0 excited by every input
    difference = compare(core, got, golden_session(core, spoiled, theta, samples, bias))
    assert difference is not None and difference.startswith("sample 0: spike")


LUT_NETWORKS = {e.label: e for e in network_matrix(quick=True) if "lut" in e.label}


@pytest.mark.parametrize("label", list(LUT_NETWORKS))
def test_lut_network_matches_golden(label: str) -> None:
    """A LUT layer after an accumulate one (its spikes from the previous layer's neuron
    pass) and a rate-input layer 0 on the LUT engine: the last layer's spikes and counts,
    every layer's weights, every layer's timestep ends (the first sample's builds
    included) as the golden and cycle models."""
    network = LUT_NETWORKS[label].network
    assert any(core.forward == "lut" for core in network.cores)
    weights, theta, bias = network_state(network)
    samples = cosim.session_samples(network, 2, learn=False)
    expected = golden_session(network, weights, theta, samples, bias)
    assert sum(len(s) for s in expected.spikes) > 0
    got = run_amaranth(network, weights, theta, samples, bias=bias)
    assert compare(network, got, expected) is None, compare(network, got, expected)
