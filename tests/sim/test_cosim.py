"""``plasticore cosim``: trained weights into the RTL, verdicts and exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plasticore.config import load_config
from plasticore.golden.classify import Readout
from plasticore.golden.datasets import load_digits
from plasticore.golden.train import evaluate, save_weights, train
from plasticore.sim import cosim

SMALL = """\
n_inputs = 64
n_neurons = 8
n_pe = 4
timesteps = 40
[neuron]
v_th = 600
v_reset = 100
w_inh = 300
"""


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "plasticore.cli", *args], capture_output=True,
                          text=True, timeout=900, env={**os.environ, **(env or {})})


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.mark.sim
def test_trained_weights_give_golden_predictions(small_config: Path, tmp_path: Path) -> None:
    """Weights trained in the golden model, loaded into the RTL: the RTL's counts on test
    samples, read out with the labels of the training set, predict what golden predicts."""
    config = load_config(small_config)
    core = config.core
    train_set, test_set = load_digits(core.encoder.pixel_bits)
    train_set, test_set = train_set.subset(0, 60), test_set.subset(0, 6)
    net, _, _ = train(core, train_set)
    ev = evaluate(net, train_set, test_set)
    weights = tmp_path / "trained.npz"
    save_weights(weights, config, net)
    proc = run_cli("cosim", str(small_config), "--simulator", "icarus", "--samples", "6",
                   "--weights", str(weights), "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert summary["matched"] and summary["samples"] == 6 and summary["spikes"] > 0
    assert summary["cycles_per_timestep_measured"] == summary["cycles_per_timestep_predicted"]
    # the counts behind the verdict, read out as the golden evaluation does
    samples = cosim.session_samples(core, 6, learn=False)
    assert all((s.pixels == test_set.images[n]).all() for n, s in enumerate(samples))
    readout = Readout("proportion", ev.train_counts, train_set.labels, ev.readout.n_classes)
    result = cosim.run(core, samples, "icarus", tmp_path / "build", net.weights, net.theta)
    rtl_counts = np.array(result.report["counts"])
    assert result.matched
    assert (readout.predict(rtl_counts) == readout.predict(ev.test_counts)).all()


@pytest.mark.sim
def test_cosim_learning_mismatch_exits_1(small_config: Path) -> None:
    """A difference (here: the harness flips one expected weight) is reported, exit 1."""
    proc = run_cli("cosim", str(small_config), "--simulator", "icarus", "--samples", "2",
                   "--learn", env={"PLASTICORE_CORRUPT": "weight"})
    assert proc.returncode == 1, proc.stderr
    assert "MISMATCH: weight from input 0 to neuron 0" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.sim
def test_cosim_stops_at_first_differing_sample(small_config: Path) -> None:
    """A difference in sample 0 ends the session there: the later samples never run."""
    proc = run_cli("cosim", str(small_config), "--simulator", "icarus", "--samples", "5",
                   "--json", env={"PLASTICORE_CORRUPT": "count"})
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["difference"].startswith("sample 0: count of neuron 0: RTL ")
    assert summary["samples"] == 1 and not summary["matched"]


@pytest.mark.parametrize("args, message", [
    (["--samples", "0"], "--samples 0: must be at least 1"),
    (["--weights", "/nonexistent.npz"], "/nonexistent.npz: no such weights file"),
])
def test_cosim_bad_arguments(small_config: Path, args: list[str], message: str) -> None:
    proc = run_cli("cosim", str(small_config), *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.sim
def test_cosim_direct_input(small_config: Path, tmp_path: Path) -> None:
    """A direct-input configuration co-simulates on random rasters."""
    path = tmp_path / "direct.toml"
    path.write_text(SMALL + "[encoder]\nkind = \"direct\"\n")
    proc = run_cli("cosim", str(path), "--simulator", "icarus", "--samples", "2", "--learn",
                   "--json")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert summary["matched"] and summary["spikes"] > 0


def test_cosim_without_the_simulator(small_config: Path) -> None:
    """A simulator missing from PATH is one line naming it and how to install it."""
    proc = run_cli("cosim", str(small_config), "--simulator", "icarus",
                   env={"PATH": "/nonexistent"})
    assert proc.returncode == 2
    assert "Icarus Verilog not found" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_random_pixels_for_other_input_counts() -> None:
    """A config matching no bundled dataset gets seeded random pixels in range."""
    core = load_config("digits").core.replace(n_inputs=20, n_neurons=4, n_pe=2)
    a = cosim.session_samples(core, 3, learn=True)
    b = cosim.session_samples(core, 3, learn=True)
    assert all((x.pixels == y.pixels).all() for x, y in zip(a, b, strict=True))
    assert all(s.pixels.shape == (20,) and s.pixels.max() <= 255 and s.learn for s in a)
    assert [s.key for s in a] == [0, 1, 2]
