"""``plasticore explore`` end to end on a tiny run, and its user errors."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from plasticore.cli import main
from plasticore.config import load_config
from plasticore.golden.datasets import load_dataset
from plasticore.golden.train import evaluate, train


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config("digits")
    config = dataclasses.replace(
        config, core=config.core.replace(timesteps=12),
        data=dataclasses.replace(config.data, train_samples=30, test_samples=15))
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    config.save(path)
    return path


#: The tiny sweep every test here runs (its runs are cached in the ``explored`` folder).
TINY_RUN = ["--timesteps", "12,6", "--weight-bits", "8,4", "--seeds", "3", "--workers", "1",
            "--validation", "10", "--variants", "floor-rounding", "--variant-bits", "4",
            "--cost-samples", "3", "--constraints", "accuracy_drop<=0.5"]


@pytest.fixture(scope="module")
def explored(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("explore")
    status = main(["explore", str(tiny_config), *TINY_RUN, "--out", str(out), "--quiet"])
    assert status == 0
    return out


def test_report_numbers_come_from_the_run(explored: Path, tiny_config: Path) -> None:
    results = json.loads((explored / "results.json").read_text())
    report = (explored / "report.md").read_text()
    rows = results["rows"]
    # the baseline at seed 0 is what the golden model gives, trained here directly
    config = load_config(tiny_config)
    train_set, test_set = load_dataset("digits", None, 8)
    train_set, test_set = train_set.subset(0, 30), test_set.subset(0, 15)
    net, _, _ = train(config.core, train_set)
    acc0 = evaluate(net, train_set, test_set).accuracy
    base = next(r for r in rows if r["kind"] == "grid" and r["timesteps"] == 12
                and r["weight_width"] == 8)
    assert base["per_seed"]["0"] == acc0
    assert base["seeds"] == 3
    assert base["accuracy"] == pytest.approx(np.mean(list(base["per_seed"].values())))
    assert base["weight_memory_bits"] == 64 * 100 * 8
    # the baseline quantized to 4 bits after training, scored as trained here
    from plasticore.explore.precision import quantize_network, with_weight_bits

    quantized = next(r for r in rows if r["kind"] == "quantized")
    assert (quantized["timesteps"], quantized["weight_width"]) == (12, 4)
    q = quantize_network(net, with_weight_bits(config.core, 4, "shift"))
    assert quantized["per_seed"]["0"] == evaluate(q, train_set, test_set).accuracy
    assert quantized["weight_memory_bits"] == 64 * 100 * 4
    assert "## Quantized after training" in (explored / "report.md").read_text()
    # every point's accuracy, spread and memory appear in the report's table
    for r in rows:
        line = (f"| {r['timesteps']} | {r['weight_width']} | {r['kind']}")
        assert line in report
        assert f"{100 * r['accuracy']:.2f} ± {100 * r['accuracy_std']:.2f}" in report
    four = next(r for r in rows if r["kind"] == "grid" and r["weight_width"] == 4
                and r["timesteps"] == 12)
    assert four["weight_memory_bits"] == 64 * 100 * 4
    assert f"| {four['weight_memory_bits']} |" in report
    # the grid, the comparisons and the variant are all there
    kinds = {(r["kind"], r["timesteps"], r["weight_width"], r["variant"]) for r in rows}
    assert ("naive", 6, 8, "") in kinds and ("rule", 6, 8, "") in kinds
    assert ("variant", 12, 4, "floor-rounding") in kinds
    assert "6" in results["searches"]
    # the chosen point's configuration is written and loads
    chosen = results["chosen"]
    assert chosen is not None
    assert f"**{chosen['label']}**" in report
    core = load_config(explored / "chosen.toml").core
    assert (core.timesteps, core.widths.weight) == (chosen["timesteps"],
                                                     chosen["weight_width"])


def test_plots_exist_and_are_not_blank(explored: Path) -> None:
    import matplotlib.image

    names = ["accuracy_vs_timesteps", "pareto_latency", "pareto_memory", "receptive_fields",
             "raster", "membrane"]
    report = (explored / "report.md").read_text()
    for name in names:
        path = explored / f"{name}.png"
        assert path.stat().st_size > 1000, name
        image = matplotlib.image.imread(path)
        assert image.std() > 0.01, name               # not a blank canvas
        assert f"({name}.png)" in report


def test_rerun_resumes_from_the_cache(explored: Path, tiny_config: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explore", str(tiny_config), *TINY_RUN, "--out", str(explored), "--quiet",
                   "--no-plots"])
    assert status == 0
    assert re.search(r"\b0 runs trained", capsys.readouterr().out)


def test_an_edited_baseline_is_noted_and_recomputed(explored: Path, tiny_config: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The baseline's seed-0 accuracy edited to 99 % in its cache entry: the rerun says so,
    trains that run again and reports the golden model's accuracy, not the edit."""
    from plasticore.explore.grid import Job, run_key

    config = load_config(tiny_config)
    path = explored / "cache" / f"{run_key(config, Job(config.core, 0, costs=3), 10)}.json"
    entry = json.loads(path.read_text())
    entry["result"]["accuracy"] = 0.99
    path.write_text(json.dumps(entry, indent=1))
    status = main(["explore", str(tiny_config), *TINY_RUN, "--out", str(explored), "--quiet",
                   "--no-plots"])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == (f"plasticore: note: cache entry {path} is invalid (digest does "
                            "not match the contents: edited or corrupted); recomputing\n")
    assert re.search(r"\b1 runs trained", captured.out)
    train_set, test_set = load_dataset("digits", None, 8)
    train_set, test_set = train_set.subset(0, 30), test_set.subset(0, 15)
    net, _, _ = train(config.core, train_set)
    acc0 = evaluate(net, train_set, test_set).accuracy
    assert acc0 != 0.99
    rows = json.loads((explored / "results.json").read_text())["rows"]
    base = next(r for r in rows if r["kind"] == "grid" and r["timesteps"] == 12
                and r["weight_width"] == 8)
    assert base["per_seed"]["0"] == acc0


def test_synth_sets_each_grid_points_clock(explored: Path, tiny_config: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--synth: each grid point's core goes to the hook, its latency is taken at the Fmax
    the hook estimates, the report lists the resources; other points keep the clock."""
    import plasticore.explore.cost as cost

    seen = []

    def fake_hook(config, board, **_):
        assert board == "arty_a7_100"

        def hook(core):
            seen.append(core)
            return {"board": board, "fmax_mhz": 40.0 + core.widths.weight, "lut": 1000,
                    "ff": 2000, "bram36": 1.5, "dsp": 4, "fits": core.timesteps > 6}
        return hook

    monkeypatch.setattr(cost, "synth_hook", fake_hook)
    status = main(["explore", str(tiny_config), *TINY_RUN, "--out", str(explored), "--quiet",
                   "--no-plots", "--synth", "arty_a7_100"])
    assert status == 0
    rows = json.loads((explored / "results.json").read_text())["rows"]
    grid = [r for r in rows if r["kind"] == "grid"]
    assert len(seen) == len(grid) == 4
    for r in rows:
        if r["kind"] == "grid":
            assert r["clock_mhz"] == 40.0 + r["weight_width"]
            assert r["latency_us"] == pytest.approx(r["cycles"] / r["clock_mhz"])
        else:
            assert "synth" not in r and r["clock_mhz"] == 60.0
    report = (explored / "report.md").read_text()
    assert "## FPGA resources" in report and "arty_a7_100" in report
    assert report.count("| 1,000 | 2,000 | 1.5 | 4 |") == 4
    assert report.count("| **no** |") == 2                 # the 6-timestep points


def test_synth_real_yosys(tiny_config: Path, tmp_path: Path) -> None:
    """The real hook: the baseline's core synthesized, its numbers those of ``plasticore
    synth --design core`` (the same cached report), its latency at that Fmax."""
    from plasticore.boards.synth import synthesize

    out = tmp_path / "o"
    status = main(["explore", str(tiny_config), "--timesteps", "12", "--weight-bits", "8",
                   "--seeds", "1", "--workers", "1", "--validation", "10", "--no-search",
                   "--variants", "none",
                   "--cost-samples", "2", "--out", str(out), "--quiet", "--no-plots",
                   "--synth"])
    assert status == 0
    row = json.loads((out / "results.json").read_text())["rows"][0]
    report = synthesize(load_config(tiny_config), None, "core")
    assert report.cached
    assert row["synth"]["board"] == "arty_a7_35"
    assert row["synth"]["lut"] == report.resources["lut"].used > 0
    assert row["synth"]["bram36"] == report.resources["bram36"].used
    assert row["clock_mhz"] == round(report.fmax_mhz_estimate, 1)
    assert row["latency_us"] == pytest.approx(row["cycles"] / row["clock_mhz"])


@pytest.mark.parametrize("args, fragment", [
    (["--timesteps", "50,x"], "--timesteps '50,x': expected comma-separated integers"),
    (["--timesteps", "400"], "400 is out of range 1..12"),
    (["--timesteps", "6,6"], "appears twice"),
    (["--weight-bits", "0"], "0 is out of range 1..16"),
    (["--weight-bits", "17"], "17 is out of range 1..16"),
    (["--constraints", "speed<=1"], "unknown metric 'speed'"),
    (["--constraints", "accuracy~1"], "expected METRIC<=NUMBER"),
    (["--minimize", "speed"], "--minimize 'speed': unknown metric"),
    (["--variants", "magic"], "unknown variant 'magic'"),
    (["--clock-mhz", "0"], "--clock-mhz: expected a finite positive number, got '0'"),
    (["--validation", "30"], "--validation 30: must be below the 30"),
    (["--weight-bits", "8", "--search-bits", "4"], "4 is not one of --weight-bits"),
    (["--synth", "nope"], "--synth nope: unknown board 'nope'"),
])
def test_user_errors_are_one_line(tiny_config: Path, tmp_path: Path, args: list[str],
                                  fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["explore", str(tiny_config), "--out", str(tmp_path / "o"), *args])
    except SystemExit as exc:             # refused by the argument parser
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("plasticore: error: ") and err.count("\n") == 1
    assert fragment in err


def test_unwritable_out(tiny_config: Path, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    status = main(["explore", str(tiny_config), "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--out" in err and f"{blocker} is a file, not a directory" in err


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.icarus
def test_generate_cosimulates_the_chosen_point(tiny_config: Path, explored: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explore", str(tiny_config), *TINY_RUN, "--out", str(explored), "--quiet",
                   "--no-plots", "--generate",
                   "--simulator", "icarus", "--cosim-samples", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "everything matched the golden model" in out
    assert (explored / "rtl" / "snn_core.v").is_file()
    assert json.loads((explored / "cosim.json").read_text())["matched"] is True
