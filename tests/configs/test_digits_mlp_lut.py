"""configs/digits-mlp-lut.toml: configs/digits-mlp.toml (the BPTT-trained 64-100-10 MLP) on the
LUT forward engine wherever it applies, the same numerics, so the same weights give the same
spikes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plasticore.config import ConfigError, load_config
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network


def test_digits_mlp_lut_is_digits_mlp_on_the_lut_engine() -> None:
    """Only the forward fields differ: layer 1 on LUTs of 2 inputs."""
    shipped, lut = load_config("digits-mlp"), load_config("digits-mlp-lut")
    assert [(layer.forward, layer.lut_group) for layer in lut.network.layers] == [
        ("accumulate", 4), ("lut", 2)]
    back = dataclasses.replace(lut.network, layers=tuple(
        dataclasses.replace(layer, forward="accumulate", lut_group=4)
        for layer in lut.network.layers))
    assert back == shipped.network
    assert lut.network != shipped.network
    assert (lut.classify, lut.data, lut.board) == (shipped.classify, shipped.data,
                                                   shipped.board)


def test_every_layer_that_can_is_on_luts() -> None:
    """Layer 0 takes the pixels as a current: the configuration refuses a LUT there."""
    lut = load_config("digits-mlp-lut").network
    assert lut.input.kind == "current"
    with pytest.raises(ConfigError, match="forward"):
        dataclasses.replace(lut, layers=(dataclasses.replace(lut.layers[0], forward="lut"),
                                         lut.layers[1]))


def test_the_same_weights_give_the_same_spikes() -> None:
    """Random weights in the 8-bit range, two test images: every spike of the LUT network's
    last layer equals digits-mlp's (the golden model, accumulate path and table path)."""
    shipped, lut = load_config("digits-mlp").network, load_config("digits-mlp-lut").network
    rng = np.random.default_rng(3)
    weights = [rng.integers(-128, 128, (64, 100)), rng.integers(-128, 128, (100, 10))]
    theta = [np.zeros(100, np.int64), np.zeros(10, np.int64)]
    _, test_set = load_dataset("digits", None, 8)
    rasters = []
    for network in (shipped, lut):
        net = Network(network, weights=[w.copy() for w in weights], theta=theta)
        rasters.append([net.run_sample(test_set.images[k], k, learn=False, record=True).raster
                        for k in range(2)])
    assert all(np.array_equal(a, b) for a, b in zip(*rasters, strict=True))
    assert sum(int(r.sum()) for r in rasters[0]) > 0      # spikes to compare
