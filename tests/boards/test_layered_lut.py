"""The board design around a network with LUT layers (``LinkedCore`` around
``NetworkCore``, Icarus): the host link loads the weights into the tables through the
access port, every sample's counts and classes equal the golden model's, and after fuzz
frames every layer's weights read back as loaded (slow: about 40 s)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plasticore.boards import board_sim
from plasticore.config import Config

from .test_layered import parameters, two_layers


def lut_layers() -> Config:
    """``test_layered.two_layers`` with layer 0 on groups of 3 and layer 1 on groups of 4."""
    config = two_layers()
    network = config.network
    layers = tuple(dataclasses.replace(layer, forward="lut", lut_group=k)
                   for layer, k in zip(network.layers, (3, 4), strict=True))
    return config.replace_network(dataclasses.replace(network, layers=layers))


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.icarus
def test_lut_layers_on_the_simulated_board(tmp_path):
    config = lut_layers()
    assert [core.forward for core in config.network.cores] == ["lut", "lut"]
    weights, theta, bias = parameters(config)
    images = np.random.default_rng(7).integers(0, 256, size=(3, 16))
    result = board_sim.run(config, weights, theta, None, images, np.arange(3) % 4,
                           "icarus", tmp_path, bias=bias)
    assert result.passed, result.report
    assert result.report["counts_equal"] == result.report["class_equal"] == 3
    result = board_sim.run(config, weights, theta, None, np.zeros((0, 16)), np.zeros(0),
                           "icarus", tmp_path, fuzz_frames=3, seed=3, bias=bias)
    assert result.passed, result.report
    assert result.report["unchanged"] and result.report["frames"] == 3
