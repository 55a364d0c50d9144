"""Accuracy over seeds and timesteps: the golden model's numbers in ``docs/results.md``.

``plasticore bench accuracy`` trains the configuration once per (seed, timesteps, rule) as
runs of the explorer's task runner (:mod:`plasticore.explore.runs` says what a run and its
rules are; :mod:`plasticore.explore.cluster` where they train: worker processes or a Dask
cluster) and reports, per row, the mean and spread (sample standard deviation, min, max)
over the seeds.  The benchmark uses the explorer, never the other way round.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from ..explore.runs import Run

__all__ = ["bench_runs", "summarize", "format_table", "to_json"]


def bench_runs(full: int, timesteps: Sequence[int], seeds: int) -> list[Run]:
    """The runs of the table: the configuration as written and its float reference at its
    own ``full`` timesteps, then ``naive`` and ``enhanced`` at each smaller count of
    ``timesteps``, each with ``seeds`` seeds."""
    runs = [Run("full", full, s) for s in range(seeds)]
    runs += [Run("float", full, s) for s in range(seeds)]
    for t in timesteps:
        if t < full:
            runs += [Run(rule, t, s) for rule in ("naive", "enhanced") for s in range(seeds)]
    return runs


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
