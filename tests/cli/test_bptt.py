"""``plasticore train`` for ``rule.kind = "bptt"`` (``plasticore/cli/bptt.py``): the JSON
summary, the weights file that ``plasticore eval`` reads back to the same accuracy, the
plots, the per-epoch lines, and every refusal as one line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian)."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG, f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("plasticore: error: ") and "\n" not in err, captured.err
    assert captured.out == ""
    return err


def test_train_json_weights_plots_then_eval(tmp_path: Path, tiny_bptt: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A real run of the trainer on a 64-32-10 network (360 samples, 40 held out, 3
    epochs, 8 timesteps): the weights file holds what the library's own run with the same
    config, samples and epochs returns (seeded), ``eval`` of it reports the accuracy
    ``train`` did (its own load and test pass), and the plots are PNGs."""
    from plasticore.golden.bptt import train_bptt
    from plasticore.golden.datasets import load_digits

    config = tiny_bptt(timesteps=8, hidden=32, validation=40, learning_rate=0.01)
    weights, plots = tmp_path / "out" / "w.npz", tmp_path / "plots"
    assert main(["train", str(tmp_path / "tiny.toml"), "--samples", "400", "--test-samples",
                 "150", "--epochs", "3", "--json", "--quiet", "--weights-out", str(weights),
                 "--plots", str(plots)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rule"] == "bptt" and summary["backward"] == "float"
    assert summary["epochs"] == 3 and [h["epoch"] for h in summary["history"]] == [1, 2, 3]
    assert (summary["train_samples"], summary["validation_samples"]) == (360, 40)
    assert summary["test_samples"] == 150 and summary["samples_per_second"] > 0
    assert summary["accuracy"] > 0.5                  # chance is 0.1
    best = summary["history"][summary["best_epoch"] - 1]
    assert summary["validation_accuracy"] == best["validation_accuracy"] == max(
        h["validation_accuracy"] for h in summary["history"])
    assert len(summary["layer_spikes_per_sample"]) == 2
    assert summary["spikes_per_sample"] == summary["layer_spikes_per_sample"][1]
    assert summary["weights"] == str(weights)
    assert sorted(Path(p).name for p in summary["plots"]) == [
        "confusion.png", "learning_curves.png", "raster.png", "spike_rates.png"]
    for p in summary["plots"]:
        width, height = png_size(Path(p))
        assert width >= 300 and height >= 200 and Path(p).stat().st_size > 5000

    train_set, _ = load_digits(8)
    expected = train_bptt(config, train_set.subset(0, 400), 3)
    assert [round(h.loss, 6) for h in expected.history] == [
        h["loss"] for h in summary["history"]]
    with np.load(weights) as f:
        assert "neuron_labels" not in f.files        # a supervised readout has no labels
        for i, layer in enumerate(expected.network.layers):
            suffix = f"_{i}" if i else ""
            assert np.array_equal(f[f"weights{suffix}"], layer.weights)
            assert np.array_equal(f[f"theta{suffix}"], layer.theta)
            assert np.array_equal(f[f"bias{suffix}"], layer.bias)
    assert main(["eval", str(tmp_path / "tiny.toml"), "--weights", str(weights),
                 "--test-samples", "150", "--json", "--quiet"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert "warning" not in evaluated
    assert evaluated["accuracy"] == summary["accuracy"]
    assert evaluated["layer_spikes_per_sample"] == summary["layer_spikes_per_sample"]


def test_train_prints_epochs_and_a_summary(tmp_path: Path, tiny_bptt: Any,
                                           fake_trainer: list[Any],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    tiny_bptt()
    args = ["train", str(tmp_path / "tiny.toml"), "--samples", "100", "--test-samples", "30",
            "--epochs", "2"]
    assert main(args) == 0
    captured = capsys.readouterr()
    epochs = [line for line in captured.err.splitlines() if ": epoch " in line]
    assert epochs == [
        "plasticore: epoch 1/2: loss 2.0000, train 50.00%, validation 40.00%, learning "
        "rate 0.002, 0.1 s",
        "plasticore: epoch 2/2: loss 1.0000, train 60.00%, validation 50.00%, learning "
        "rate 0.002, 0.1 s"]
    out = captured.out.splitlines()
    assert out[0].endswith("tiny.toml: 64-16-10 network, 6 timesteps, BPTT (adam, float "
                           "backward pass)")
    assert out[1].startswith("trained on 60 samples, 40 held out for validation x 2 epoch(s)")
    assert out[2].startswith("accuracy ") and "on 30 test samples (validation 50.00%)" in out[2]
    assert main([*args, "--quiet"]) == 0
    assert ": epoch " not in capsys.readouterr().err


@pytest.mark.parametrize("extra, changes, fragment", [
    (["--enhance", "--timesteps", "4"], {}, "--enhance is for STDP training"),
    (["--arithmetic", "float"], {}, "--arithmetic float is STDP's float reference"),
    ([], {"validation": 100}, "rule.validation = 100: must be below the 100 training "
                              "samples (--samples)"),
    ([], {"readout": "proportion"}, "classify.readout = 'proportion': BPTT trains a "
                                    "supervised readout"),
    (["--test-samples", "5000"], {}, "test samples = 5000: the digits split has only 597"),
    (["--weights-out", "{tmp}/file/w.npz"], {}, "file is a file, not a directory"),
    (["--weights-out", "{tmp}"], {}, "is a directory (give a file name)"),
    (["--plots", "{tmp}/file/plots"], {}, "file is a file, not a directory"),
    (["--epochs", "0"], {}, "expected a positive integer, got '0'"),
])
def test_refusals_are_one_line_and_write_nothing(
        tmp_path: Path, tiny_bptt: Any, fake_trainer: list[Any],
        capsys: pytest.CaptureFixture[str], extra: list[str], changes: dict[str, Any],
        fragment: str) -> None:
    tiny_bptt(**changes)
    (tmp_path / "file").write_text("")
    before = sorted(tmp_path.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert exit_status(["train", str(tmp_path / "tiny.toml"), "--samples", "100",
                        "--quiet", *args]) == 2
    assert fragment in one_line_error(capsys)
    assert fake_trainer == []                   # refused before training
    assert sorted(tmp_path.rglob("*")) == before


def exit_status(argv: list[str]) -> int:
    """``main(argv)``'s status, also when argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_a_bptt_config_with_direct_input_is_refused(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    fake_trainer: list[Any]) -> None:
    """Direct input takes spike rasters, not a dataset of images: one line."""
    import dataclasses

    from plasticore.config import BpttConfig, RuleConfig, load_config

    base = load_config("digits-mlp-rate")
    network = dataclasses.replace(base.network, rule=RuleConfig(kind="bptt",
                                                                bptt=BpttConfig()),
                                  input=dataclasses.replace(base.network.input,
                                                            kind="direct"))
    base.replace_network(network).save(tmp_path / "direct.toml")
    assert main(["train", str(tmp_path / "direct.toml"), "--quiet"]) == 2
    assert "input.kind = 'direct'" in one_line_error(capsys)
    assert fake_trainer == []


def test_without_validation_the_last_epoch_is_kept(tmp_path: Path, tiny_bptt: Any,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``rule.validation = 0``: no validation accuracy anywhere, the last epoch kept, and
    the plots drawn all the same (a real run: 100 samples, 2 epochs)."""
    tiny_bptt(validation=0)
    assert main(["train", str(tmp_path / "tiny.toml"), "--samples", "100", "--test-samples",
                 "20", "--epochs", "2", "--json", "--quiet", "--plots",
                 str(tmp_path / "plots")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["validation_accuracy"] is None and summary["validation_samples"] == 0
    assert summary["train_samples"] == 100 and summary["best_epoch"] == 2
    assert [h["validation_accuracy"] for h in summary["history"]] == [None, None]
    assert len(summary["plots"]) == 4
