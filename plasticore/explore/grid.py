"""Training runs of the explorer: a point is a core configuration, a run is a point and a seed.

Every run goes through :func:`plasticore.bench.accuracy.run_grid` (worker processes, the
``point`` rule) and lands in a cache on disk, one JSON file per (point, seed, split) named by
a hash of the run's full configuration TOML (core with the seed, dataset, readout) and of how
it is scored.  An interrupted sweep therefore resumes where it stopped, and a point the
parameter search already trained is not trained again by the grid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench.accuracy import Run, run_grid
from ..config import Config, CoreConfig

__all__ = ["Job", "Evaluator", "run_key", "CACHE_VERSION"]

#: Bumped when a cached result's meaning changes (old files are then ignored).
CACHE_VERSION = 2


@dataclass(frozen=True)
class Job:
    """One training run: a core configuration, a seed and how to score it.

    Members
    -------
    core : CoreConfig
        The point (its own seed is replaced by ``seed``).
    seed : int
    split : "test" or "validation"
        See :mod:`plasticore.bench.accuracy`.
    costs : int
        Test samples recorded for the cost model (0: none).
    deploy : CoreConfig or None
        Train ``core``, then quantize the network to ``deploy`` (post-training
        quantization) and score that; ``None``: score the trained network.
    """

    core: CoreConfig
    seed: int
    split: str = "test"
    costs: int = 0
    deploy: CoreConfig | None = None


def run_key(config: Config, job: Job, validation: int) -> str:
    """Hash naming the cache file of ``job``: the full configuration TOML of the run plus
    its scoring (split, held-out samples, cost samples) and :data:`CACHE_VERSION`."""
    full = dataclasses.replace(config, core=job.core.replace(seed=job.seed))
    scoring = {"split": job.split, "validation": validation if job.split == "validation"
               else 0, "costs": job.costs, "version": CACHE_VERSION}
    if job.deploy is not None:
        scoring["deploy"] = job.deploy.replace(seed=job.seed).to_json()
    text = full.to_toml() + "\n#" + json.dumps(scoring, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Evaluator:
    """Runs jobs for one configuration (dataset, readout), with a disk cache.

    Parameters
    ----------
    config : Config
        Dataset and readout of every run (its core is only the default point).
    cache : Path or None
        Folder of the cached results (``None``: no cache).
    workers : int
        Worker processes.
    validation : int
        Held-out training samples of ``split = "validation"`` runs.
    progress : bool
        Show a tqdm bar per batch of jobs (on stderr).
    log : callable or None
        Without a bar: called with a line every tenth of a batch (``what: done/total runs``).
    """

    def __init__(self, config: Config, cache: Path | None, workers: int = 1,
                 validation: int = 300, progress: bool = False,
                 log: Callable[[str], None] | None = None):
        self.config = config
        self.cache = cache
        self.workers = workers
        self.validation = validation
        self.progress = progress
        self.log = log
        self.trained = 0          # runs trained (not found in the cache) so far
        self.cpu_seconds = 0.0    # their CPU time (in the worker processes)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)

    def _path(self, job: Job) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / f"{run_key(self.config, job, self.validation)}.json"

    def cached(self, job: Job) -> dict[str, Any] | None:
        """The stored result of ``job``, if any (a corrupt file counts as missing)."""
        path = self._path(job)
        if path is None or not path.is_file():
            return None
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        result = stored.get("result") if isinstance(stored, dict) else None
        return result if isinstance(result, dict) else None

    def _store(self, job: Job, result: dict[str, Any]) -> None:
        path = self._path(job)
        if path is None:
            return
        full = dataclasses.replace(self.config, core=job.core.replace(seed=job.seed))
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"config": full.to_toml(), "split": job.split,
                                   "costs": job.costs, "result": result}, indent=1) + "\n")
        tmp.replace(path)

    def run(self, jobs: Sequence[Job], what: str = "runs") -> list[dict[str, Any]]:
        """Results of ``jobs`` in order: from the cache, or trained (and then stored)."""
        results: list[dict[str, Any] | None] = [self.cached(j) for j in jobs]
        todo = [k for k, r in enumerate(results) if r is None]
        # the same job twice in one batch trains once
        unique: dict[str, int] = {}
        for k in todo:
            unique.setdefault(run_key(self.config, jobs[k], self.validation), k)
        order = list(unique.values())
        bar = None
        if self.progress and order:
            from tqdm import tqdm

            bar = tqdm(total=len(order), desc=what, unit="run", leave=False, file=sys.stderr,
                       dynamic_ncols=True)
        keys = {k: run_key(self.config, jobs[k], self.validation) for k in order}
        runs = [Run("point", jobs[k].core.timesteps, jobs[k].seed,
                    core=jobs[k].core.replace(seed=jobs[k].seed).to_json(),
                    split=jobs[k].split, validation=self.validation, costs=jobs[k].costs,
                    tag=keys[k], deploy=None if jobs[k].deploy is None
                    else jobs[k].deploy.replace(seed=jobs[k].seed).to_json())
                for k in order]
        by_key = {keys[k]: k for k in order}
        finished = [0]

        def done(result: dict[str, Any]) -> None:
            # stored as soon as it finishes: an interrupted sweep loses only running jobs
            k = by_key[result["tag"]]
            self._store(jobs[k], result)
            results[k] = result
            self.trained += 1
            self.cpu_seconds += float(result.get("cpu_seconds", 0.0))
            finished[0] += 1
            if bar is not None:
                bar.update(1)
            elif self.log is not None and (finished[0] % max(1, len(runs) // 10) == 0
                                           or finished[0] == len(runs)):
                self.log(f"{what}: {finished[0]}/{len(runs)} runs")

        try:
            if runs:
                run_grid(self.config, runs, self.workers, done)
        finally:
            if bar is not None:
                bar.close()
        for k in todo:
            if results[k] is None:
                key = run_key(self.config, jobs[k], self.validation)
                results[k] = results[unique[key]]
        return [r for r in results if r is not None]
