"""``plasticore explore`` of a network trained elsewhere: a tiny two-layer NIR network built
with ``nir`` here, swept over 2 timesteps x 2 widths, every number checked against the
golden model run directly at those points (never against the explorer's own output)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import nir
import numpy as np
import pytest

from plasticore.cli import main
from plasticore.config import load_config
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network
from plasticore.golden.train import evaluate, save_weights
from plasticore.interchange.graph import network_of
from plasticore.interchange.quantize import ImportOptions, quantize

DT = 1e-4
T0, TRAIN, TEST, VALIDATION, COSTS = 6, 80, 30, 20, 2


def tiny_graph(threshold: float = 1.0) -> nir.NIRGraph:
    """Input(64) -> Affine -> LIF (beta 0.75) -> Affine -> LIF -> Output(10), fixed random
    weights (the golden model is the reference, not a trained accuracy)."""
    rng = np.random.default_rng(7)
    tau = DT / (1 - 0.75)

    def lif(n: int) -> nir.LIF:
        return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / DT), v_leak=np.zeros(n),
                       v_threshold=np.full(n, threshold), v_reset=np.zeros(n))

    nodes = {
        "in": nir.Input(input_type={"input": np.array([64])}),
        "fc0": nir.Affine(weight=rng.normal(0.05, 0.2, (12, 64)),
                          bias=rng.normal(0.0, 0.05, 12)),
        "lif0": lif(12),
        "fc1": nir.Affine(weight=rng.normal(0.1, 0.6, (10, 12)), bias=np.zeros(10) + 0.05),
        "lif1": lif(10),
        "out": nir.Output(output_type={"output": np.array([10])}),
    }
    edges = [("in", "fc0"), ("fc0", "lif0"), ("lif0", "fc1"), ("fc1", "lif1"),
             ("lif1", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def import_at(graph: nir.NIRGraph, timesteps: int, bits: int, encoder: str = "rate") -> Any:
    options = ImportOptions(dataset="digits", timesteps=timesteps, encoder=encoder,
                            max_rate=1.0, weight_bits=bits, dt=DT)
    return quantize(network_of(graph, DT), options)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("trained")
    graph = tiny_graph()
    nir.write(str(folder / "tiny.nir"), graph)
    nir.write(str(folder / "other.nir"), tiny_graph(threshold=1.5))
    imported = import_at(graph, T0, 8)
    config = dataclasses.replace(imported.config, data=dataclasses.replace(
        imported.config.data, train_samples=TRAIN, test_samples=TEST))
    config.save(folder / "tiny.toml")
    config = load_config(folder / "tiny.toml")
    save_weights(folder / "tiny.npz", config,
                 Network(config.network, weights=imported.weights, theta=imported.theta,
                         bias=imported.bias))
    return {"config": folder / "tiny.toml", "weights": folder / "tiny.npz",
            "nir": folder / "tiny.nir", "other": folder / "other.nir", "folder": folder}


SWEEP = ["--timesteps", "6,3", "--weight-bits", "8,4", "--seeds", "2", "--workers", "1",
         "--validation", str(VALIDATION), "--cost-samples", str(COSTS),
         "--constraints", "accuracy_drop<=0.5"]


@pytest.fixture(scope="module")
def explored(files: dict[str, Path]) -> Path:
    out = files["folder"] / "explored"
    status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                   "--nir", str(files["nir"]), *SWEEP, "--out", str(out), "--quiet"])
    assert status == 0
    return out


def golden_scores(network: Any, weights: Any, theta: Any, bias: Any,
                  seed: int) -> tuple[float, float, float]:
    """(test accuracy, validation accuracy, mean cycles of the first COSTS test samples),
    from the golden model and the cycle model directly."""
    from plasticore.bench.corecycles import layer_rasters
    from plasticore.hdl.cycles import network_sample_cycles

    network = dataclasses.replace(network, seed=seed)
    train_set, test_set = load_dataset("digits", None, 8)
    train_set, test_set = train_set.subset(0, TRAIN), test_set.subset(0, TEST)
    net = Network(network, weights=weights, theta=theta, bias=bias)
    test = evaluate(net, train_set, test_set, readout="count").accuracy
    held = train_set.subset(TRAIN - VALIDATION)
    validation = evaluate(net, train_set, held, readout="count").accuracy
    cycles = []
    for k in range(COSTS):
        input_raster, rasters = layer_rasters(network, weights, theta, bias,
                                              test_set.images[k], k)
        # the per-layer rerun gives the whole network's output spikes
        whole = net.run_sample(test_set.images[k], k, learn=False, record=True)
        assert np.array_equal(rasters[-1], whole.raster)
        pixels = test_set.images[k] if input_raster is None else None    # current input
        cycles.append(network_sample_cycles(network.cores, input_raster, rasters,
                                            pixels=pixels).total)
    return test, validation, float(np.mean(cycles))


def test_every_point_is_the_golden_models(explored: Path, files: dict[str, Path]) -> None:
    """Each (T, b) point: a fresh import at T timesteps and b bits, run directly: its test
    and validation accuracy per seed and its cycles are the row's; its weight memory per
    layer is inputs x neurons x b."""
    rows = json.loads((explored / "results.json").read_text())["rows"]
    assert {(r["timesteps"], r["weight_width"]) for r in rows} == {(6, 8), (6, 4), (3, 8),
                                                                   (3, 4)}
    graph = nir.read(str(files["nir"]))
    for r in rows:
        imported = import_at(graph, r["timesteps"], r["weight_width"])
        scores = [golden_scores(imported.config.network, imported.weights, imported.theta,
                                imported.bias, seed) for seed in (0, 1)]
        assert r["per_seed"] == {"0": scores[0][0], "1": scores[1][0]}
        assert r["validation_per_seed"] == {"0": scores[0][1], "1": scores[1][1]}
        assert r["cycles"] == pytest.approx(np.mean([s[2] for s in scores]))
        b = r["weight_width"]
        assert [layer["weight_memory_bits"] for layer in r["layers"]] == [64 * 12 * b,
                                                                          12 * 10 * b]
        assert [layer["lanes"] for layer in r["layers"]] == [4, 2]
        assert r["latency_us"] == pytest.approx(r["cycles"] / 60.0)
        assert r["how"] == ("baseline" if (r["timesteps"], b) == (6, 8) else "nir import")
    # the test accuracies differ between the points (the check above can fail)
    assert len({r["accuracy"] for r in rows}) > 1


def test_report_and_plots(explored: Path) -> None:
    import matplotlib.image

    results = json.loads((explored / "results.json").read_text())
    report = (explored / "report.md").read_text()
    for r in results["rows"]:
        assert f"{100 * r['accuracy']:.2f} ± {100 * r['accuracy_std']:.2f}" in report
    chosen = results["chosen"]
    assert chosen is not None and f"**{chosen['label']}**" in report
    config = load_config(explored / "chosen.toml")
    assert (config.network.timesteps, config.network.layers[0].widths.weight) == (
        chosen["timesteps"], chosen["weight_width"])
    for name in ("accuracy_vs_timesteps", "pareto_latency", "pareto_memory"):
        image = matplotlib.image.imread(explored / f"{name}.png")
        assert image.std() > 0.01, name
        assert f"({name}.png)" in report


def test_rerun_resumes_from_the_cache(explored: Path, files: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                   "--nir", str(files["nir"]), *SWEEP, "--out", str(explored), "--quiet",
                   "--no-plots"])
    assert status == 0
    assert re.search(r"\b0 runs scored", capsys.readouterr().out)


def test_an_interrupted_sweep_resumes(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C during the third run: exit 130, the two finished runs are in the cache, and
    the same command scores only the rest."""
    import plasticore.explore.scoring as scoring

    real, calls = scoring.score_run, []

    def interrupted(text: str, run: Any) -> dict[str, Any]:
        calls.append(run)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(text, run)

    monkeypatch.setattr(scoring, "score_run", interrupted)
    out = files["folder"] / "interrupted"
    args = ["explore", str(files["config"]), "--weights", str(files["weights"]),
            "--timesteps", "6,3", "--weight-bits", "8", "--seeds", "1", "--workers", "1",
            "--validation", str(VALIDATION), "--cost-samples", "1", "--out", str(out),
            "--quiet", "--no-plots"]
    assert main(args) == 130
    assert "plasticore: interrupted" in capsys.readouterr().err
    assert len(list((out / "cache").glob("*.json"))) == 2
    monkeypatch.setattr(scoring, "score_run", real)
    assert main(args) == 0
    assert re.search(r"\b2 runs scored", capsys.readouterr().out)       # of 4


def test_requantize_weights_by_hand() -> None:
    """8 -> 4 bits: floor((w + 8) / 16), saturated to -8..7."""
    from plasticore.explore.trained import requantize_weights

    w = np.array([-128, -9, -8, -7, 0, 7, 8, 119, 120, 127])
    assert requantize_weights(w, 4, 4, True).tolist() == [-8, -1, 0, 0, 0, 0, 1, 7, 7, 7]
    # truncation (a plain shift) would differ: 8 >> 4 = 0, -7 >> 4 = -1
    assert (w >> 4).tolist() != requantize_weights(w, 4, 4, True).tolist()
    assert requantize_weights(np.array([0, 7, 8, 255]), 4, 4, False).tolist() == [0, 0, 1, 15]


def test_without_nir_narrower_widths_requantize(files: dict[str, Path]) -> None:
    """No --nir: the 4-bit point is the file's weights rounded by hand, with current_shift
    grown by 4 and everything else as in the file."""
    out = files["folder"] / "requantized"
    status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                   "--timesteps", "6", "--weight-bits", "8,4", "--seeds", "1",
                   "--workers", "1", "--validation", str(VALIDATION), "--cost-samples", "1",
                   "--out", str(out), "--quiet", "--no-plots"])
    assert status == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    row = next(r for r in rows if r["weight_width"] == 4)
    assert row["how"] == "requantized"
    config = load_config(files["config"])
    imported = import_at(nir.read(str(files["nir"])), T0, 8)
    weights = [np.clip(np.floor((w + 8) / 16), -8, 7).astype(np.int64)
               for w in imported.weights]
    layers = tuple(dataclasses.replace(layer, widths=dataclasses.replace(
        layer.widths, weight=4, current_shift=layer.widths.current_shift + 4))
        for layer in config.network.layers)
    network = dataclasses.replace(config.network, layers=layers)
    test, validation, _ = golden_scores(network, weights, imported.theta, imported.bias, 0)
    assert row["per_seed"] == {"0": test}
    assert row["validation_per_seed"] == {"0": validation}
    assert [layer["current_shift"] for layer in row["layers"]] == [
        layer.widths.current_shift for layer in layers]


def test_current_input_runs_one_seed(files: dict[str, Path]) -> None:
    """Current input draws nothing: one run per point whatever --seeds, and its cycles
    those of the cycle model given the pixels."""
    graph = nir.read(str(files["nir"]))
    imported = import_at(graph, 4, 8, "current")
    config = dataclasses.replace(imported.config, data=dataclasses.replace(
        imported.config.data, train_samples=TRAIN, test_samples=TEST))
    config.save(files["folder"] / "current.toml")
    config = load_config(files["folder"] / "current.toml")
    save_weights(files["folder"] / "current.npz", config,
                 Network(config.network, weights=imported.weights, theta=imported.theta,
                         bias=imported.bias))
    out = files["folder"] / "current"
    status = main(["explore", str(files["folder"] / "current.toml"), "--weights",
                   str(files["folder"] / "current.npz"), "--nir", str(files["nir"]),
                   "--timesteps", "4", "--weight-bits", "8,4", "--seeds", "3", "--workers",
                   "1", "--validation", str(VALIDATION), "--cost-samples", str(COSTS),
                   "--out", str(out), "--quiet", "--no-plots"])
    assert status == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    for r in rows:
        point = import_at(graph, 4, r["weight_width"], "current")
        test, validation, cycles = golden_scores(point.config.network, point.weights,
                                                 point.theta, point.bias, 0)
        assert r["per_seed"] == {"0": test} and r["validation_per_seed"] == {"0": validation}
        assert r["cycles"] == cycles
        # exact: a difference from the baseline is one
        assert r["distinguishable"] == (r["accuracy"] != rows[0]["accuracy"])


@pytest.mark.parametrize("args, fragment", [
    (["--weight-bits", "8"], "give the network's weights with --weights W.npz"),
    (["WEIGHTS", "--weight-bits", "10"], "--weight-bits 10: above the weights file's 8-bit"),
    (["WEIGHTS", "--nir", "OTHER"], "does not import to"),
    (["WEIGHTS", "--generate"], "--generate: not for a network trained elsewhere"),
    (["WEIGHTS", "--validation", "80"], "--validation 80: must be below the 80 training"),
    (["WEIGHTS", "--timesteps", "0"], "--timesteps '0': 0 is out of range"),
    (["WEIGHTS", "--nir", "MISSING"], "--nir"),
    (["STDP", "--weights", "x.npz"], "--weights: only for a network trained off chip"),
    (["STDP", "--forward", "lut"], "--forward: only for a network trained off chip"),
    (["WEIGHTS", "--forward", "lut", "--lut-group", "7"],
     "--forward lut --lut-group 7: layers[0].lut_group"),
    (["WEIGHTS", "--lut-group", "4"], "--lut-group 4: only with --forward ...,lut"),
    (["WEIGHTS", "--forward", "mac"], "--forward 'mac': unknown engine 'mac'"),
])
def test_user_errors_are_one_line(files: dict[str, Path], tmp_path: Path, args: list[str],
                                  fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    names = {"WEIGHTS": ["--weights", str(files["weights"])], "OTHER": [str(files["other"])],
             "MISSING": [str(tmp_path / "none.nir")]}
    config = "digits" if args[0] == "STDP" else str(files["config"])
    expanded = [part for a in args if a != "STDP" for part in names.get(a, [a])]
    status = main(["explore", config, "--out", str(tmp_path / "o"), "--validation", "20",
                   *expanded])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("plasticore: error: ") and err.count("\n") == 1, err
    assert fragment in err


def test_a_local_cluster_scores_as_this_process(files: dict[str, Path]) -> None:
    """The same scoring runs on a local Dask cluster of two workers and in this process:
    the same results, bit for bit (only the CPU time differs)."""
    from plasticore.explore.cluster import Runner
    from plasticore.explore.scoring import Scoring, ScoringEvaluator, arrays_json

    config = load_config(files["config"])
    imported = import_at(nir.read(str(files["nir"])), 3, 4)
    text = config.replace_network(imported.config.network).to_toml()
    arrays = arrays_json(imported.weights, imported.theta, imported.bias)
    runs = [Scoring(text, arrays, seed, split, VALIDATION, COSTS if split == "test" else 0)
            for seed in (0, 1) for split in ("validation", "test")]
    here = ScoringEvaluator(config, None).run(runs)
    with Runner(workers=2) as runner:
        there = ScoringEvaluator(config, None, runner).run(runs)
    for a, b in zip(here, there, strict=True):
        assert {k: v for k, v in a.items() if k != "cpu_seconds"} == {
            k: v for k, v in b.items() if k != "cpu_seconds"}


def test_synth_sets_each_points_clock(explored: Path, files: dict[str, Path],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """--synth: each point's whole network goes to the hook, its latency is taken at the
    Fmax the hook estimates, the report lists the resources."""
    import plasticore.explore.cost as cost

    seen = []

    def fake_hook(config, board, **_):
        assert board == "arty_a7_35"

        def hook(network):
            seen.append(network)
            return {"board": board, "fmax_mhz": 50.0 + network.layers[0].widths.weight,
                    "lut": 3000, "ff": 2000, "bram36": 3.0, "dsp": 15,
                    "fits": network.timesteps > 3}
        return hook

    monkeypatch.setattr(cost, "network_synth_hook", fake_hook)
    status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                   "--nir", str(files["nir"]), *SWEEP, "--out", str(explored), "--quiet",
                   "--no-plots", "--synth"])
    assert status == 0
    rows = json.loads((explored / "results.json").read_text())["rows"]
    assert len(seen) == len(rows) == 4 and all(len(n.layers) == 2 for n in seen)
    for r in rows:
        assert r["clock_mhz"] == 50.0 + r["weight_width"]
        assert r["latency_us"] == pytest.approx(r["cycles"] / r["clock_mhz"])
    report = (explored / "report.md").read_text()
    assert "## FPGA resources" in report
    assert report.count("| 3,000 | 2,000 | 3 | 15 |") == 4
    assert report.count("| **no** |") == 2                 # the 3-timestep points


def test_forward_engines_share_accuracy_and_cost_their_own(
        files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--forward accumulate,lut --lut-group 2,4: three rows per point with one accuracy
    (scored once: 2 runs per point, not 6); each row's cycles are the cycle model's on the
    network with that engine set by hand, run directly; the LUT rows' rows read per
    timestep are the groups with a spike counted by hand; the weight memory is the RTL's
    tables, 2**k entries of a k-weight sum per group and neuron; chosen.toml carries the
    chosen row's engine."""
    out = files["folder"] / "engines"
    status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                   "--timesteps", "6", "--weight-bits", "8", "--seeds", "1", "--workers", "1",
                   "--validation", str(VALIDATION), "--cost-samples", str(COSTS),
                   "--forward", "accumulate,lut", "--lut-group", "2,4",
                   "--constraints", "accuracy_drop<=0.5", "--minimize", "latency_us",
                   "--out", str(out), "--quiet", "--no-plots"])
    assert status == 0
    assert re.search(r"\b2 runs scored", capsys.readouterr().out)
    results = json.loads((out / "results.json").read_text())
    rows = results["rows"]
    assert [r["engine"] for r in rows] == ["accumulate", "lut2", "lut4"]
    assert len({r["label"] for r in rows}) == 3
    config = load_config(files["config"])
    imported = import_at(nir.read(str(files["nir"])), T0, 8)
    train_set, test_set = load_dataset("digits", None, 8)
    for r in rows:
        k = 0 if r["engine"] == "accumulate" else int(r["engine"][3:])
        layers = tuple(dataclasses.replace(layer, forward="lut" if k else "accumulate",
                                           lut_group=k or 4)
                       for layer in config.network.layers)
        network = dataclasses.replace(config.network, layers=layers)
        test, validation, cycles = golden_scores(network, imported.weights, imported.theta,
                                                 imported.bias, 0)
        assert r["per_seed"] == {"0": test} and r["validation_per_seed"] == {"0": validation}
        assert r["cycles"] == pytest.approx(cycles)
        assert r["forward"] == [layer.forward for layer in layers]
        if not k:
            assert [layer["weight_memory_bits"] for layer in r["layers"]] == [64 * 12 * 8,
                                                                              12 * 10 * 8]
            continue
        # a sum of k 8-bit signed weights: k * -128 .. k * 127, in 8 + ceil(log2 k) bits
        entry = 8 + (k - 1).bit_length()
        assert [layer["weight_memory_bits"] for layer in r["layers"]] == [
            -(-64 // k) * 2**k * 12 * entry, -(-12 // k) * 2**k * 10 * entry]
        # layer 0's groups with a spike, by hand: inputs g*k .. g*k+k-1 (one lane)
        groups = []
        for n in range(COSTS):
            net = Network(dataclasses.replace(network, seed=0), weights=imported.weights,
                          theta=imported.theta, bias=imported.bias)
            raster = net.run_sample(test_set.subset(0, TEST).images[n], n, learn=False,
                                    record=True).input_raster
            padded = np.zeros((T0, -(-64 // k) * k), bool)
            padded[:, :64] = raster
            groups.append(padded.reshape(T0, -1, k).any(axis=2).sum() / T0)
        assert r["layers"][0]["rows_per_timestep"] == pytest.approx(np.mean(groups))
    # the LUT reads fewer rows than there are spiking inputs, so the rows can fail
    assert rows[2]["layers"][0]["rows_per_timestep"] < rows[0]["layers"][0][
        "rows_per_timestep"]
    chosen = results["chosen"]
    assert chosen["label"] in {r["label"] for r in rows}
    saved = load_config(out / "chosen.toml").network
    assert [layer.forward for layer in saved.layers] == chosen["forward"]
    assert [layer.lut_group if layer.forward == "lut" else 0
            for layer in saved.layers] == chosen["lut_group"]
    report = (out / "report.md").read_text()
    assert "**Accuracy is the same on every engine**" in report


def test_synthesis_metrics_choose_among_engines(files: dict[str, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With --synth a row has its LUTs, BRAMs and DSPs as metrics: fastest first, a LUT
    engine (fewer rows read, the same stand-in clock) is chosen; under bram36<=5, with the
    stand-in tables taking 10, only the accumulate row is feasible and chosen."""
    import plasticore.explore.cost as cost

    def fake_hook(config, board, **_):
        def hook(network):
            lut = any(layer.forward == "lut" for layer in network.layers)
            return {"board": board, "fmax_mhz": 60.0, "lut": 3000, "ff": 2000,
                    "bram36": 10.0 if lut else 2.0, "dsp": 12, "fits": True}
        return hook

    monkeypatch.setattr(cost, "network_synth_hook", fake_hook)
    chosen = {}
    for constraint in ("accuracy_drop<=0.5", "accuracy_drop<=0.5,bram36<=5"):
        out = files["folder"] / f"synth-engines-{len(chosen)}"
        status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                       "--timesteps", "6", "--weight-bits", "8", "--seeds", "1",
                       "--workers", "1", "--validation", str(VALIDATION), "--cost-samples",
                       str(COSTS), "--forward", "accumulate,lut", "--lut-group", "4",
                       "--synth", "--constraints", constraint, "--minimize", "latency_us",
                       "--out", str(out), "--quiet", "--no-plots"])
        assert status == 0
        results = json.loads((out / "results.json").read_text())
        assert [r["bram36"] for r in results["rows"]] == [2.0, 10.0]
        chosen[constraint] = results["chosen"]["engine"]
    assert chosen == {"accuracy_drop<=0.5": "lut4", "accuracy_drop<=0.5,bram36<=5": "accumulate"}


def test_a_synthesis_metric_needs_synth(files: dict[str, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explore", str(files["config"]), "--weights", str(files["weights"]),
                   "--validation", "20", "--constraints", "bram36<=3", "--out",
                   str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--constraints bram36 <= 3: bram36 is known only after synthesis: add --synth" in err


def test_a_bptt_network_is_explored_as_one_trained_elsewhere(files: dict[str, Path]) -> None:
    """rule.kind = 'bptt' (plasticore train's networks): the same sweep, from its weights;
    its rows are the golden model's, and chosen.toml keeps the rule."""
    from plasticore.config import BpttConfig, RuleConfig

    config = load_config(files["config"])
    bptt = config.replace_network(dataclasses.replace(
        config.network, rule=RuleConfig(kind="bptt", bptt=BpttConfig())))
    bptt.save(files["folder"] / "bptt.toml")
    imported = import_at(nir.read(str(files["nir"])), T0, 8)
    out = files["folder"] / "bptt"
    status = main(["explore", str(files["folder"] / "bptt.toml"), "--weights",
                   str(files["weights"]), "--timesteps", "6", "--weight-bits", "8",
                   "--seeds", "1", "--workers", "1", "--validation", str(VALIDATION),
                   "--cost-samples", str(COSTS), "--forward", "lut", "--constraints",
                   "accuracy_drop<=0.5", "--out", str(out), "--quiet", "--no-plots"])
    assert status == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    test, validation, cycles = golden_scores(config.network, imported.weights, imported.theta,
                                             imported.bias, 0)
    assert [r["engine"] for r in rows] == ["accumulate", "lut4"]
    assert rows[0]["per_seed"] == {"0": test} and rows[0]["cycles"] == pytest.approx(cycles)
    assert load_config(out / "chosen.toml").network.rule.kind == "bptt"
