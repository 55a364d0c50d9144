"""The host driver against the simulated board (``boards/tb_board.py``), both simulators.

CI: a few digits test samples through the link (counts and classes equal to the golden
model) and a short fuzz run.  ``make sim`` (slow): the whole digits test set with trained
weights, and 10,000 fuzz frames.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plasticore.boards import board_sim
from plasticore.config import load_config
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network


def small_digits():
    """The digits network cut to 20 neurons: the same link and core generator, a fifth of
    the weights to load over the simulated UART (CI runs it under both simulators)."""
    config = load_config("digits")
    return dataclasses.replace(config, core=config.core.replace(n_neurons=20))


def banked_digits():
    """The digits network cut to 16 neurons in 4 words, with 4 encoder lanes and 2 row banks:
    the link's weight loads and reads must reach the right bank."""
    config = load_config("digits")
    return dataclasses.replace(config, core=config.core.replace(
        n_neurons=16, row_banks=2, **{"encoder.lanes": 4}))


def _network(config, seed: int = 0):
    net = Network(config.core)
    rates = np.random.default_rng(seed).random((config.classify.n_classes,
                                                config.core.n_neurons)) * 4
    return net.weights, net.theta, rates


@pytest.mark.parametrize("make_config", [small_digits, banked_digits],
                         ids=["digits20", "digits16-banks2"])
def test_board_classifies_like_golden(make_config, simulator, tmp_path):
    config = make_config()
    weights, theta, rates = _network(config)
    _, test = load_dataset("digits", None, 8)
    result = board_sim.run(config, weights, theta, rates, test.images[:3], test.labels[:3],
                           simulator, tmp_path)
    assert result.passed, result.report
    assert result.report["samples"] == 3
    assert result.report["counts_equal"] == result.report["class_equal"] == 3


def test_board_fuzz(simulator, tmp_path):
    config = small_digits()
    weights, theta, rates = _network(config)
    result = board_sim.run(config, weights, theta, rates, np.zeros((0, 64)), np.zeros(0),
                           simulator, tmp_path, fuzz_frames=120, seed=1)
    assert result.passed, result.report
    assert result.report["unchanged"] and result.report["frames"] == 120


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.verilator
def test_board_whole_test_set_trained(tmp_path):
    """The simulated board answers the whole digits test set exactly as the golden model."""
    from plasticore.golden.classify import Readout
    from plasticore.golden.train import train

    config = load_config("digits")
    train_set, test_set = load_dataset("digits", None, 8)
    net, _, _ = train(config.core, train_set)
    label_counts = np.stack([net.run_sample(img, key=i, learn=False).counts
                             for i, img in enumerate(train_set.images)])
    readout = Readout(config.classify.readout, label_counts, train_set.labels, 10)
    result = board_sim.run(config, net.weights, net.theta, readout.rates, test_set.images,
                           test_set.labels, "verilator", tmp_path)
    report = result.report
    assert result.passed, report["first_mismatch"]
    assert report["samples"] == len(test_set.labels) == 597
    assert report["counts_equal"] == report["class_equal"] == 597
    assert report["correct"] / 597 > 0.8


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.verilator
def test_board_fuzz_10000(tmp_path):
    config = load_config("digits")
    weights, theta, rates = _network(config)
    result = board_sim.run(config, weights, theta, rates, np.zeros((0, 64)), np.zeros(0),
                           "verilator", tmp_path, fuzz_frames=10_000, seed=2)
    assert result.passed, result.report
    assert result.report["unchanged"]
