"""The sweep behind ``plasticore explore``: points, runs, statistics, choice.

1. For every reduced timestep count, the enhanced parameters: :func:`.enhance.search` on
   the validation split (or the fixed rule, ``search=False``); for every width of
   ``search_bits``, the same search again from the width-moved point, at every timestep
   count.
2. The grid: every (timesteps, weight width) point is the enhanced configuration at those
   timesteps moved to that width (:func:`.precision.with_weight_bits`), trained with
   ``seeds`` seeds and scored on the test set, with its costs (:mod:`.cost`).
3. Comparisons at the configuration's own width: the unenhanced reduction ("naive": only
   the timesteps change) and the fixed rule (``topspark.reduce_timesteps``) at every reduced
   timestep count; the variants (:data:`.precision.VARIANTS`) at ``variant_timesteps`` and
   every width of ``variant_bits``.
4. Statistics per point: mean, sample standard deviation, min and max over the seeds; the
   drop against the baseline's mean (the configuration as written: its timesteps, its
   width), with Welch's t-test (``distinguishable`` when p < 0.05).
5. Choice: :func:`.pareto.choose` under the constraints.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import CoreConfig
from ..topspark import reduce_timesteps
from . import cost
from .enhance import SearchResult, describe, search
from .grid import Evaluator, Job
from .pareto import SYNTH_METRICS, choose, pareto_front
from .precision import apply_variant, with_weight_bits
from .settings import Settings

__all__ = ["Settings", "Point", "explore", "summarize_point", "welch"]

Say = Callable[[str], None]


@dataclass
class Point:
    """A design point: where it comes from, its configuration, its runs."""

    kind: str                  # grid, naive, rule, variant, quantized
    timesteps: int
    weight_width: int
    core: CoreConfig
    variant: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)
    trained: CoreConfig | None = None   # quantized: the core trained before moving to core

    @property
    def label(self) -> str:
        base = f"T={self.timesteps} w={self.weight_width}"
        return f"{base} {self.kind}" + (f" {self.variant}" if self.variant else "")


def welch(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test (1.0 when it is undefined: fewer than 2 values
    or no spread on either side)."""
    if len(a) < 2 or len(b) < 2:
        return 1.0
    va, vb = statistics.variance(a), statistics.variance(b)
    if va == 0 and vb == 0:
        return 1.0 if statistics.fmean(a) == statistics.fmean(b) else 0.0
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # nearly identical samples
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return 1.0 if math.isnan(p) else p


def summarize_point(point: Point, baseline: Sequence[float], clock_mhz: float,
                    synth: cost.SynthHook | None = None) -> dict[str, Any]:
    """Metrics of a point from its runs (accuracies as fractions)."""
    accs = [r["accuracy"] for r in point.results]
    mean = statistics.fmean(accs)
    row: dict[str, Any] = {
        "label": point.label, "kind": point.kind, "variant": point.variant,
        "timesteps": point.timesteps, "weight_width": point.weight_width,
        "seeds": len(accs), "accuracy": mean,
        "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "accuracy_min": min(accs), "accuracy_max": max(accs),
        "per_seed": {str(r["seed"]): r["accuracy"] for r in point.results},
        "accuracy_drop": statistics.fmean(baseline) - mean,
        "p_vs_baseline": welch(accs, baseline),
        "spikes_per_sample": statistics.fmean(r["spikes_per_sample"] for r in point.results),
    }
    row["distinguishable"] = row["p_vs_baseline"] < 0.05
    mem = cost.memory_bits(point.core)
    row["weight_memory_bits"] = mem["weight_bits"]
    row["state_memory_bits"] = mem["state_bits"]
    row["memory_bits"] = mem["weight_bits"] + mem["state_bits"]
    costs = [r["costs"] for r in point.results if "costs" in r]
    if costs:
        counts = {k: statistics.fmean(c[k] for c in costs) for k in costs[0]}
        clock = clock_mhz
        if synth is not None:
            found = synth(point.core)
            row["synth"] = found
            row.update({k: found[k] for k in SYNTH_METRICS if k in found})
            clock = float(found.get("fmax_mhz", clock_mhz))
        row["clock_mhz"] = clock
        row.update(cost.latency(counts, clock))
        row.update(cost.energy(point.core, counts))
        row["input_spikes_per_sample"] = counts["input_spikes"]
    return row


def _jobs(points: Sequence[Point], seeds: int, costs: int) -> list[Job]:
    return [Job(p.trained or p.core, s, "test", costs,
                deploy=p.core if p.trained is not None else None)
            for p in points for s in range(seeds)]


def explore(settings: Settings, evaluator: Evaluator,
            say: Say = lambda _: None) -> dict[str, Any]:
    """Run the sweep of ``settings`` (on its configuration); returns everything the report
    needs (JSON-ready)."""
    config = settings.config
    assert settings.timesteps is not None and settings.clock_mhz is not None   # resolved
    base = config.core
    T0, b0 = base.timesteps, base.widths.weight
    # 1. enhanced parameters per reduced timestep count
    enhanced: dict[int, CoreConfig] = {T0: base}
    searches: dict[str, SearchResult] = {}
    for T in sorted(set(settings.timesteps), reverse=True):
        if T == T0:
            continue
        if settings.search:
            say(f"explore: searching parameters at {T} timesteps")
            larger = min((t for t in enhanced if t > T), default=T0)
            warm = [enhanced[larger].replace(timesteps=T)] if larger != T0 else []
            result = search(base, T, evaluator, seeds=range(settings.search_seeds),
                            confirm_seeds=range(settings.search_seeds,
                                                settings.search_seeds
                                                + settings.confirm_seeds),
                            rounds=settings.search_rounds, warm=warm)
            searches[str(T)] = result
            enhanced[T] = result.best
            say(f"explore: T={T}: validation accuracy {100 * result.start_score:.1f}% "
                f"(fixed rule) -> {100 * result.best_score:.1f}% (searched), "
                f"{result.runs} runs")
        else:
            enhanced[T] = reduce_timesteps(base, T)
    # 1b. at the widths of search_bits, the same search from the width-moved point
    narrow: dict[tuple[int, int], CoreConfig] = {}
    for b in settings.search_bits:
        for T in sorted(set(settings.timesteps), reverse=True):
            say(f"explore: searching parameters at {T} timesteps, {b}-bit weights")

            def start(_: CoreConfig, t: int, b: int = b) -> CoreConfig:
                return with_weight_bits(enhanced[t], b, settings.width_transform)

            result = search(base, T, evaluator, seeds=range(settings.search_seeds),
                            confirm_seeds=range(settings.search_seeds,
                                                settings.search_seeds
                                                + settings.confirm_seeds),
                            rounds=settings.search_rounds, start=start)
            searches[f"{T}/{b}"] = result
            narrow[(T, b)] = result.best
            say(f"explore: T={T}, {b} bits: validation accuracy "
                f"{100 * result.start_score:.1f}% (moved) -> {100 * result.best_score:.1f}% "
                f"(searched), {result.runs} runs")
    # 2-3. every point of the grid and the comparisons
    points: list[Point] = []
    for T in settings.timesteps:
        for b in settings.weight_bits:
            core = (narrow.get((T, b))
                    or with_weight_bits(enhanced[T], b, settings.width_transform))
            points.append(Point("grid", T, b, core))
        if T < T0:
            points.append(Point("naive", T, b0, base.replace(timesteps=T)))
            points.append(Point("rule", T, b0, reduce_timesteps(base, T)))
    vt = settings.variant_timesteps or T0
    if settings.variants:
        if vt not in enhanced:
            enhanced[vt] = reduce_timesteps(base, vt) if vt < T0 else base
        for b in settings.variant_bits:
            ref = with_weight_bits(enhanced[vt], b, settings.width_transform)
            if not any(p.kind == "grid" and p.timesteps == vt and p.weight_width == b
                       for p in points):
                points.append(Point("grid", vt, b, ref))
            for name in settings.variants:
                points.append(Point("variant", vt, b, apply_variant(ref, name), name))
    if not any(p.kind == "grid" and p.timesteps == T0 and p.weight_width == b0
               for p in points):
        points.append(Point("grid", T0, b0, base))
    # post-training quantization: the baseline trained, then moved to each narrower width
    # (through the current shift, so its thresholds keep their units)
    for b in sorted({b for b in settings.weight_bits if b < b0}, reverse=True):
        points.append(Point("quantized", T0, b, with_weight_bits(base, b, "shift"),
                            trained=base))
    jobs = _jobs(points, settings.seeds, settings.cost_samples)
    say(f"explore: {len(points)} points x {settings.seeds} seeds = {len(jobs)} runs "
        f"({sum(evaluator.cached(j) is not None for j in jobs)} cached)")
    results = evaluator.run(jobs, what="grid")
    for n, p in enumerate(points):
        p.results = results[n * settings.seeds:(n + 1) * settings.seeds]
    # 4. statistics
    baseline = next(p for p in points
                    if p.kind == "grid" and p.timesteps == T0 and p.weight_width == b0)
    base_accs = [r["accuracy"] for r in baseline.results]
    # synthesis (when asked) of the grid points; the other kinds share a grid point's RTL
    # shape but not its constants, and run at the configured clock
    rows = [summarize_point(p, base_accs, settings.clock_mhz,
                            settings.synth if p.kind == "grid" else None) for p in points]
    for row, p in zip(rows, points, strict=True):
        row["changes"] = describe(base, p.core) if p.kind == "grid" else {}
    # 5. choice among the grid points
    grid_rows = [r for r in rows if r["kind"] == "grid"]
    chosen = choose(grid_rows, settings.constraints, minimize=settings.minimize)
    chosen_core = None
    if chosen is not None:
        chosen_core = points[rows.index(chosen)].core
    return {
        "config": config.source,
        "baseline": {"timesteps": T0, "weight_width": b0,
                     "accuracy": statistics.fmean(base_accs),
                     "accuracy_std": (statistics.stdev(base_accs) if len(base_accs) > 1
                                      else 0.0)},
        "settings": settings.to_dict(),
        "searches": {str(T): {"start_score": s.start_score, "best_score": s.best_score,
                              "runs": s.runs, "changes": describe(s.start, s.best),
                              "log": s.log}
                     for T, s in searches.items()},
        "rows": rows,
        "front_latency": [r["label"] for r in pareto_front(grid_rows,
                                                           ("accuracy", "latency_us"))],
        "front_memory": [r["label"] for r in pareto_front(grid_rows,
                                                          ("accuracy", "memory_bits"))],
        "chosen": chosen,
        "chosen_core": chosen_core,
        "points": points,
    }
