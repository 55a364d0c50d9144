"""The sweep of a network trained elsewhere: every (timesteps, weight width) point scored,
costed, and one chosen on the validation split.

1. The points: :class:`.trained.TrainedSettings` built every point's integer network (a
   fresh NIR import, or the weights requantized; the baseline as given).
2. The runs: per point and encoder seed, one on the validation split and one on the test
   split, the latter with the cost model's rasters (:mod:`.scoring`).
3. Per point: test accuracy (mean, sample standard deviation, min, max over the seeds), its
   drop against the baseline with Welch's t-test, the same for the validation split; the
   memory of every layer from the RTL (:func:`.cost.network_memory_bits`), the lanes, the
   cycles from the exact cycle model per layer and for the network, latency at the clock,
   the energy estimate summed over the layers (:func:`.cost.energy`).
4. The choice: :func:`.pareto.choose` on the validation split (``accuracy`` and
   ``accuracy_drop`` of the constraints are the validation ones); the test accuracies are
   reported beside it and never choose.  The Pareto fronts are the validation split's too.

With forward engines (``settings.engines``, :mod:`.engines`) a point has one row per engine:
the same accuracies (scored once: the engines' sums agree bit for bit), and each engine's
own memory, cycles, energy and synthesis, the cycle model taking the same spikes.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..hdl.core.membrane import membrane_mode
from ..hdl.cycles import build_cycles
from . import cost
from .engines import CONFIG, Engine, engine_of, with_engine
from .pareto import SYNTH_METRICS, choose, pareto_front
from .scoring import LAYER_COUNTS, Scoring, ScoringEvaluator, arrays_json
from .sweep import welch
from .trained import PointNetwork, TrainedSettings

__all__ = ["explore_trained", "summarize_trained_point", "choice_view", "chosen_config",
           "point_engines"]

Say = Callable[[str], None]


def _accuracies(results: list[dict[str, Any]], baseline: list[float],
                exact: bool) -> dict[str, Any]:
    """Mean, spread and drop of the accuracies; ``p_vs_baseline`` from Welch's test, or
    with ``exact`` (no random draws: current input) 0 for any difference, 1 for none."""
    accs = [r["accuracy"] for r in results]
    mean = statistics.fmean(accs)
    drop = statistics.fmean(baseline) - mean
    return {"accuracy": mean,
            "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "accuracy_min": min(accs), "accuracy_max": max(accs),
            "per_seed": {str(r["seed"]): r["accuracy"] for r in results},
            "accuracy_drop": drop,
            "p_vs_baseline": (float(drop == 0) if exact else welch(accs, baseline))}


def summarize_trained_point(timesteps: int, bits: int, point: PointNetwork,
                            tests: list[dict[str, Any]], validations: list[dict[str, Any]],
                            base_test: list[float], base_validation: list[float],
                            clock_mhz: float,
                            synth: Callable[[Any], dict[str, Any]] | None = None,
                            membrane: str | None = None,
                            costs: list[dict[str, Any]] | None = None,
                            label: str | None = None) -> dict[str, Any]:
    """A point's row: test accuracies (``accuracy``...), validation accuracies
    (``validation_accuracy``...), memory, lanes, cycles, latency and energy per layer and
    in all.  With current input (nothing random) a difference from the baseline is exact
    and counts as distinguishable.  With ``synth`` (a network -> resources and
    ``fmax_mhz``) the row has its ``synth`` and the latency is taken at that Fmax.
    ``membrane`` (``membrane_mode`` of the readout) is the core's membrane readout, whose
    memory the state memory counts.  ``costs`` (default: each test result's ``costs``) are
    the cycle model's counts per seed for ``point.network``'s engine; ``label`` the row's
    (default ``T=.. w=..``)."""
    network = point.network
    exact = network.input.kind == "current"
    row: dict[str, Any] = {
        "label": label or f"T={timesteps} w={bits}", "kind": "grid", "variant": "",
        "how": point.how, "engine": engine_of(network),
        "forward": [layer.forward for layer in network.layers],
        "lut_group": [layer.lut_group if layer.forward == "lut" else 0
                      for layer in network.layers],
        "timesteps": timesteps, "weight_width": bits, "seeds": len(tests),
        **_accuracies(tests, base_test, exact),
        "spikes_per_sample": statistics.fmean(r["spikes_per_sample"] for r in tests),
        "layer_spikes_per_sample": [statistics.fmean(v) for v in zip(
            *(r["layer_spikes_per_sample"] for r in tests), strict=True)]}
    row["distinguishable"] = row["p_vs_baseline"] < 0.05
    val = _accuracies(validations, base_validation, exact)
    row.update({f"validation_{k}": v for k, v in val.items()})
    row["validation_distinguishable"] = val["p_vs_baseline"] < 0.05
    mem = cost.network_memory_bits(network, membrane)
    row["weight_memory_bits"] = mem["weight_bits"]
    row["state_memory_bits"] = mem["state_bits"]
    row["memory_bits"] = mem["weight_bits"] + mem["state_bits"]
    if costs is None:
        costs = [r["costs"] for r in tests]
    layers = []
    energy_nj = 0.0
    for index, (core, layer_mem) in enumerate(zip(network.cores, mem["layers"], strict=True)):
        counts = {name: statistics.fmean(c[name][index] for c in costs)
                  for name in LAYER_COUNTS}
        counts["learned_words"] = 0.0
        first_rate = index == 0 and core.encoder.kind == "rate"
        e = cost.energy(core, counts, encoder=first_rate)["energy_nj"]
        energy_nj += e
        layers.append({"inputs": core.n_inputs, "neurons": core.n_neurons,
                       "lanes": layer_mem["lanes"], "weight_bits": core.widths.weight,
                       "forward": row["forward"][index], "lut_group": row["lut_group"][index],
                       "membrane_bits": core.widths.membrane,
                       "current_shift": core.widths.current_shift,
                       "weight_memory_bits": layer_mem["weight_bits"],
                       "state_memory_bits": layer_mem["state_bits"],
                       "done_cycle": counts["layer_done"],
                       "cycles_per_timestep": counts["layer_cycles_per_timestep"],
                       "input_spikes_per_sample": counts["input_spikes"],
                       "input_spikes_per_timestep": counts["input_spikes"] / network.timesteps,
                       "rows_per_timestep": counts["rows_read"] / network.timesteps,
                       "table_build_cycles": build_cycles(core),
                       "energy_nj": e})
    row["layers"] = layers
    if synth is not None:
        row["synth"] = synth(network)
        row.update({k: row["synth"][k] for k in SYNTH_METRICS if k in row["synth"]})
        clock_mhz = float(row["synth"].get("fmax_mhz", clock_mhz))
    row["clock_mhz"] = clock_mhz
    row["cycles"] = statistics.fmean(c["cycles"] for c in costs)
    row["latency_us"] = row["cycles"] / clock_mhz
    row["energy_nj"] = energy_nj
    return row


def choice_view(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` as the choice sees it: its validation accuracy and drop as ``accuracy`` and
    ``accuracy_drop`` (the test split never chooses)."""
    return {**row, "accuracy": row["validation_accuracy"],
            "accuracy_drop": row["validation_accuracy_drop"]}


def point_engines(point: PointNetwork, engines: list[Engine]
                  ) -> list[tuple[Engine, PointNetwork]]:
    """``point`` on the configuration's engines (:data:`.engines.CONFIG`, first) and on
    each of ``engines`` whose network differs from those before it."""
    out = [(CONFIG, point)]
    for engine in engines:
        network = with_engine(point.network, engine)
        if all(network != p.network for _, p in out):
            out.append((engine, dataclasses.replace(point, network=network)))
    return out


def explore_trained(settings: TrainedSettings, evaluator: ScoringEvaluator,
                    say: Say = lambda _: None) -> dict[str, Any]:
    """Run the sweep of ``settings``; returns what the report needs (JSON-ready but
    ``chosen_network``, the chosen :class:`.trained.PointNetwork`)."""
    config = settings.config
    assert settings.clock_mhz is not None
    keys = list(settings.points)
    base_key = next(k for k in keys if settings.points[k].how == "baseline")
    T0, b0 = base_key
    seeds = settings.effective_seeds
    variants = {key: point_engines(settings.points[key], settings.engines) for key in keys}
    labelled = bool(settings.engines)
    runs: list[Scoring] = []
    for key in keys:
        point = settings.points[key]
        text = config.replace_network(point.network).to_toml()
        arrays = arrays_json(point.weights, point.theta, point.bias)
        others = tuple(engine.label for engine, _ in variants[key][1:])
        for seed in range(seeds):
            runs.append(Scoring(text, arrays, seed, "validation", settings.validation))
            runs.append(Scoring(text, arrays, seed, "test", costs=settings.cost_samples,
                                engines=others))
    cached = sum(evaluator.cached(r) is not None for r in runs)
    engines = (f" (accuracy once, costed on {len(variants[base_key])} forward engines)"
               if labelled else "")
    say(f"explore: {len(keys)} points x {seeds} seed(s) x 2 splits = {len(runs)} runs "
        f"({cached} cached){engines}")
    results = evaluator.run(runs, what="points")
    per_point = {key: results[n * 2 * seeds:(n + 1) * 2 * seeds] for n, key in enumerate(keys)}
    base = per_point[base_key]
    base_test = [r["accuracy"] for r in base if r["split"] == "test"]
    base_val = [r["accuracy"] for r in base if r["split"] == "validation"]
    rows, networks = [], []
    for key in keys:
        res = per_point[key]
        tests = [r for r in res if r["split"] == "test"]
        for n, (_, point) in enumerate(variants[key]):
            costs = [r["costs"] if n == 0 else r["costs"]["variants"][n - 1] for r in tests]
            label = (f"T={key[0]} w={key[1]} {engine_of(point.network)}" if labelled
                     else None)
            rows.append(summarize_trained_point(
                key[0], key[1], point, tests, [r for r in res if r["split"] == "validation"],
                base_test, base_val, settings.clock_mhz, settings.synth,
                membrane_mode(config.classify), costs, label))
            networks.append(point)
    views = [choice_view(r) for r in rows]
    chosen_view = choose(views, settings.constraints, minimize=settings.minimize)
    chosen = None if chosen_view is None else rows[views.index(chosen_view)]
    chosen_network = None if chosen_view is None else networks[views.index(chosen_view)]
    return {
        "config": config.source,
        "kind": "trained",
        "baseline": {"timesteps": T0, "weight_width": b0,
                     "engine": engine_of(settings.points[base_key].network),
                     "accuracy": statistics.fmean(base_test),
                     "accuracy_std": (statistics.stdev(base_test) if len(base_test) > 1
                                      else 0.0),
                     "validation_accuracy": statistics.fmean(base_val)},
        "settings": settings.to_dict(),
        "rows": rows,
        "front_latency": [r["label"] for r in pareto_front(views, ("accuracy", "latency_us"))],
        "front_memory": [r["label"] for r in pareto_front(views, ("accuracy", "memory_bits"))],
        "chosen": chosen,
        "chosen_network": chosen_network,
    }


def chosen_config(config: Config, point: PointNetwork) -> Config:
    """The configuration of a chosen point (seed 0), with its forward engines."""
    return config.replace_network(dataclasses.replace(point.network, seed=0))
