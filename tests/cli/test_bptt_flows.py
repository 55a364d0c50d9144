"""A network trained by ``plasticore train`` with ``rule.kind = "bptt"`` goes wherever an
imported (``kind = "none"``) one goes: the same RTL, ``nir export`` and back, ``cosim``,
``board run`` (a fake board here, the simulated board in the slow tier) and ``synth``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from plasticore.config import RuleConfig, load_config


def as_none(folder: Path) -> Path:
    """``folder/tiny.toml`` with ``rule.kind = "none"`` (nothing else changed)."""
    config = load_config(folder / "tiny.toml")
    none = config.replace_network(dataclasses.replace(config.network,
                                                      rule=RuleConfig(kind="none")))
    none.save(folder / "none.toml")
    return folder / "none.toml"


def test_the_rtl_is_the_same_as_without_a_rule(trained_bptt: Path, cli: Any) -> None:
    """A BPTT network's core builds no learning hardware: its Verilog is byte for byte the
    Verilog of the same network with ``kind = "none"`` (so synth and cosim see one)."""
    none = as_none(trained_bptt)
    for name, config in (("bptt", "tiny.toml"), ("none", str(none))):
        result = cli("generate", config, "--out", f"rtl-{name}", cwd=trained_bptt)
        assert result.returncode == 0, result.stderr
    bptt_v = (trained_bptt / "rtl-bptt" / "network_core.v").read_text()
    assert "module network_core" in bptt_v
    assert bptt_v == (trained_bptt / "rtl-none" / "network_core.v").read_text()


def test_nir_export_and_import(trained_bptt: Path, cli: Any) -> None:
    result = cli("nir", "export", "tiny.toml", "--weights", "w.npz", "--out", "net.nir",
                 "--json", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr
    notes = json.loads(result.stdout)["notes"]
    assert any("rule.kind = 'bptt'" in note and "not exported" in note for note in notes)
    result = cli("nir", "import", "net.nir", "--dataset", "digits", "--timesteps", "8",
                 "--out", "back.toml", "--weights-out", "back.npz", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr
    back = load_config(trained_bptt / "back.toml").network
    assert back.rule.kind == "none"
    assert [layer.n_neurons for layer in back.layers] == [16, 10]
    result = cli("eval", "back.toml", "--weights", "back.npz", "--test-samples", "50",
                 "--json", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr


@pytest.mark.sim
@pytest.mark.parametrize("simulator", [
    pytest.param("icarus", marks=pytest.mark.icarus),
    pytest.param("verilator", marks=[pytest.mark.slow, pytest.mark.verilator])])
def test_cosim(trained_bptt: Path, cli: Any, simulator: str) -> None:
    result = cli("cosim", "tiny.toml", "--weights", "w.npz", "--samples", "2",
                 "--simulator", simulator, "--json", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr + result.stdout
    summary = json.loads(result.stdout)
    assert summary["matched"] and summary["spikes"] > 0


def test_board_run_on_a_fake_board(trained_bptt: Path, cli: Any) -> None:
    """Every count and class of 30 test images as the golden model, and as many correct
    as ``eval`` says."""
    from plasticore.boards.fakeboard import FakeBoard, PtyBoard

    config = load_config(trained_bptt / "tiny.toml")
    with PtyBoard(FakeBoard(config)) as pty:
        result = cli("board", "run", "tiny.toml", "--weights", "w.npz", "--port", pty.path,
                     "--samples", "30", "--json", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 30
    evaluated = cli("eval", "tiny.toml", "--weights", "w.npz", "--test-samples", "30",
                    "--json", cwd=trained_bptt)
    assert evaluated.returncode == 0, evaluated.stderr
    assert board["correct"] == round(json.loads(evaluated.stdout)["accuracy"] * 30)


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.verilator
def test_board_run_on_the_simulated_board(trained_bptt: Path, cli: Any) -> None:
    result = cli("board", "run", "tiny.toml", "--weights", "w.npz", "--simulate",
                 "verilator", "--samples", "3", "--json", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr
    board = json.loads(result.stdout)
    assert board["matched"] and board["samples"] == 3


@pytest.mark.slow
def test_synth_of_the_core(trained_bptt: Path, cli: Any) -> None:
    result = cli("synth", "tiny.toml", "--design", "core", "--build-dir", "synth", "--json",
                 "--quiet", cwd=trained_bptt)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["fits"] and report["design"] == "core"
    assert report["resources"]["lut"]["used"] > 0
