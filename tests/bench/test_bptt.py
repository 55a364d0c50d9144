"""``plasticore bench bptt``: the numpy BPTT trainer and snnTorch on the same network.

Tiny runs (a few dozen samples, one epoch) check that each side's subprocess returns a
well-formed record; the peer's parameters are checked against values worked out by hand
from the integer configuration; bad arguments give one line and exit 2.  No timing is
asserted (only that a rate was measured).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from plasticore.bench.bptt import (
    BenchError,
    bench_config,
    check,
    peer_network,
    run_side,
    snntorch_available,
    splits,
)
from plasticore.cli import main
from plasticore.config import BpttConfig, Config, RuleConfig, load_config

#: Training samples of a tiny run: two mini-batches of 16 and 8 validation samples.
TINY = 40


def _bptt_config(path: Path, source: str = "digits-mlp") -> Path:
    """``source``'s network trained with ``rule.kind = "bptt"`` (its own training parameters
    if it has them: digits-mlp's augmentation and label smoothing) in mini-batches of 16,
    with 8 validation samples, for one epoch, written to ``path``."""
    config = load_config(source)
    bptt = config.network.rule.bptt or BpttConfig()
    rule = RuleConfig(kind="bptt", bptt=dataclasses.replace(bptt, batch=16, validation=8))
    config = config.replace_network(dataclasses.replace(config.network, rule=rule))
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, epochs=1))
    config.save(path)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Config:
    return load_config(_bptt_config(tmp_path / "tiny.toml"))


def _spec(config: Config) -> dict[str, object]:
    return {"config": config.to_toml(), "source": config.source, "seed": 0, "epochs": 1,
            "samples": TINY}


def _check_record(record: dict[str, object], side: str) -> None:
    assert record["side"] == side
    assert record["epochs"] == 1 and record["train_samples"] == TINY - 8
    rate = record["samples_per_second"]
    assert isinstance(rate, float) and math.isfinite(rate) and rate > 0
    accuracy = record["test_accuracy"]
    assert isinstance(accuracy, float) and 0.0 <= accuracy <= 1.0
    history = record["history"]
    assert isinstance(history, list) and len(history) == 1
    assert history[0]["epoch"] == 1 and 0.0 <= history[0]["validation_accuracy"] <= 1.0


def _status(argv: list[str]) -> object:
    """The CLI's exit status (argparse's errors exit through ``SystemExit``)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_without_snntorch_the_numpy_side_alone(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the extra, ``plasticore bench bptt`` runs the plasticore side alone: its
    record, no ratio, the table on stdout and in ``--out`` with the JSON, and the install
    hint said once and kept under the table."""
    from plasticore.bench import bptt

    monkeypatch.setattr(bptt, "snntorch_available", lambda: False)
    config = _bptt_config(tmp_path / "tiny.toml")
    out = tmp_path / "out"
    assert main(["bench", "bptt", "--config", str(config), "--samples", str(TINY),
                 "--seeds", "1", "--out", str(out)]) == 0
    result = json.loads((out / "bptt.json").read_text())
    (record,) = result["runs"]["plasticore"]
    _check_record(record, "plasticore")
    assert result["runs"]["snntorch"] == [] and "snntorch" not in result
    assert "ratio" not in result and result["snntorch_skipped"] == bptt.SNNTORCH_HINT
    table = (out / "bptt.md").read_text()
    assert table.endswith("\n\n" + bptt.SNNTORCH_HINT + "\n")
    assert "| training samples/s (median) | " in table and "snnTorch 1.0" not in table
    captured = capsys.readouterr()
    assert captured.out == table + "\n"
    assert captured.err.count(bptt.SNNTORCH_HINT) == 1


@pytest.mark.skipif(not snntorch_available(),
                    reason="the snntorch extra is not installed (CI does not install it)")
def test_snntorch_side_record(tiny: Config) -> None:
    events: list[tuple[str, int, int]] = []
    record = run_side("snntorch", _spec(tiny), lambda *e: events.append(e))
    _check_record(record, "snntorch")
    assert record["torch_threads"] == 1
    # two mini-batches: 16 of the 32 training samples, then all of them
    assert [e[1:] for e in events] == [(16, 32), (32, 32)]


def test_peer_network_by_hand(tmp_path: Path) -> None:
    """digits-mlp-snntorch's integers as float parameters: beta = 117965 / 2**17; its
    reset_amount (103838) is not its threshold (93455), so snnTorch subtracts one timestep
    late (103838 ~ 93455 / 0.9); both layers have a bias.  The optimizer's units in
    thresholds: 8-bit signed weights reach 128 LSBs, a weight LSB is 255 / 93455 thresholds
    per full-scale pixel in layer 0 (current input) and 2**4 / 3385 per spike in layer 1
    (current_shift 4); the biases (15 and 9 bits) reach 2**14 and 2**8 LSBs; theta (1 bit)
    reaches 1 LSB."""
    tiny = load_config(_bptt_config(tmp_path / "imported.toml", "digits-mlp-snntorch"))
    peer = peer_network(tiny)
    assert peer["layers"] == [64, 100, 10]
    assert peer["input"] == "current" and peer["pixel_max"] == 255
    assert peer["readout"] == "count"
    scales = ([128 * 255 / 93455, 2**14 / 93455, 1 / 93455],
              [128 * 16 / 3385, 2**8 / 3385, 1 / 3385])
    for neuron, scale in zip(peer["neurons"], scales, strict=True):
        assert neuron.pop("scale") == pytest.approx(scale, rel=1e-12)
        assert neuron == {"beta": 117965 / 131072, "reset": "subtract", "reset_delay": True,
                          "bias": True}
    network = tiny.network
    layer = network.layers[1]
    shift = dataclasses.replace(layer.neuron, leak_mode="shift", leak_shift=3,
                                reset_amount=0)
    layers = (network.layers[0], dataclasses.replace(layer, neuron=shift))
    peer = peer_network(tiny.replace_network(dataclasses.replace(network, layers=layers)))
    del peer["neurons"][1]["scale"]
    assert peer["neurons"][1] == {"beta": 0.875, "reset": "subtract", "reset_delay": False,
                                  "bias": True}


def test_peer_of_digits_mlp_by_hand(tiny: Config) -> None:
    """digits-mlp subtracts its threshold at once (reset_amount 0): snnTorch's reset
    without delay.  Its weight LSB is 1/128 threshold per full-scale pixel (255 / 2**15 x
    2**7 LSBs = 0.99609375 thresholds for the largest weight) in layer 0 and 2**4 / 2048 =
    1/128 threshold per spike in layer 1 (128 LSBs: exactly 1)."""
    peer = peer_network(tiny)
    assert [n["reset_delay"] for n in peer["neurons"]] == [False, False]
    assert [n["scale"][0] for n in peer["neurons"]] == [0.99609375, 1.0]
    assert [n["beta"] for n in peer["neurons"]] == [117965 / 2**17] * 2


def test_runs_override_seed_batch_epochs_and_samples(tiny: Config) -> None:
    config = bench_config(tiny, seed=3, batch=7, epochs=2)
    assert config.network.seed == 3 and config.core.seed == 3
    assert config.network.rule.bptt is not None and config.network.rule.bptt.batch == 7
    assert config.data.epochs == 2
    train_set, test_set = splits(config, TINY)
    assert (len(train_set), len(test_set)) == (TINY, 597)          # the digits test split
    assert (train_set.images == splits(tiny, None)[0].images[:TINY]).all()


@pytest.mark.parametrize("change, message", [
    ({"config": "digits"}, "rule.kind = 'stdp': the BPTT benchmark trains"),
    ({"samples": 5000}, "--samples 5000: the digits training split has only 1200"),
    ({"samples": 8}, "no training sample left beside the 8 validation samples"),
    ({"batch": 1 << 17}, "--batch 131072: rule.batch = 131072"),
    ({"epochs": 1001}, "--epochs 1001: data.epochs = 1001"),
])
def test_check_refuses(tiny: Config, change: dict[str, object], message: str) -> None:
    args = {"config_name": tiny.source, "samples": None, "batch": None, "epochs": None}
    args.update({"config_name": change.pop("config")} if "config" in change else {})
    args.update(change)
    with pytest.raises(BenchError, match=message.replace("(", r"\(")):
        check(**args)


@pytest.mark.parametrize("args, fragment", [
    (["--config", "digits"], "rule.kind = 'stdp': the BPTT benchmark trains"),
    (["--samples", "5000"], "--samples 5000: the digits training split has only 1200"),
    (["--samples", "0"], "expected a positive integer, got '0'"),
    (["--epochs", "-1"], "expected a positive integer, got '-1'"),
    (["--batch", "x"], "expected a positive integer, got 'x'"),
    (["--config", "no-such-config"], "no such config file"),
])
def test_cli_bad_arguments_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    args: list[str], fragment: str) -> None:
    config = _bptt_config(tmp_path / "tiny.toml")
    out = tmp_path / "out"
    argv = ["bench", "bptt", "--config", str(config), "--out", str(out), *args]
    assert _status(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("plasticore: error: ") and "\n" not in err, captured.err
    assert fragment in err
    assert captured.out == ""
    assert not out.exists() or not any(out.iterdir())             # nothing written


def test_cli_bptt_options_only_for_bptt(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "core", "--epochs", "3"]) == 2
    assert capsys.readouterr().err == ("plasticore: error: --epochs: only with `plasticore "
                                       "bench bptt`, not core\n")
