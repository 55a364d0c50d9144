"""Cycles of the network core on digits samples against the event-driven lower bound.

The cycle model (``golden/cycles.py``) equals the RTL's cycles timestep by timestep (every
co-simulation checks it), so it measures the core on many samples without a simulator.  For
each timestep the bound the design admits is ``A * W + W + learned words`` (every spiking
row's weight words, one neuron-update pass, the learning pass; ``W = n_neurons / n_pe``
words, each ``n_pe`` synapses wide); the table reports the mean cycles per timestep, the
mean bound and their ratio, with learning on (training samples) and off (test samples).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import load_config

__all__ = ["measure", "format_table"]


def measure(config_name: str, train_samples: int = 20, test_samples: int = 100,
            clock_mhz: float = 100.0) -> dict[str, Any]:
    """Run the golden model on digits samples and apply the cycle model."""
    from ..golden.cycles import TimestepWork, lower_bound, sample_cycles, work_of
    from ..golden.datasets import load_dataset
    from ..golden.network import Network

    config = load_config(config_name)
    core = config.core
    train_set, test_set = load_dataset(config.data.dataset, config.data.path or None,
                                       core.encoder.pixel_bits)
    net = Network(core)
    rows = []
    for mode, images, learn in (("learning", train_set.images[:train_samples], True),
                                ("inference", test_set.images[:test_samples], False)):
        cycles, bound, totals = [], [], []
        for n, pixels in enumerate(images):
            res = net.run_sample(pixels, n, learn=learn, record=True)
            predicted = sample_cycles(core, res.input_raster, res.raster, learn)
            work: list[TimestepWork] = work_of(core, res.input_raster, res.raster)
            cycles += predicted.timesteps.tolist()
            bound += [lower_bound(core, w, learn) for w in work]
            totals.append(predicted.total)
        c, b = np.array(cycles, float), np.array(bound, float)
        rows.append({
            "mode": mode, "samples": len(images),
            "cycles_per_timestep": float(c.mean()), "bound_per_timestep": float(b.mean()),
            "ratio": float(c.sum() / b.sum()),
            "cycles_per_sample": float(np.mean(totals)),
            "us_per_sample": float(np.mean(totals)) / clock_mhz,
        })
    return {"config": config.source, "n_inputs": core.n_inputs, "n_neurons": core.n_neurons,
            "n_pe": core.n_pe, "timesteps": core.timesteps, "clock_mhz": clock_mhz,
            "rows": rows}


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['n_inputs']} inputs, {result['n_neurons']} neurons, n_pe = "
        f"{result['n_pe']}, {result['timesteps']} timesteps; microseconds at "
        f"{result['clock_mhz']:.0f} MHz",
        "",
        "| mode | samples | cycles/timestep | bound/timestep | ratio | cycles/sample | "
        "µs/sample |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['samples']} | {r['cycles_per_timestep']:.1f} | "
                     f"{r['bound_per_timestep']:.1f} | {r['ratio']:.2f} | "
                     f"{r['cycles_per_sample']:.0f} | {r['us_per_sample']:.0f} |")
    return "\n".join(lines)
