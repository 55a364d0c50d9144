"""``plasticore bench core``: the 784-400 latency rows per PE and encoder lane count."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plasticore.bench.corecycles import latency


def test_lanes_price_the_same_spikes() -> None:
    """One golden run priced for several lane counts: the synaptic work is the same, and
    with 50 PE lanes at 350 timesteps one encoder lane makes the encode pass (784 + 6
    cycles) the pace of every timestep, eight lanes (98 + 6) do not."""
    rows = latency("mnist-400", 350, 60.0, samples=1, n_pe=(50,), lanes=(1, 8))
    assert [(r["n_pe"], r["lanes"]) for r in rows] == [(50, 1), (50, 8)]
    assert rows[0]["images"] == "mnist-5k test images"      # real MNIST for 784 inputs
    assert rows[0]["sop_per_sample"] == rows[1]["sop_per_sample"] > 0
    assert rows[0]["cycles_per_sample"] >= 350 * (784 + 6 + 1)
    assert rows[1]["cycles_per_sample"] < rows[0]["cycles_per_sample"] / 2
    assert rows[1]["us_per_sample"] == rows[1]["cycles_per_sample"] / 60.0


def test_row_banks_price_the_same_spikes() -> None:
    """Row banks add R spiking rows per neuron-pass cycle: the same synaptic work in fewer
    cycles, never fewer than the busiest bank's rows allow; a combination the configuration
    rules reject (more banks than encoder lanes) gets no row and a reason."""
    skipped: list[str] = []
    rows = latency("mnist-400", 50, 60.0, samples=1, n_pe=(100,), lanes=(1, 16),
                   row_banks=(1, 4), skipped=skipped)
    assert [(r["lanes"], r["row_banks"]) for r in rows] == [(1, 1), (16, 1), (16, 4)]
    assert skipped == ["n_pe 100, lanes 1, row_banks 4: row_banks = 4: must be a power of "
                       "two that divides encoder.lanes (1)"]
    one, four = rows[1], rows[2]
    assert one["sop_per_sample"] == four["sop_per_sample"] > 0
    # 50 timesteps of W = 4 words per spiking row: at least a quarter of the rows' words
    active_rows = one["sop_per_sample"] / 400
    assert four["cycles_per_sample"] > 4 * active_rows / 4
    assert four["cycles_per_sample"] < one["cycles_per_sample"] / 2
    # the busiest of 4 banks has more than a quarter of the rows: above the bound, which
    # spreads them evenly
    assert one["bound_ratio"] < four["bound_ratio"]
    assert 1.0 < four["bound_ratio"] < 1.5


def test_no_valid_combination_names_why() -> None:
    from plasticore.config import ConfigError

    with pytest.raises(ConfigError, match=r"^mnist-400: no valid combination .*\(n_pe 8, "
                       r"lanes 1, row_banks 2: row_banks = 2: must be a power of two"):
        latency("mnist-400", 50, 60.0, samples=1, row_banks=(2,))


@pytest.mark.parametrize("args", [["core", "--lanes", "8,x"], ["core", "--row-banks", "2,x"],
                                  ["accuracy", "--timesteps", "x"]],
                         ids=["lanes", "row-banks", "timesteps"])
def test_bad_list_is_one_line(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "plasticore.cli", "bench", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"plasticore: error: {args[1]} {args[2]!r}: expected "
                                   "comma-separated integers like 350,100,50")


def test_trained_weights_price_the_inference_rows(tmp_path) -> None:
    """``measure(..., weights=F)`` prices a layered network with the weights in F: with every
    weight 0 (and no bias) no neuron of digits-mlp-rate ever reaches threshold, so layer 1
    gets no input spike and each test sample costs what the cycle model gives for empty
    rasters; layer 0 weights all at the maximum make it fire, which gives layer 1 work."""
    import numpy as np

    from plasticore.bench.corecycles import measure
    from plasticore.config import load_config
    from plasticore.golden.datasets import load_dataset
    from plasticore.golden.network import Network
    from plasticore.golden.train import save_weights
    from plasticore.hdl.cycles import network_sample_cycles, sample_cycles

    config = load_config("digits-mlp-rate")
    cores = config.network.cores
    silent = Network(config.network,
                     weights=[np.zeros((c.n_inputs, c.n_neurons), np.int64) for c in cores])
    save_weights(tmp_path / "zero.npz", config, silent)
    result = measure("digits-mlp-rate", test_samples=2, clock_mhz=60.0,
                     weights=str(tmp_path / "zero.npz"))
    firing = Network(config.network, weights=[
        np.full((c.n_inputs, c.n_neurons), c.derived.w_max if index == 0 else 0, np.int64)
        for index, c in enumerate(cores)])
    save_weights(tmp_path / "firing.npz", config, firing)
    baseline = measure("digits-mlp-rate", test_samples=2, clock_mhz=60.0,
                       weights=str(tmp_path / "firing.npz"))
    assert result["weights"].endswith("zero.npz")
    _, test_set = load_dataset("digits", None, cores[0].encoder.pixel_bits)
    totals, in_turn = [], []
    for n, pixels in enumerate(test_set.images[:2]):
        input_raster = silent.input_spikes(pixels, n)
        empty = [np.zeros((config.network.timesteps, c.n_neurons), bool) for c in cores]
        totals.append(network_sample_cycles(cores, input_raster, empty).total)
        in_turn.append(sample_cycles(cores[0], input_raster, empty[0], False).total
                       + sample_cycles(cores[1], empty[0], empty[1], False).total)
    network_row = result["rows"][-1]
    assert network_row["cycles_per_sample"] == np.mean(totals)
    # one engine running the layers in turn takes at least their own cycles added up
    assert result["in_turn"]["cycles_per_sample"] == np.mean(in_turn) > np.mean(totals)
    # layer 1 keeps layer 0's pace, but its own work (the bound) follows layer 0's spikes
    assert (result["rows"][1]["bound_per_timestep"]
            < baseline["rows"][1]["bound_per_timestep"])


@pytest.mark.parametrize("args, message", [
    (["core", "--weights", "missing.npz"], "missing.npz: no such weights file"),
    (["peer", "--weights", "w.npz"], "--weights: only with `plasticore bench core`, not peer"),
], ids=["missing", "not-core"])
def test_bad_weights_option_is_one_line(tmp_path, args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "plasticore.cli", "bench", *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("plasticore: error: ") and proc.stderr.count("\n") == 1
    assert message in proc.stderr
