"""Accuracy over seeds and timesteps: the golden model's numbers in ``docs/results.md``.

Trains the configuration once per (seed, timesteps, rule) in worker processes and reports,
per row, the mean and spread (sample standard deviation, min, max) over the seeds.  Rules:

- ``full``: the configuration as written (its own timestep count);
- ``naive``: only ``timesteps`` changed;
- ``enhanced``: ``spikeforge.topspark.reduce_timesteps`` (parameters enhanced for the
  shorter sample);
- ``float``: the float64 reference at full timesteps (what quantization costs).
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..config import Config

__all__ = ["Run", "run_grid", "summarize", "format_table"]


@dataclass(frozen=True)
class Run:
    """One training run of the grid."""

    rule: str
    timesteps: int
    seed: int


def _train_one(config_toml: str, run: Run) -> dict[str, Any]:
    import tomllib

    from ..golden.datasets import load_dataset
    from ..golden.train import evaluate, train
    from ..topspark import reduce_timesteps

    config = Config.from_dict(tomllib.loads(config_toml))
    core = config.core.replace(seed=run.seed)
    if run.rule == "naive":
        core = core.replace(timesteps=run.timesteps)
    elif run.rule == "enhanced":
        core = reduce_timesteps(core, run.timesteps)
    data = config.data
    train_set, test_set = load_dataset(data.dataset, data.path or None,
                                       core.encoder.pixel_bits)
    if data.train_samples:
        train_set = train_set.subset(0, data.train_samples)
    if data.test_samples:
        test_set = test_set.subset(0, data.test_samples)
    arithmetic = "float" if run.rule == "float" else "integer"
    net, seconds, _ = train(core, train_set, data.epochs, arithmetic)
    ev = evaluate(net, train_set, test_set, readout=config.classify.readout)
    return {"rule": run.rule, "timesteps": core.timesteps, "seed": run.seed,
            "accuracy": ev.accuracy, "spikes_per_sample": ev.spikes_per_sample,
            "ms_per_train_sample": 1000 * seconds / max(len(train_set) * data.epochs, 1)}


def run_grid(config: Config, runs: Sequence[Run], workers: int | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Train every run (in ``workers`` processes, default: the CPU count)."""
    text = config.to_toml()
    results = []
    workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_train_one, text, run) for run in runs]
        for future in futures:
            result = future.result()
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def summarize(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread of accuracy per (rule, timesteps), in first-seen order."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["rule"], r["timesteps"]), []).append(r)
    rows = []
    for (rule, timesteps), rs in groups.items():
        acc = [100 * r["accuracy"] for r in rs]
        rows.append({
            "rule": rule, "timesteps": timesteps, "seeds": len(rs),
            "mean": statistics.fmean(acc),
            "std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            "min": min(acc), "max": max(acc),
            "spikes_per_sample": statistics.fmean(r["spikes_per_sample"] for r in rs),
            "ms_per_train_sample": statistics.fmean(r["ms_per_train_sample"] for r in rs),
            "per_seed": {r["seed"]: round(100 * r["accuracy"], 2) for r in rs},
        })
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`summarize` rows."""
    lines = ["| timesteps | rule | seeds | accuracy % (mean ± std) | min | max | "
             "out spikes/sample | ms/train sample |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['timesteps']} | {r['rule']} | {r['seeds']} | "
                     f"{r['mean']:.2f} ± {r['std']:.2f} | {r['min']:.2f} | {r['max']:.2f} | "
                     f"{r['spikes_per_sample']:.1f} | {r['ms_per_train_sample']:.1f} |")
    return "\n".join(lines)


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=1)
