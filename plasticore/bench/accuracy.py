"""Accuracy over seeds and timesteps: the golden model's numbers in ``docs/results.md``.

Trains the configuration once per (seed, timesteps, rule) in worker processes and reports,
per row, the mean and spread (sample standard deviation, min, max) over the seeds.  Rules:

- ``full``: the configuration as written (its own timestep count);
- ``naive``: only ``timesteps`` changed;
- ``enhanced``: ``plasticore.topspark.reduce_timesteps`` (parameters enhanced for the
  shorter sample);
- ``float``: the float64 reference at full timesteps (what quantization costs);
- ``point``: the core configuration the run carries (``Run.core``, JSON), as it is (the
  design-space explorer, ``plasticore.explore``, trains its points this way).  With
  ``Run.deploy`` (another core, JSON) the trained network is quantized to that core after
  training (``plasticore.explore.precision.quantize_network``), then labelled and scored.

A run trains on the training set and tests on the test set (``split = "test"``), or, for
searching parameters without touching the test set (``split = "validation"``), holds out the
last ``Run.validation`` training samples: it trains on the others, cycled from the start
until the training sequence is as long as the full training set's (the adaptive thresholds
grow with every sample, so the number of training presentations matters as much as the
samples), labels the neurons with them, and scores on the held-out samples, which the
network has never seen.
With ``Run.costs`` the result also carries what the cost model needs
(``plasticore.explore.cost.measure``: cycles and operation counts on test samples).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from ..config import Config, CoreConfig

__all__ = ["Run", "run_grid", "cycled", "summarize", "format_table"]


@dataclass(frozen=True)
class Run:
    """One training run of the grid.

    Members
    -------
    rule : str
        ``full``, ``naive``, ``enhanced``, ``float`` or ``point`` (module docstring).
    timesteps : int
        Timesteps per sample (``point``: must equal the carried core's).
    seed : int
        Replaces the configuration's seed.
    core : str or None
        ``point`` only: the :class:`~plasticore.config.CoreConfig` to train, as JSON (its
        seed is replaced by ``seed``).
    split : "test" or "validation"
        Score on the test set, or on the last ``validation`` training samples (held out
        from training and labelling; module docstring).
    validation : int
        Held-out training samples for ``split = "validation"``.
    costs : int
        Test samples whose rasters feed the cost model (0: none).
    tag : str
        Returned as the result's ``tag`` (callers match results to runs with it).
    deploy : str or None
        ``point`` only: the core the trained network is quantized to before it is labelled
        and scored (JSON; ``None``: scored as trained).
    """

    rule: str
    timesteps: int
    seed: int
    core: str | None = None
    split: str = "test"
    validation: int = 300
    costs: int = 0
    tag: str = ""
    deploy: str | None = None


def _train_one(config_toml: str, run: Run) -> dict[str, Any]:
    import tomllib

    from ..golden.datasets import load_dataset
    from ..golden.train import evaluate, train
    from ..topspark import reduce_timesteps

    cpu = time.process_time()
    config = Config.from_dict(tomllib.loads(config_toml))
    core = config.core.replace(seed=run.seed)
    if run.rule == "point":
        if run.core is None:
            raise ValueError("a 'point' run needs Run.core")
        core = CoreConfig.from_json(run.core).replace(seed=run.seed)
    elif run.rule == "naive":
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
    fit_set = label_set = train_set
    if run.split == "validation":
        n = len(train_set) - run.validation
        if n < 1 or run.validation < 1:
            raise ValueError(f"validation = {run.validation}: must lie in 1..{len(train_set) - 1}"
                             f" (the training set has {len(train_set)} samples)")
        label_set, test_set = train_set.subset(0, n), train_set.subset(n)
        fit_set = cycled(label_set, len(train_set))
    elif run.split != "test":
        raise ValueError(f"split = {run.split!r}: must be 'test' or 'validation'")
    arithmetic = "float" if run.rule == "float" else "integer"
    net, seconds, _ = train(core, fit_set, data.epochs, arithmetic)
    if run.deploy is not None:
        from ..explore.precision import quantize_network

        net = quantize_network(net, CoreConfig.from_json(run.deploy).replace(seed=run.seed))
    ev = evaluate(net, label_set, test_set, readout=config.classify.readout)
    result = {"rule": run.rule, "timesteps": core.timesteps, "seed": run.seed, "tag": run.tag,
              "accuracy": ev.accuracy, "spikes_per_sample": ev.spikes_per_sample,
              "ms_per_train_sample": 1000 * seconds / max(len(train_set) * data.epochs, 1)}
    if run.costs:
        from ..explore.cost import measure

        result["costs"] = measure(net, train_set, test_set.subset(0, min(run.costs,
                                                                         len(test_set))))
    result["cpu_seconds"] = time.process_time() - cpu
    return result


def cycled(dataset: Any, length: int) -> Any:
    """``dataset``'s samples in order, repeated from the start until ``length`` samples."""
    import numpy as np

    from ..golden.datasets import Dataset

    idx = np.arange(length) % len(dataset)
    return Dataset(dataset.name, dataset.images[idx], dataset.labels[idx], dataset.shape,
                   dataset.n_classes)


#: Held back while the pool forks its workers, so none runs the parent's handlers.
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _worker_init() -> None:
    """Signals in a worker: Ctrl-C is the parent's to handle (it stops the pool); SIGTERM
    kills (a handler inherited from the parent would only raise inside the run)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the runs not started and terminate the workers (Python 3.14 has
    ``terminate_workers``; before it the processes are only in ``_processes``)."""
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
    for p in processes:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()


def run_grid(config: Config, runs: Sequence[Run], workers: int | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Train every run (in ``workers`` processes, default: the CPU count).

    Results come back in the order of ``runs``; ``progress`` sees each as it finishes (so a
    caller can store it at once).  With one worker the runs train in this process.  On any
    exception, Ctrl-C and SIGTERM (as the CLI raises it) included, the runs not started are
    cancelled and the workers terminated before it propagates.
    """
    text = config.to_toml()
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(runs) <= 1:
        results = []
        for run in runs:
            result = _train_one(text, run)
            results.append(result)
            if progress is not None:
                progress(result)
        return results
    pool = ProcessPoolExecutor(max_workers=min(workers, len(runs)), initializer=_worker_init)
    try:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            futures = {pool.submit(_train_one, text, run): k for k, run in enumerate(runs)}
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        done: dict[int, dict[str, Any]] = {}
        for future in as_completed(futures):
            result = future.result()
            done[futures[future]] = result
            if progress is not None:
                progress(result)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()
    return [done[k] for k in range(len(runs))]


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
