"""``spikeforge bench core``: the 784-400 latency rows per PE and encoder lane count."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spikeforge.bench.corecycles import latency


def test_lanes_price_the_same_spikes() -> None:
    """One golden run priced for several lane counts: the synaptic work is the same, and
    with 50 PE lanes at 350 timesteps one encoder lane makes the encode pass (784 + 6
    cycles) the pace of every timestep, eight lanes (98 + 6) do not."""
    rows = latency("mnist-400", 350, 60.0, samples=1, n_pe=(50,), lanes=(1, 8))
    assert [(r["n_pe"], r["lanes"]) for r in rows] == [(50, 1), (50, 8)]
    assert rows[0]["sop_per_sample"] == rows[1]["sop_per_sample"] > 0
    assert rows[0]["cycles_per_sample"] >= 350 * (784 + 6 + 1)
    assert rows[1]["cycles_per_sample"] < rows[0]["cycles_per_sample"] / 2
    assert rows[1]["us_per_sample"] == rows[1]["cycles_per_sample"] / 60.0


@pytest.mark.parametrize("args", [["core", "--lanes", "8,x"], ["accuracy", "--timesteps", "x"]],
                         ids=["lanes", "timesteps"])
def test_bad_list_is_one_line(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "spikeforge.cli", "bench", *args],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"spikeforge: error: {args[1]} {args[2]!r}: expected "
                                   "comma-separated integers like 350,100,50")
