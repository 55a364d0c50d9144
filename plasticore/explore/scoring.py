"""Scoring runs of a network trained elsewhere: the task, its costs, and the cache.

:func:`score_run` scores one point's integer network (a :class:`Scoring`: the point's
configuration TOML, its arrays as JSON, an encoder seed, a split) with the golden model,
learning off.  It is a pure function of its inputs, like :func:`.runs.train_run`, so it
runs where a :class:`.cluster.Runner` says (this process, a local Dask cluster, a
scheduler) and its result is cached by a hash of them (:class:`ScoringEvaluator`).

Splits (the validation split chooses, the test split is only reported):

- ``validation``: the last ``validation`` training samples; a labelling readout labels its
  neurons with the training samples before them.  The network was trained elsewhere,
  maybe on these very samples (the shipped snnTorch examples trained on the whole training
  split), so validation accuracy can run above test accuracy: it ranks points, it is not
  an estimate of the test accuracy;
- ``test``: the test split (a labelling readout labels with the whole training split).

With ``costs``, the first ``costs`` test samples are rerun layer by layer with their spike
rasters recorded (``sim/core_session.py: layer_rasters``) for the pipeline's exact cycle model
(``hdl/cycles.py: network_sample_cycles``) and the operation counts of the energy estimate
(:func:`.cost.energy`, per layer): per layer the mean cycle its last timestep ends, its
mean cycles per timestep, and its input spikes, weight words read, synaptic adds and
neuron updates per sample.  With current input the cycle model takes the sample's pixels
(its current pass), and layer 0's weight reads and adds count that pass: every non-zero
pixel's row once per sample.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..files import write_text
from .cluster import Runner, run_grid
from .grid import CacheError, _digest, _fields, _number, _short
from .runs import run_splits

__all__ = ["Scoring", "score_run", "measure_network", "ScoringEvaluator",
           "arrays_json", "LAYER_COUNTS", "SCORING_VERSION"]

Array = Any

#: Bumped when a cached scoring result's meaning or format changes.
SCORING_VERSION = 2

#: Per-layer lists :func:`measure_network` returns (per-sample means).  ``rows_read``: the
#: rows the neuron pass reads, the spiking inputs, or on the LUT engine the groups with a
#: spike (``golden.lut.patterns``).
LAYER_COUNTS = ("layer_done", "layer_cycles_per_timestep", "input_spikes", "rows_read",
                "weight_words_read", "synaptic_adds", "neuron_updates")


@dataclass(frozen=True)
class Scoring:
    """One scoring run.

    Members
    -------
    config : str
        The point's whole configuration as TOML (network, dataset, readout); its seed is
        replaced by ``seed``.
    arrays : str
        Every layer's integer arrays as JSON (:func:`arrays_json`).
    seed : int
        The generators' seed (the rate encoder's spikes).
    split : "validation" or "test"
    validation : int
        Held-out training samples of the validation split.
    costs : int
        Test samples of the cost model (0: none).
    engines : tuple of str
        With ``costs``: other forward engines (:attr:`.engines.Engine.label`) to cost on the
        same spikes (``costs["variants"]``, in order).
    tag : str
        Returned as the result's ``tag``.
    """

    config: str
    arrays: str
    seed: int
    split: str = "test"
    validation: int = 300
    costs: int = 0
    engines: tuple[str, ...] = ()
    tag: str = ""


def arrays_json(weights: Sequence[Array], theta: Sequence[Array],
                bias: Sequence[Array | None]) -> str:
    """Per-layer ``{"weights", "theta", "bias"}`` as JSON lists (``bias`` null without
    one): the form :class:`Scoring` carries."""
    layers = [{"weights": [[int(x) for x in row] for row in w],
               "theta": [int(x) for x in th],
               "bias": None if b is None else [int(x) for x in b]}
              for w, th, b in zip(weights, theta, bias, strict=True)]
    return json.dumps(layers, separators=(",", ":"))


def _arrays(text: str) -> tuple[list[Array], list[Array], list[Array | None]]:
    import numpy as np

    layers = json.loads(text)
    return ([np.array(layer["weights"], dtype=np.int64) for layer in layers],
            [np.array(layer["theta"], dtype=np.int64) for layer in layers],
            [None if layer["bias"] is None else np.array(layer["bias"], dtype=np.int64)
             for layer in layers])


def measure_network(network: Any, weights: Sequence[Array], theta: Sequence[Array],
                    bias: Sequence[Array | None], images: Array,
                    variants: Sequence[Any] = ()) -> dict[str, Any]:
    """The cycle model and the operation counts of ``images`` (sample ``k`` with key ``k``,
    as the test pass), per-sample means: ``cycles`` (the network's), and per layer the
    lists of :data:`LAYER_COUNTS`.  With ``variants`` (the same network on other forward
    engines, :mod:`.engines`: the same spikes bit for bit), ``variants``: a list of the
    same for each, from the rasters of ``network``, recorded once."""
    from ..sim.core_session import layer_rasters

    nets = [network, *variants]
    totals = [_Counts(net) for net in nets]
    for k, image in enumerate(images):
        input_raster, rasters = layer_rasters(network, weights, theta, bias, image, k)
        for counts in totals:
            counts.add(image, input_raster, rasters)
    n = max(len(images), 1)
    out = [{"cycles": c.cycles / n, "samples": len(images),
            **{name: [float(x) / n for x in values] for name, values in c.totals.items()}}
           for c in totals]
    return out[0] if not variants else {**out[0], "variants": out[1:]}


class _Counts:
    """The cycle model's and the energy estimate's counts of one network, summed over
    samples (:func:`measure_network`)."""

    def __init__(self, network: Any):
        import numpy as np

        self.network = network
        self.cycles = 0.0
        self.totals = {name: np.zeros(len(network.layers)) for name in LAYER_COUNTS}

    def add(self, image: Array, input_raster: Array | None, rasters: list[Array]) -> None:
        import numpy as np

        from ..golden.lut import patterns
        from ..hdl.cycles import network_sample_cycles

        cores = self.network.cores
        T = self.network.timesteps
        current = input_raster is None
        predicted = network_sample_cycles(cores, input_raster, rasters,
                                          pixels=image if current else None)
        self.cycles += predicted.total
        inputs = [input_raster, *rasters[:-1]]
        for index, core in enumerate(cores):
            W = core.derived.neurons_per_pe
            ends = predicted.step_ends[index]
            self.totals["layer_done"][index] += float(ends[-1])
            self.totals["layer_cycles_per_timestep"][index] += float(ends[-1]) / T
            if index == 0 and current:
                # the current pass: every non-zero pixel's row once per sample; no spikes
                active = int(np.count_nonzero(image))
                rows = np.zeros(T, np.int64)
                reads = W * max(active, 1) + T * W
                adds = active * core.n_neurons
                active = 0
            else:
                spikes = np.asarray(inputs[index], dtype=bool)
                active = int(spikes.sum())
                rows = (np.count_nonzero(patterns(core, spikes), axis=1)
                        if core.forward == "lut" else spikes.sum(axis=1))
                reads = int((W * np.maximum(rows, 1)).sum())
                adds = int(rows.sum()) * core.n_neurons
            self.totals["input_spikes"][index] += active
            self.totals["rows_read"][index] += int(rows.sum())
            self.totals["weight_words_read"][index] += reads
            self.totals["synaptic_adds"][index] += adds
            self.totals["neuron_updates"][index] += T * core.n_neurons


def score_run(config_toml: str, run: Scoring) -> dict[str, Any]:
    """Score ``run`` (its own configuration; ``config_toml``, the sweep's, is not used):
    ``tag``, ``seed``, ``timesteps``, ``split``, ``accuracy``, ``spikes_per_sample``,
    ``layer_spikes_per_sample``, ``cpu_seconds`` and, with ``run.costs``, ``costs``
    (:func:`measure_network`; with ``run.engines`` its ``variants``)."""
    import tomllib

    from ..golden.network import Network
    from ..golden.train import evaluate

    del config_toml
    cpu = time.process_time()
    config = Config.from_dict(tomllib.loads(run.config))
    network = dataclasses.replace(config.network, seed=run.seed)
    weights, theta, bias = _arrays(run.arrays)
    _, label_set, test_set = run_splits(config, network.input.pixel_bits, run.split,
                                        run.validation)
    net = Network(network, weights=weights, theta=theta, bias=bias)
    ev = evaluate(net, label_set, test_set, readout=config.classify.readout)
    result: dict[str, Any] = {
        "tag": run.tag, "seed": run.seed, "timesteps": network.timesteps, "split": run.split,
        "accuracy": ev.accuracy, "spikes_per_sample": ev.spikes_per_sample,
        "layer_spikes_per_sample": list(ev.layer_spikes_per_sample)}
    if run.costs:
        from .engines import engine_named, with_engine

        images = test_set.images[:min(run.costs, len(test_set))]
        variants = [with_engine(network, engine_named(label)) for label in run.engines]
        result["costs"] = measure_network(network, weights, theta, bias, images, variants)
    result["cpu_seconds"] = time.process_time() - cpu
    return result


# -- the cache ------------------------------------------------------------------------------

def _inputs(run: Scoring) -> dict[str, Any]:
    """What a scoring result depends on (the engines only when there are any, so the
    entries of runs without them keep their keys)."""
    scoring: dict[str, Any] = {
        "seed": run.seed, "split": run.split,
        "validation": run.validation if run.split == "validation" else 0,
        "costs": run.costs, "version": SCORING_VERSION}
    if run.engines and run.costs:
        scoring["engines"] = list(run.engines)
    return {"config": run.config,
            "arrays_sha256": hashlib.sha256(run.arrays.encode()).hexdigest(),
            "scoring": scoring}


def scoring_key(run: Scoring) -> str:
    """Hash naming the cache file of ``run``: its inputs (:func:`_inputs`)."""
    text = json.dumps(_inputs(run), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def check_scoring_entry(entry: Any, run: Scoring, layers: int) -> dict[str, Any]:
    """The result of a parsed cache entry for ``run`` (a network of ``layers`` layers), or
    :class:`.grid.CacheError` naming what is wrong: the version, key and inputs are the
    run's; every result field has its type and range; the digest matches (accidental
    edits and corruption, not forgery)."""
    if not isinstance(entry, dict):
        raise CacheError(f"a JSON {type(entry).__name__}, expected an object")
    _fields("", entry, ("version", "key", "inputs", "result", "digest"))
    if entry["version"] != SCORING_VERSION:
        raise CacheError(f"version {_short(entry['version'])}, expected {SCORING_VERSION}")
    key = scoring_key(run)
    if entry["key"] != key:
        raise CacheError(f"its key {_short(entry['key'])} is another run's")
    if entry["inputs"] != _inputs(run):
        raise CacheError("its recorded inputs are another run's")
    result = entry["result"]
    if not isinstance(result, dict):
        raise CacheError("field 'result' is not an object")
    names = ["tag", "seed", "timesteps", "split", "accuracy", "spikes_per_sample",
             "layer_spikes_per_sample", "cpu_seconds"] + (["costs"] if run.costs else [])
    _fields("", result, names)
    if (result["tag"], result["split"]) != (key, run.split):
        raise CacheError("fields 'tag' and 'split' are not those of this run")
    _number("seed", result["seed"], run.seed, run.seed, integer=True)
    _number("timesteps", result["timesteps"], 1, integer=True)
    _number("accuracy", result["accuracy"], 0.0, 1.0)
    _number("spikes_per_sample", result["spikes_per_sample"])
    _number("cpu_seconds", result["cpu_seconds"])
    _layer_list("layer_spikes_per_sample", result["layer_spikes_per_sample"], layers)
    if run.costs:
        costs = result["costs"]
        if not isinstance(costs, dict):
            raise CacheError("field 'costs' is not an object")
        _check_costs("costs", costs, run.costs, layers, len(run.engines))
    if entry["digest"] != _digest(entry):
        raise CacheError("digest does not match the contents: edited or corrupted")
    return result


def _check_costs(where: str, costs: dict[str, Any], samples: int, layers: int,
                 variants: int) -> None:
    """:class:`.grid.CacheError` unless ``costs`` holds the cycle model's counts of
    ``samples`` samples for ``layers`` layers, and a list of ``variants`` more of them."""
    names = ("cycles", "samples", *LAYER_COUNTS) + (("variants",) if variants else ())
    _fields(f"{where}.", costs, names)
    _number(f"{where}.cycles", costs["cycles"])
    _number(f"{where}.samples", costs["samples"], 1, samples, integer=True)
    for name in LAYER_COUNTS:
        _layer_list(f"{where}.{name}", costs[name], layers)
    if variants:
        listed = costs["variants"]
        if not isinstance(listed, list) or len(listed) != variants:
            raise CacheError(f"field '{where}.variants' is {_short(listed)}, expected a list "
                             f"of {variants}")
        for index, variant in enumerate(listed):
            if not isinstance(variant, dict):
                raise CacheError(f"field '{where}.variants[{index}]' is not an object")
            _check_costs(f"{where}.variants[{index}]", variant, samples, layers, 0)


def _layer_list(where: str, values: Any, layers: int) -> None:
    if not isinstance(values, list) or len(values) != layers:
        raise CacheError(f"field {where!r} is {_short(values)}, expected a list of {layers} "
                         "numbers")
    for index, value in enumerate(values):
        _number(f"{where}[{index}]", value)


def _stderr_note(message: str) -> None:
    print(f"plasticore: note: {message}", file=sys.stderr, flush=True)


class ScoringEvaluator:
    """Runs :class:`Scoring` runs with a disk cache (one JSON per run, named by
    :func:`scoring_key`), stored as each finishes, so an interrupted sweep resumes.

    Parameters
    ----------
    config : Config
        The sweep's configuration (sent along with every run, as the cluster's tasks take
        one; a run scores its own).
    cache : Path or None
    workers : int or Runner
        As :class:`.grid.Evaluator`'s.
    progress : bool
        A tqdm bar per batch (stderr).
    log, note : callables or None
        As :class:`.grid.Evaluator`'s.
    """

    def __init__(self, config: Config, cache: Path | None, workers: int | Runner = 1,
                 progress: bool = False, log: Callable[[str], None] | None = None,
                 note: Callable[[str], None] | None = None):
        self.config = config
        self.cache = cache
        self.workers = workers
        self.progress = progress
        self.log = log
        self.note = note or _stderr_note
        self._noted: set[Path] = set()
        self.trained = 0          # runs scored (not found in the cache) so far
        self.cpu_seconds = 0.0
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)

    def _path(self, run: Scoring) -> Path | None:
        return None if self.cache is None else self.cache / f"{scoring_key(run)}.json"

    @staticmethod
    def _layers(run: Scoring) -> int:
        return len(json.loads(run.arrays))

    def cached(self, run: Scoring) -> dict[str, Any] | None:
        """The stored result of ``run`` if any and valid (a bad entry is noted once and
        counts as missing)."""
        path = self._path(run)
        if path is None:
            return None
        try:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise CacheError(f"unreadable: {exc.strerror or exc}") from None
            try:
                entry = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise CacheError(f"not JSON, or truncated: {exc}") from None
            return check_scoring_entry(entry, run, self._layers(run))
        except CacheError as exc:
            if path not in self._noted:
                self._noted.add(path)
                self.note(f"cache entry {path} is invalid ({exc}); recomputing")
            return None

    def _store(self, run: Scoring, result: dict[str, Any]) -> None:
        path = self._path(run)
        if path is None:
            return
        entry = {"version": SCORING_VERSION, "key": scoring_key(run), "inputs": _inputs(run),
                 "result": result}
        entry["digest"] = _digest(entry)
        check_scoring_entry(json.loads(json.dumps(entry)), run, self._layers(run))
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        write_text(path, json.dumps(entry, indent=1) + "\n")

    def run(self, runs: Sequence[Scoring], what: str = "points") -> list[dict[str, Any]]:
        """Results of ``runs`` in order: from the cache, or scored (and then stored)."""
        keyed = [dataclasses.replace(r, tag=scoring_key(r)) for r in runs]
        results: list[dict[str, Any] | None] = [self.cached(r) for r in keyed]
        todo: dict[str, int] = {}
        for k, r in enumerate(results):
            if r is None:
                todo.setdefault(keyed[k].tag, k)
        order = list(todo.values())
        bar = None
        if self.progress and order:
            from tqdm import tqdm

            bar = tqdm(total=len(order), desc=what, unit="run", leave=False, file=sys.stderr,
                       dynamic_ncols=True)
        found: dict[str, dict[str, Any]] = {}
        finished = [0]

        def done(result: dict[str, Any]) -> None:
            run = keyed[todo[result["tag"]]]
            self._store(run, result)
            found[result["tag"]] = result
            self.trained += 1
            self.cpu_seconds += float(result.get("cpu_seconds", 0.0))
            finished[0] += 1
            if bar is not None:
                bar.update(1)
            elif self.log is not None and (finished[0] % max(1, len(order) // 10) == 0
                                           or finished[0] == len(order)):
                self.log(f"{what}: {finished[0]}/{len(order)} runs")

        try:
            pending = [keyed[k] for k in order]
            if pending and isinstance(self.workers, Runner):
                self.workers.run(self.config, pending, done, task=score_run)
            elif pending:
                run_grid(self.config, pending, self.workers, done, task=score_run)
        finally:
            if bar is not None:
                bar.close()
        return [r if r is not None else found[keyed[k].tag] for k, r in enumerate(results)]
