# amaranth: UnusedElaboratable=no
"""The session of a network of several layers (``plasticore.sim.core_session`` with a
``NetworkConfig``), without cocotb: the golden session against a silent sample worked out
by hand, against ``NetworkCore`` run by ``drive`` in Amaranth's simulator (the RTL,
independent of the golden model), the comparison's messages on faults, and the session
file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from plasticore.sim.core_session import (
    Sample,
    compare,
    golden_session,
    read_session,
    run_amaranth,
    write_session,
)
from plasticore.sim.cosim import session_samples
from plasticore.sim.matrix import network_matrix, network_state, scaled_network
from plasticore.sim.target import Target

QUICK = {entry.label: entry for entry in network_matrix(quick=True)}


def test_silent_sample_by_hand() -> None:
    """16-8-4, two lanes per layer, 3 timesteps, no pixel: no spike.  Layer 0 (rate input):
    the command at 0, pixels 1..16, the encode pass 16 + 6, the main sequence
    4 words * 1 + 7 + 2 = 13: timestep 0 ends at 16 + 22 + 1 + 13 = 52, then every
    1 + 22 = 23 (the encode pass outlasts the main sequence).  Layer 1 (direct, 8 inputs):
    the raster is valid the cycle after layer 0's end and taken at once, encode
    1 + 8 + 6, main 2 * 1 + 7 + 2: its timesteps end 1 + 15 + 11 = 27 after layer 0's.
    The counts: 2 words * (1 + 2) after layer 1's last end, the last one's cycle
    included."""
    network = scaled_network([16, 8, 4], [2, 2], timesteps=3)
    weights, theta, bias = network_state(network)
    got = golden_session(network, weights, theta, [Sample(np.zeros(16, np.int64), 5, False)],
                         bias)
    assert [e.tolist() for e in got.step_ends[0]] == [[52, 75, 98], [79, 102, 125]]
    assert got.cycles[0].tolist() == [79, 23, 23] and got.totals == [125 + 6 + 1]
    assert got.spikes[0].shape == (0, 2) and not got.counts[0].any()
    assert all((g == w).all() for g, w in zip(got.weights, weights, strict=True))
    assert got.bias == [None, None]


@pytest.mark.parametrize("label", list(QUICK))
def test_network_session_in_amaranth(label: str) -> None:
    """The CI networks' sessions on ``NetworkCore`` (a one-layer one on its ``SnnCore``) in
    Amaranth's simulator (loaded and read back through the ``layer`` field, stalled
    outputs where the entry says so): equal to the golden session, every layer's timestep
    ends and the membrane readout included (without stalls); every layer spikes."""
    entry = QUICK[label]
    network = entry.network
    target = Target.of(network, entry.membrane)
    weights, theta, bias = (target.shaped(v) for v in network_state(network))
    samples = session_samples(network, 2, learn=False)
    expected = golden_session(target, weights, theta, samples, bias)
    got = run_amaranth(target, weights, theta, samples, stall=entry.stall, seed=3,
                       bias=bias)
    assert compare(target, got, expected, cycles=entry.stall == 0) is None
    assert len(got.spikes[0]) + len(got.spikes[1]) > 0
    assert len(got.membranes) == (2 if entry.membrane else 0)
    assert [b is None for b in target.per_layer(got.bias, "bias")] == [
        not c.widths.bias for c in network.cores]
    if entry.stall:
        assert sum(got.totals) > sum(expected.totals)


def test_a_fault_in_a_hidden_layer_is_named() -> None:
    """The RTL loaded with one hidden-layer neuron's weights at the maximum (layer 1 of
    three): the last layer's spikes differ in the first sample.  Faults injected into
    copies of the golden session name their layer."""
    network = QUICK["16-12-8-4-direct-signed-bias-mixed-banks2-stall-membrane-final"].network
    weights, theta, bias = network_state(network)
    samples = session_samples(network, 1, learn=False)
    expected = golden_session(network, weights, theta, samples, bias)
    wrong = [w.copy() for w in weights]
    wrong[1][:, 0] = network.cores[1].derived.w_max
    got = run_amaranth(network, wrong, theta, samples, bias=bias)
    assert str(compare(network, got, expected)).startswith("sample 0: spike at timestep ")

    def bad(**changes: object) -> str | None:
        return compare(network, dataclasses.replace(expected, **changes), expected)

    ends = [[e.copy() for e in sample] for sample in expected.step_ends]
    ends[0][1][4] += 1
    assert bad(step_ends=ends) == (f"sample 0, layer 1: timestep 4 ended at cycle "
                                   f"{ends[0][1][4]}, the cycle model predicts "
                                   f"{ends[0][1][4] - 1}")
    w = [x.copy() for x in expected.weights]
    w[2][3, 1] += 1
    assert bad(weights=w) == (f"layer 2: weight from input 3 to neuron 1: RTL {w[2][3, 1]}, "
                              f"golden {w[2][3, 1] - 1}")
    b = [None if x is None else x.copy() for x in expected.bias]
    b[2][0] ^= 1
    assert str(bad(bias=b)).startswith("layer 2: bias of neuron 0: RTL ")
    assert bad(bias=[b[0], None, None]) == "layer 2: the biases were not read back"


def test_session_file_holds_every_layer(tmp_path: Path) -> None:
    """Every layer's arrays under the weights file's names (``weights``, ``weights_1``, ...;
    a bias only where a layer has one); a single core's file keeps its names."""
    network = QUICK["16-12-8-4-direct-signed-bias-mixed-banks2-stall-membrane-final"].network
    weights, theta, bias = network_state(network)
    samples = session_samples(network, 2, learn=False)
    path = write_session(tmp_path / "s.npz", weights, theta, samples, bias)
    with np.load(path) as f:
        assert {"weights", "weights_1", "weights_2", "theta_2", "bias", "bias_2"} <= set(
            f.files) and "bias_1" not in f.files
    w, th, got_samples, b = read_session(path)
    assert len(w) == len(th) == len(b) == 3 and b[1] is None
    assert all((x == y).all() for x, y in zip(w + th, weights + theta, strict=True))
    assert (b[2] == bias[2]).all() and (got_samples[1].pixels == samples[1].pixels).all()
    core = Target.of(scaled_network([16, 4], [2])).first
    write_session(tmp_path / "c.npz", weights[0][:, :4], theta[0][:4], samples)
    w, th, _, b = read_session(tmp_path / "c.npz")
    assert w.shape == (16, 4) and th.shape == (4,) and b is None and core.n_neurons == 4
