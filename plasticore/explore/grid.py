"""Training runs of the explorer: a point is a core configuration, a run is a point and a seed.

Every run is a ``point`` run (:mod:`.runs`) trained where a :class:`.cluster.Runner` says
(this process, local worker processes, a Dask cluster) and lands in a cache on disk, kept
by this process (the workers never touch it), one JSON file per (point, seed, split) named by
a hash of the run's full configuration TOML (core with the seed, dataset, readout) and of how
it is scored.  An interrupted sweep therefore resumes where it stopped, and a point the
parameter search already trained is not trained again by the grid.

A cache entry is trusted only if it checks out (:func:`check_entry`): it records the inputs
it was computed from, which must be the run's; every result field the explorer reads has
its type and range; and a SHA-256 digest over the rest of the entry matches.  The digest
catches accidental edits and corruption, not a forger (anyone can recompute it).  A bad
entry is noted on stderr, trained again and replaced atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, CoreConfig
from ..files import write_text
from .cluster import Runner, run_grid
from .cost import COUNTS
from .runs import Run

__all__ = ["Job", "Evaluator", "run_key", "check_entry", "CacheError", "CACHE_VERSION"]

#: Bumped when a cached result's meaning or format changes (old files are then ignored).
CACHE_VERSION = 3


@dataclass(frozen=True)
class Job:
    """One training run: a core configuration, a seed and how to score it.

    Members
    -------
    core : CoreConfig
        The point (its own seed is replaced by ``seed``).
    seed : int
    split : "test" or "validation"
        See :mod:`.runs`.
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


def _inputs(config: Config, job: Job, validation: int) -> dict[str, Any]:
    """What a run's result depends on: its full configuration TOML and its scoring."""
    full = dataclasses.replace(config, core=job.core.replace(seed=job.seed))
    scoring = {"split": job.split, "validation": validation if job.split == "validation"
               else 0, "costs": job.costs, "version": CACHE_VERSION}
    if job.deploy is not None:
        scoring["deploy"] = job.deploy.replace(seed=job.seed).to_json()
    return {"config": full.to_toml(), "scoring": scoring}


def run_key(config: Config, job: Job, validation: int) -> str:
    """Hash naming the cache file of ``job``: the full configuration TOML of the run plus
    its scoring (split, held-out samples, cost samples) and :data:`CACHE_VERSION`."""
    inputs = _inputs(config, job, validation)
    text = inputs["config"] + "\n#" + json.dumps(inputs["scoring"], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class CacheError(ValueError):
    """A cache entry that cannot be trusted (the message says why)."""


def _digest(entry: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``entry`` without its ``digest``."""
    body = {k: v for k, v in entry.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _entry(config: Config, job: Job, validation: int, result: dict[str, Any]) -> dict[str, Any]:
    entry = {"version": CACHE_VERSION, "key": run_key(config, job, validation),
             **_inputs(config, job, validation), "result": result}
    entry["digest"] = _digest(entry)
    return entry


def _short(value: Any) -> str:
    """``value`` as JSON, cut to 40 characters (for a one-line note)."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(where: str, value: Any, lo: float = 0.0, hi: float = math.inf,
            integer: bool = False) -> None:
    """``value`` is a finite number in ``[lo, hi]`` (``integer``: an int), else CacheError."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise CacheError(f"field {where!r} is {_short(value)}, expected "
                         f"{'an integer' if integer else 'a number'}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CacheError(f"field {where!r} is {value}, expected a finite number")
    if not lo <= value <= hi:
        bound = f"[{lo:g}, {hi:g}]" if hi < math.inf else f">= {lo:g}"
        raise CacheError(f"field {where!r} = {_short(value)} is outside {bound}")


def _fields(where: str, got: dict[str, Any], wanted: Sequence[str]) -> None:
    for name in wanted:
        if name not in got:
            raise CacheError(f"field {where + name!r} missing")
    for name in got:
        if name not in wanted:
            raise CacheError(f"unexpected field {where + name!r}")


def check_entry(entry: Any, config: Config, job: Job, validation: int) -> dict[str, Any]:
    """The result of a parsed cache entry for ``job``, or CacheError naming what is wrong.

    Checked: the format version; the recorded key and inputs (configuration TOML and
    scoring) are those of ``job``; every result field the explorer reads has its type and
    range, and agrees with ``job`` (seed, timesteps, costs present exactly when asked); the
    digest matches.  The digest protects against accidental edits and corruption, not
    against a deliberate forgery.
    """
    if not isinstance(entry, dict):
        raise CacheError(f"a JSON {type(entry).__name__}, expected an object")
    _fields("", entry, ("version", "key", "config", "scoring", "result", "digest"))
    if entry["version"] != CACHE_VERSION:
        raise CacheError(f"version {_short(entry['version'])}, expected {CACHE_VERSION}")
    key = run_key(config, job, validation)
    if entry["key"] != key:
        raise CacheError(f"its key {_short(entry['key'])} is another run's")
    inputs = _inputs(config, job, validation)
    if (entry["config"], entry["scoring"]) != (inputs["config"], inputs["scoring"]):
        raise CacheError("its recorded configuration is another run's")
    result = entry["result"]
    if not isinstance(result, dict):
        raise CacheError("field 'result' is not an object")
    names = ["rule", "timesteps", "seed", "tag", "accuracy", "spikes_per_sample",
             "ms_per_train_sample", "cpu_seconds"] + (["costs"] if job.costs else [])
    _fields("", result, names)
    if (result["rule"], result["tag"]) != ("point", key):
        raise CacheError("fields 'rule' and 'tag' are not those of this run")
    _number("seed", result["seed"], job.seed, job.seed, integer=True)
    _number("timesteps", result["timesteps"], job.core.timesteps, job.core.timesteps,
            integer=True)
    _number("accuracy", result["accuracy"], 0.0, 1.0)
    for name in ("spikes_per_sample", "ms_per_train_sample", "cpu_seconds"):
        _number(name, result[name])
    if job.costs:
        costs = result["costs"]
        if not isinstance(costs, dict):
            raise CacheError("field 'costs' is not an object")
        _fields("costs.", costs, (*COUNTS, "samples"))
        for name in COUNTS:
            _number(f"costs.{name}", costs[name])
        _number("costs.samples", costs["samples"], 1, job.costs, integer=True)
    if entry["digest"] != _digest(entry):
        raise CacheError("digest does not match the contents: edited or corrupted")
    return result


def _read_entry(path: Path, config: Config, job: Job, validation: int) -> dict[str, Any] | None:
    """The checked result stored at ``path``; ``None`` if there is no file; CacheError if
    there is one that cannot be trusted."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise CacheError("a directory, expected a file") from None
    except OSError as exc:
        raise CacheError(f"unreadable: {exc.strerror or exc}") from None
    if not data:
        raise CacheError("empty file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CacheError("not UTF-8 text") from None
    try:
        entry = json.loads(text)
    except ValueError as exc:
        raise CacheError(f"not JSON, or truncated: {exc}") from None
    return check_entry(entry, config, job, validation)


def _stderr_note(message: str) -> None:
    print(f"plasticore: note: {message}", file=sys.stderr, flush=True)


class Evaluator:
    """Runs jobs for one configuration (dataset, readout), with a disk cache.

    Parameters
    ----------
    config : Config
        Dataset and readout of every run (its core is only the default point).
    cache : Path or None
        Folder of the cached results (``None``: no cache).
    workers : int or Runner
        Where the runs train: a number of worker processes (1: this process; more: a local
        cluster started for each batch and stopped after it), or a :class:`.cluster.Runner`
        every batch goes to (the CLI's: one cluster for the whole sweep, closed by its
        owner).
    validation : int
        Held-out training samples of ``split = "validation"`` runs.
    progress : bool
        Show a tqdm bar per batch of jobs (on stderr).
    log : callable or None
        Without a bar: called with a line every tenth of a batch (``what: done/total runs``).
    note : callable or None
        Called with one line per bad cache entry (once per file); default: printed on
        stderr as ``plasticore: note: ...``.
    """

    def __init__(self, config: Config, cache: Path | None, workers: int | Runner = 1,
                 validation: int = 300, progress: bool = False,
                 log: Callable[[str], None] | None = None,
                 note: Callable[[str], None] | None = None):
        self.config = config
        self.cache = cache
        self.workers = workers
        self.validation = validation
        self.progress = progress
        self.log = log
        self.note = note or _stderr_note
        self._noted: set[Path] = set()
        self.trained = 0          # runs trained (not found in the cache) so far
        self.cpu_seconds = 0.0    # their CPU time (in the worker processes)
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)

    def _path(self, job: Job) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / f"{run_key(self.config, job, self.validation)}.json"

    def cached(self, job: Job) -> dict[str, Any] | None:
        """The stored result of ``job``, if any and valid (a bad entry is noted, once, and
        counts as missing: it is trained again and replaced)."""
        path = self._path(job)
        if path is None:
            return None
        try:
            return _read_entry(path, self.config, job, self.validation)
        except CacheError as exc:
            if path not in self._noted:
                self._noted.add(path)
                self.note(f"cache entry {path} is invalid ({exc}); recomputing")
            return None

    def _store(self, job: Job, result: dict[str, Any]) -> None:
        path = self._path(job)
        if path is None:
            return
        entry = _entry(self.config, job, self.validation, result)
        # what is stored must read back: a result whose fields drifted from check_entry's
        # schema fails here, at once, instead of being retrained on every later sweep
        check_entry(json.loads(json.dumps(entry)), self.config, job, self.validation)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)       # a bad entry in the way (os.replace cannot take it)
        # a unique temporary beside the entry, then one os.replace; removed on failure
        write_text(path, json.dumps(entry, indent=1) + "\n")

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
            if runs and isinstance(self.workers, Runner):
                self.workers.run(self.config, runs, done)
            elif runs:
                run_grid(self.config, runs, self.workers, done)
        finally:
            if bar is not None:
                bar.close()
        for k in todo:
            if results[k] is None:
                key = run_key(self.config, jobs[k], self.validation)
                results[k] = results[unique[key]]
        return [r for r in results if r is not None]
