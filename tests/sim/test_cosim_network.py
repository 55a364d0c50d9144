"""Co-simulation of networks of several layers (``NetworkCore``, generated Verilog) under
Verilator and Icarus: the layered networks of ``sim.matrix.network_matrix`` in the harness,
``plasticore cosim`` on a layered config and its weights file, faults that must fail the
run, and the trained ``digits-mlp-rate`` network (slow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.config import ClassifyConfig, Config
from plasticore.golden.network import Network
from plasticore.golden.train import save_weights
from plasticore.sim import cosim
from plasticore.sim.core_session import golden_session
from plasticore.sim.matrix import current_network, network_matrix, network_state
from plasticore.sim.target import Target

QUICK = {entry.label: entry for entry in network_matrix(quick=True)}
FULL = {entry.label: entry for entry in network_matrix() if entry.label not in QUICK}


def _network_cocotb(entry: Any, run_sim: Any, simulator: str, tmp_path: Path,
                    samples: int = 2) -> None:
    """The session in the free-running harness; one build per generated Verilog, shared by
    every test and CLI call that generates it."""
    from plasticore.sim.harness import build_dir
    from plasticore.sim.tb_core import COCOTB_TESTS, ENV_STALL, TOPLEVEL, session_inputs

    network = entry.network
    target = Target.of(network, entry.membrane)
    weights, theta, bias = network_state(network)
    if not target.layered:                  # a one-layer network runs as its core
        weights, theta, bias = weights[0], theta[0], bias[0]
    session = cosim.session_samples(network, samples, learn=False)
    sources, env = session_inputs(target, weights, theta, session, tmp_path, bias)
    assert sources[0].name == f"{target.module}.v"
    result = run_sim(toplevel=TOPLEVEL, sources=sources, test_module="plasticore.sim.tb_core",
                     extra_env={**env, ENV_STALL: str(entry.stall)},
                     build_dir=build_dir(simulator, sources), timing=True, public=False)
    assert result.passed and result.tests == COCOTB_TESTS


@pytest.mark.sim
@pytest.mark.parametrize("label", list(QUICK))
def test_network_cocotb(label: str, run_sim: Any, simulator: str, tmp_path: Path) -> None:
    """CI: a 2-layer network on rate input and a 3-layer one on direct input under
    backpressure, every spike, count, layer's weights, thresholds and biases, and (without
    stalls) every layer's timestep ends equal to the golden and cycle models; the
    membrane readouts (``membrane_max`` of two layers, ``membrane_final`` of one under
    backpressure): every membrane word as the golden ``v_max`` / ``v_final``."""
    _network_cocotb(QUICK[label], run_sim, simulator, tmp_path)


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("label", list(FULL))
def test_network_cocotb_matrix(label: str, run_sim: Any, simulator: str,
                               tmp_path: Path) -> None:
    """The rest of the layered matrix (``make sim``): digits-sized layers with encoder lanes,
    current input, three imported layers under backpressure."""
    _network_cocotb(FULL[label], run_sim, simulator, tmp_path, samples=3)


@pytest.mark.sim
@pytest.mark.parametrize("fault, message", [
    ("deep", "sample 0: spike at timestep "),
    pytest.param("weight", "layer 2: weight from input 0 to neuron 0: RTL ",
                 marks=pytest.mark.slow)])
def test_a_fault_fails_the_run(fault: str, message: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``PLASTICORE_CORRUPT=deep`` loads the RTL's layer 1 (the middle one of three) with
    the largest weight from every input to its neuron 0: only the last layer's spikes can
    show it, and the first sample already does; ``weight`` flips an expected weight of the
    last layer, which the readback catches."""
    entry = QUICK["16-12-8-4-direct-signed-bias-mixed-banks2-stall-membrane-final"]
    network = entry.network
    weights, theta, bias = network_state(network)
    samples = cosim.session_samples(network, 1, learn=False)
    monkeypatch.setenv("PLASTICORE_CORRUPT", fault)
    result = cosim.run(Target.of(network, entry.membrane), samples, "icarus", tmp_path,
                       weights, theta, bias=bias)
    assert not result.matched and str(result.difference).startswith(message)


@pytest.mark.sim
def test_a_lut_fault_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PLASTICORE_CORRUPT=lut`` loads the LUT layer of the network (its second, the last)
    with the largest weight everywhere: the RTL builds its tables from them and spikes
    where the golden model does not, in the first sample."""
    entry = QUICK["16-12-4-rate-lut4-banks2-signed-bias"]
    network = entry.network
    weights, theta, bias = network_state(network)
    samples = cosim.session_samples(network, 1, learn=False)
    monkeypatch.setenv("PLASTICORE_CORRUPT", "lut")
    result = cosim.run(Target.of(network), samples, "icarus", tmp_path, weights, theta,
                       bias=bias)
    assert not result.matched
    assert str(result.difference).startswith("sample 0: spike at timestep ")


@pytest.mark.sim
def test_a_membrane_fault_fails_the_run(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``PLASTICORE_CORRUPT=membrane`` changes one expected membrane of the first sample
    (neuron 0's ``v_max``): spikes and counts still match, only the membrane comparison
    names it."""
    entry = QUICK["16-8-4-rate-signed-bias-membrane-max"]
    weights, theta, bias = network_state(entry.network)
    samples = cosim.session_samples(entry.network, 1, learn=False)
    target = Target.of(entry.network, entry.membrane)
    expected = golden_session(target, weights, theta, samples, bias).membranes[0][0]
    monkeypatch.setenv("PLASTICORE_CORRUPT", "membrane")
    result = cosim.run(target, samples, "icarus", tmp_path, weights, theta, bias=bias)
    assert not result.matched
    assert result.difference == (f"sample 0, last layer: membrane readout of neuron 0: RTL "
                                 f"{expected}, golden {expected + 1}")


@pytest.mark.sim
def test_cosim_cli_membrane_readout(cli: Any, tmp_path: Path) -> None:
    """``plasticore cosim`` of a config whose ``classify.readout`` is ``membrane_max``
    builds the design with the membrane readout (the CI entry's) and compares its
    membranes: bit-exact on Icarus."""
    entry = QUICK["16-8-4-rate-signed-bias-membrane-max"]
    config = Config.from_network(entry.network, classify=ClassifyConfig(
        readout="membrane_max", n_classes=4))
    (tmp_path / "net.toml").write_text(config.to_toml())
    weights, theta, bias = network_state(entry.network)
    save_weights(tmp_path / "w.npz", config, Network(entry.network, weights=weights,
                                                      theta=theta, bias=bias))
    proc = cli("cosim", "net.toml", "--weights", "w.npz", "--samples", "2", "--simulator",
               "icarus", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "everything matched the golden model" in proc.stdout
    session = (Path(__file__).resolve().parents[2] / "build" / "cosim"
               / f"session-icarus-{Target.of(entry.network, 'max').digest()}")
    assert "membranes__payload" in (session / "network_core.v").read_text()


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16-12-4 network on current input (signed weights, biases), its config and a
    weights file (every layer's weights, thresholds, biases) as ``plasticore train`` or
    ``nir import`` write them."""
    folder = tmp_path_factory.mktemp("layered")
    network = current_network()
    config = Config.from_network(network)
    (folder / "net.toml").write_text(config.to_toml())
    weights, theta, bias = network_state(network)
    save_weights(folder / "w.npz", config, Network(network, weights=weights, theta=theta,
                                                    bias=bias))
    return folder


@pytest.mark.sim
def test_cosim_cli_on_a_layered_config(layered: Path, cli: Any) -> None:
    """``plasticore cosim`` of a 2-layer config on current input and its weights file on
    Icarus: bit-exact, each layer's cycles per timestep as the cycle model's."""
    proc = cli("cosim", "net.toml", "--weights", "w.npz", "--samples", "2", "--simulator",
               "icarus", cwd=layered)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert ("net.toml: network_core (2 layers) on icarus, 2 sample(s) with learning off "
            "(no learning rule)") in proc.stdout
    assert "everything matched the golden model" in proc.stdout
    layer_lines = [line.split() for line in proc.stdout.splitlines()
                   if line.startswith("  layer ")]
    assert [line[1] for line in layer_lines] == ["0:", "1:"]
    assert all(line[3] == f"{line[5]}," for line in layer_lines)     # measured, predicted


def test_cosim_cli_refuses_a_weights_file_of_another_depth(layered: Path, cli: Any,
                                                           tmp_path: Path) -> None:
    """A weights file with a third layer for a 2-layer config: one line, exit 2."""
    with np.load(layered / "w.npz") as f:
        arrays = {name: f[name] for name in f.files}
    np.savez(tmp_path / "deep.npz", **arrays, weights_2=arrays["weights_1"])
    proc = cli("cosim", "net.toml", "--weights", str(tmp_path / "deep.npz"), cwd=layered)
    assert proc.returncode == 2
    assert "more layers than the config's 2" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_cosim_digits_mlp_rate(simulator: str, cli: Any, tmp_path: Path) -> None:
    """The trained 64-100-10 ``digits-mlp-rate`` network (weights from its NIR file, as its
    config says) on two digits test images: bit-exact on both simulators."""
    root = Path(__file__).resolve().parents[2]
    proc = cli("nir", "import", str(root / "examples" / "nir" / "digits-mlp-rate.nir"),
               "--dataset", "digits", "--timesteps", "25", "--encoder", "rate", "--out",
               "net.toml", "--weights-out", "w.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = cli("cosim", str(root / "configs" / "digits-mlp-rate.toml"), "--weights", "w.npz",
               "--samples", "2", "--simulator", simulator, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert summary["matched"] and summary["samples"] == 2 and summary["spikes"] > 0
    assert (summary["layer_cycles_per_timestep_measured"]
            == summary["layer_cycles_per_timestep_predicted"])
