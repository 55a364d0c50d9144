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
