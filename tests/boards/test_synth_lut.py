"""``plasticore synth`` builds a core on the LUT forward engine (one real synthesis, slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plasticore.cli import main
from plasticore.config import Config, CoreConfig, EncoderConfig, RuleConfig


@pytest.mark.slow
def test_lut_core_synthesizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 16-input, 4-neuron core on groups of 4 in two table banks: Yosys synthesizes it for
    the Arty A7-35T, and it fits; its tables (2 banks x 2 groups x 2 words x 16 entries of
    2 lanes) take memory the accumulate core's weights do not."""
    core = CoreConfig(n_inputs=16, n_neurons=4, n_pe=2, row_banks=2, timesteps=8,
                      stdp=RuleConfig(kind="none").core_stdp, forward="lut", lut_group=4,
                      encoder=EncoderConfig(lanes=2))
    assert core.derived.lut_bank_words == 2 * 2 * 16
    reports = {}
    for engine in ("lut", "accumulate"):
        cfg = tmp_path / f"{engine}.toml"
        Config(core=core.replace(forward=engine)).save(cfg)
        assert main(["synth", str(cfg), "--design", "core", "--build-dir",
                     str(tmp_path / "b"), "--json", "--quiet"]) == 0
        reports[engine] = json.loads(capsys.readouterr().out)
    lut, acc = reports["lut"], reports["accumulate"]
    assert lut["fits"] is True and lut["design"] == "core"
    assert lut["resources"]["ff"]["used"] > 0
    assert lut["resources"]["lutram"]["used"] > acc["resources"]["lutram"]["used"]
