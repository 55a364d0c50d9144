"""Co-simulation of a layer trained elsewhere: signed weights, a bias, snnTorch's reset by
subtraction and the multiply leak, loaded from a weights file into the RTL and compared
with the golden model on both simulators; the bias is read back and checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest

DT = 1e-4


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, cli: Any) -> Path:
    """A 64-10 layer with signed 6-bit weights and a bias, imported from a NIR graph."""
    folder = tmp_path_factory.mktemp("imported")
    rng = np.random.default_rng(1)
    tau = DT / 0.1
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([64])}),
        "fc": nir.Affine(weight=rng.normal(0, 0.4, (10, 64)), bias=rng.normal(0, 0.2, 10)),
        "lif": nir.LIF(tau=np.full(10, tau), r=np.full(10, tau / DT), v_leak=np.zeros(10),
                       v_threshold=np.ones(10), v_reset=np.zeros(10)),
        "output": nir.Output(output_type={"output": np.array([10])}),
    }, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    nir.write(str(folder / "one.nir"), graph)
    proc = cli("nir", "import", "one.nir", "--dataset", "digits", "--timesteps", "12",
                   "--encoder", "rate", "--weight-bits", "6", "--out", "one.toml",
                   "--weights-out", "one.npz", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder


@pytest.mark.sim
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_imported_layer_matches_on_both_simulators(imported: Path, simulator: str,
                                                    cli: Any) -> None:
    text = (imported / "one.toml").read_text()
    assert "weight_signed = true" in text and "reset_amount" in text
    proc = cli("cosim", "one.toml", "--weights", "one.npz", "--samples", "2",
                   "--simulator", simulator, "--json", cwd=imported)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert summary["matched"] and summary["spikes"] > 0


@pytest.mark.sim
def test_a_wrong_bias_fails_the_run(imported: Path, cli: Any) -> None:
    """The harness reads every bias back: one flipped expected bias is a mismatch."""
    proc = cli("cosim", "one.toml", "--weights", "one.npz", "--samples", "1",
                   "--simulator", "icarus", cwd=imported, env={"PLASTICORE_CORRUPT": "bias"})
    assert proc.returncode == 1, proc.stderr
    assert "MISMATCH: bias of neuron 0: RTL " in proc.stdout
