"""Weights files: atomic writes, only the arrays we need read, a stored readout checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.config import load_config
from plasticore.golden import train as train_module
from plasticore.golden.classify import Readout
from plasticore.golden.network import Network
from plasticore.golden.train import WeightsError, load_weights, save_weights

CONFIG = load_config("digits")
CORE = CONFIG.core


def _readout() -> Readout:
    counts = np.tile(np.arange(CORE.n_neurons) % 7, (20, 1))
    return Readout("proportion", counts, np.arange(20) % 10, 10)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    net = Network(CORE)
    path = tmp_path / "w.npz"
    save_weights(path, CONFIG, net, _readout())
    data = load_weights(path, CORE)
    assert np.array_equal(data["weights"], net.weights)
    assert np.array_equal(data["theta"], net.theta)
    assert np.array_equal(data["class_rates"], _readout().rates)
    assert "config_mismatch" not in data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way leaves the previous weights whole and no temporary."""
    path = tmp_path / "w.npz"
    old = Network(CORE)
    save_weights(path, CONFIG, old)
    before = path.read_bytes()

    def broken(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_module.np, "savez_compressed", broken)
    with pytest.raises(Exception, match="No space left"):
        save_weights(path, CONFIG, Network(CORE.replace(seed=5)))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_directory_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r": is a directory, not a weights file$"):
        load_weights(tmp_path, CORE)


def test_extra_arrays_are_never_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = Network(CORE)
    path = tmp_path / "w.npz"
    np.savez(path, weights=net.weights, theta=net.theta, huge=np.zeros(1000, np.int64))
    read: list[str] = []
    original = np.lib.npyio.NpzFile.__getitem__

    def spy(self: Any, key: str) -> Any:
        read.append(key)
        return original(self, key)

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", spy)
    load_weights(path, CORE)
    assert "huge" not in read and {"weights", "theta"} <= set(read)


@pytest.mark.parametrize("rates, fragment", [
    (np.array([["a"] * 100] * 10), "must be numbers"),
    (np.full((10, 100), -1.0), "span -1..-1"),
    (np.full((10, 100), np.inf), "not finite"),
    (np.full((10, 100), np.nan), "not finite"),
    (np.full((10, 100), 351.0), "lies in 0..350"),
    (np.zeros((10, 99)), "shape (10, 99)"),
    (np.zeros(100), "shape (100,)"),
])
def test_bad_class_rates(tmp_path: Path, rates: Any, fragment: str) -> None:
    net = Network(CORE)
    path = tmp_path / "w.npz"
    np.savez(path, weights=net.weights, theta=net.theta, class_rates=rates)
    with pytest.raises(WeightsError) as info:
        load_weights(path, CORE)
    assert fragment in str(info.value)


def test_class_rates_may_reach_the_trained_timesteps(tmp_path: Path) -> None:
    """Rates fitted at the stored config's 350 timesteps are valid beside a 50-timestep
    config (a mean count of 300 per sample), and the mismatch is flagged."""
    net = Network(CORE)
    path = tmp_path / "w.npz"
    np.savez(path, weights=net.weights, theta=net.theta, config=np.array(CONFIG.to_toml()),
             class_rates=np.full((10, 100), 300.0))
    data = load_weights(path, CORE.replace(timesteps=50))
    assert "config_mismatch" in data


def test_unreadable_stored_config_is_ignored(tmp_path: Path) -> None:
    net = Network(CORE)
    path = tmp_path / "w.npz"
    np.savez(path, weights=net.weights, theta=net.theta,
             config=np.array("a = " + "[" * 5000))
    assert "config_mismatch" not in load_weights(path, CORE)
