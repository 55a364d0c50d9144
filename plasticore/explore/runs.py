"""A training run: what the explorer's and ``plasticore bench accuracy``'s tasks compute.

:func:`train_run` trains the configuration once for a :class:`Run` (a rule, timesteps, a
seed) and scores it.  It is a pure function of its inputs (the configuration TOML and the
run): the same inputs give the same result, bit for bit, in this process or in a worker on
another machine (only the timing fields, ``ms_per_train_sample`` and ``cpu_seconds``,
differ); :mod:`.cluster` runs many of them, and the explorer's cache (:mod:`.grid`) stores
their results.  Rules:

- ``full``: the configuration as written (its own timestep count);
- ``naive``: only ``timesteps`` changed;
- ``enhanced``: ``plasticore.topspark.reduce_timesteps`` (parameters enhanced for the
  shorter sample);
- ``float``: the float64 reference at full timesteps (what quantization costs);
- ``point``: the core configuration the run carries (``Run.core``, JSON), as it is (the
  design-space explorer trains its points this way).  With ``Run.deploy`` (another core,
  JSON) the trained network is quantized to that core after training
  (:func:`.precision.quantize_network`), then labelled and scored.

A run trains on the training set and tests on the test set (``split = "test"``), or, for
searching parameters without touching the test set (``split = "validation"``), holds out the
last ``Run.validation`` training samples: it trains on the others, cycled from the start
until the training sequence is as long as the full training set's (the adaptive thresholds
grow with every sample, so the number of training presentations matters as much as the
samples), labels the neurons with them, and scores on the held-out samples, which the
network has never seen.
With ``Run.costs`` the result also carries what the cost model needs
(:func:`.cost.measure`: cycles and operation counts on test samples).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..config import Config, CoreConfig

__all__ = ["Run", "train_run", "run_splits", "cycled", "RULES", "TIMING_FIELDS"]

#: The rules a run can train by (module docstring).
RULES = ("full", "naive", "enhanced", "float", "point")

#: Result fields that measure time, not the network: the only ones two runs of the same
#: inputs may disagree on.
TIMING_FIELDS = ("ms_per_train_sample", "cpu_seconds")


@dataclass(frozen=True)
class Run:
    """One training run.

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


def train_run(config_toml: str, run: Run) -> dict[str, Any]:
    """Train and score ``run`` of the configuration ``config_toml`` (its dataset, readout
    and, except for ``point`` runs, its core); the result is a JSON-ready dict: ``rule``,
    ``timesteps``, ``seed``, ``tag``, ``accuracy``, ``spikes_per_sample``, the timing fields
    and, with ``run.costs``, ``costs``."""
    import tomllib

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
    elif run.rule not in RULES:
        raise ValueError(f"rule = {run.rule!r}: must be one of {', '.join(RULES)}")
    data = config.data
    train_set, label_set, test_set = run_splits(config, core.encoder.pixel_bits, run.split,
                                                run.validation)
    fit_set = (cycled(label_set, len(train_set)) if run.split == "validation"
               else train_set)
    arithmetic = "float" if run.rule == "float" else "integer"
    net, seconds, _ = train(core, fit_set, data.epochs, arithmetic)
    if run.deploy is not None:
        from .precision import quantize_network

        net = quantize_network(net, CoreConfig.from_json(run.deploy).replace(seed=run.seed))
    ev = evaluate(net, label_set, test_set, readout=config.classify.readout)
    result = {"rule": run.rule, "timesteps": core.timesteps, "seed": run.seed, "tag": run.tag,
              "accuracy": ev.accuracy, "spikes_per_sample": ev.spikes_per_sample,
              "ms_per_train_sample": 1000 * seconds / max(len(train_set) * data.epochs, 1)}
    if run.costs:
        from .cost import measure

        result["costs"] = measure(net, train_set, test_set.subset(0, min(run.costs,
                                                                         len(test_set))))
    result["cpu_seconds"] = time.process_time() - cpu
    return result


def run_splits(config: Config, pixel_bits: int, split: str,
               validation: int) -> tuple[Any, Any, Any]:
    """``(train, label, test)`` sets of a run: the config's dataset cut to
    ``data.train_samples`` / ``data.test_samples``; with ``split = "validation"`` the last
    ``validation`` training samples are the test set and the others the label set (the
    training set stays whole, for the caller to cut), with ``"test"`` the label set is the
    training set."""
    from ..golden.datasets import load_dataset

    data = config.data
    train_set, test_set = load_dataset(data.dataset, data.path or None, pixel_bits)
    if data.train_samples:
        train_set = train_set.subset(0, data.train_samples)
    if data.test_samples:
        test_set = test_set.subset(0, data.test_samples)
    if split == "test":
        return train_set, train_set, test_set
    if split != "validation":
        raise ValueError(f"split = {split!r}: must be 'test' or 'validation'")
    n = len(train_set) - validation
    if n < 1 or validation < 1:
        raise ValueError(f"validation = {validation}: must lie in 1..{len(train_set) - 1}"
                         f" (the training set has {len(train_set)} samples)")
    return train_set, train_set.subset(0, n), train_set.subset(n)


def cycled(dataset: Any, length: int) -> Any:
    """``dataset``'s samples in order, repeated from the start until ``length`` samples."""
    import numpy as np

    from ..golden.datasets import Dataset

    idx = np.arange(length) % len(dataset)
    return Dataset(dataset.name, dataset.images[idx], dataset.labels[idx], dataset.shape,
                   dataset.n_classes)
