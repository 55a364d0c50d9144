"""Fixtures of the BPTT command-line tests: a tiny ``rule.kind = "bptt"`` configuration and
random in-range integer weights for it (``tiny_bptt``), for the tools that must take a
BPTT network as they take an imported one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.config import BpttConfig, Config, RuleConfig, load_config
from plasticore.golden.network import Network
from plasticore.golden.train import save_weights


def tiny_config(path: Path, timesteps: int = 6, hidden: int = 16, validation: int = 40,
                epochs: int = 2, readout: str = "count", **bptt: Any) -> Config:
    """A 64-HIDDEN-10 digits network with current input and signed 8-bit weights (the
    snnTorch import's numerics, ``configs/digits-mlp-snntorch.toml``), trained by BPTT;
    written to ``path``."""
    base = load_config("digits-mlp-snntorch")
    network = base.network
    layers = (dataclasses.replace(network.layers[0], n_neurons=hidden), network.layers[1])
    rule = RuleConfig(kind="bptt", bptt=BpttConfig(batch=16, validation=validation, **bptt))
    network = dataclasses.replace(network, timesteps=timesteps, layers=layers, rule=rule)
    config = dataclasses.replace(base.replace_network(network),
                                 data=dataclasses.replace(base.data, epochs=epochs),
                                 classify=dataclasses.replace(base.classify, readout=readout))
    config.save(path)
    return load_config(path)


def random_network(config: Config, seed: int = 0) -> Network:
    """``config``'s network with uniform random weights and biases within their widths, no
    threshold offsets."""
    rng = np.random.default_rng(seed)
    cores = config.network.cores
    weights = [rng.integers(c.derived.w_min, c.derived.w_max, (c.n_inputs, c.n_neurons),
                            endpoint=True) for c in cores]
    bias = [rng.integers(c.derived.bias_min, c.derived.bias_max, c.n_neurons, endpoint=True)
            // 2 for c in cores]
    theta = [np.zeros(c.n_neurons, np.int64) for c in cores]
    return Network(config.network, weights=weights, theta=theta, bias=bias)


def random_weights(config: Config, path: Path, seed: int = 0) -> Network:
    """:func:`random_network` written to ``path`` as ``plasticore train`` writes weights."""
    net = random_network(config, seed)
    save_weights(path, config, net)
    return net


@pytest.fixture
def tiny_bptt(tmp_path: Path) -> Any:
    """``tiny_bptt(**changes)``: :func:`tiny_config` written to ``tmp_path/tiny.toml``,
    returning the loaded config."""
    def make(**changes: Any) -> Config:
        return tiny_config(tmp_path / "tiny.toml", **changes)

    return make


@pytest.fixture
def fake_trainer(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace ``plasticore.golden.bptt`` by a stand-in whose ``train_bptt`` trains
    nothing: it returns :func:`random_network` and a made-up history of the requested
    epochs (counted from 0 as the trainer does; the last one best), each told to
    ``on_epoch`` as the trainer does.  The list it returns
    records every call's arguments."""
    import sys
    import types
    from types import SimpleNamespace

    calls: list[Any] = []

    def train_bptt(config: Config, train_set: Any, epochs: int | None = None,
                   progress: Any = None, on_epoch: Any = None) -> Any:
        calls.append((config, train_set, epochs))
        n = epochs or config.data.epochs
        history = [SimpleNamespace(epoch=e, loss=2.0 / (e + 1), train_accuracy=0.5 + e / 10,
                                   validation_accuracy=0.4 + e / 10, learning_rate=0.002,
                                   seconds=0.1, layer_rates=[0.25, 0.125])
                   for e in range(n)]
        for stats in history if on_epoch is not None else ():
            on_epoch(stats)
        return SimpleNamespace(network=random_network(config, config.network.seed),
                               history=history, best_epoch=n - 1, seconds=0.5,
                               samples_per_second=123.0)

    module = types.ModuleType("plasticore.golden.bptt")
    module.train_bptt = train_bptt  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "plasticore.golden.bptt", module)
    return calls


@pytest.fixture(scope="module")
def trained_bptt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``tiny.toml`` (64-16-10, 8 timesteps) and ``w.npz``, the weights that
    ``plasticore train`` wrote for it (300 samples, 40 held out, 2 epochs)."""
    from plasticore.cli import main

    folder = tmp_path_factory.mktemp("bptt")
    tiny_config(folder / "tiny.toml", timesteps=8, learning_rate=0.01)
    assert main(["train", str(folder / "tiny.toml"), "--samples", "300", "--test-samples",
                 "50", "--quiet", "--weights-out", str(folder / "w.npz")]) == 0
    return folder
