"""Unsupervised training, label assignment and evaluation with the golden model.

Protocol (``docs/numerics.md``, "Training and evaluation"):

1. Training: every epoch presents the training samples in order, one at a time, learning
   on; sample ``n`` of epoch ``e`` uses generator key ``e * N + n``.
2. Label pass: learning off, the training samples again (key = index); every neuron is
   labelled with the class it responds to most.
3. Test pass: learning off, the test samples (key = index); prediction by mean count of
   each class's neurons.

Learning-off passes are batched (:meth:`Network.run_batch`) and bit-identical to running the
samples one by one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SUPERVISED_READOUTS, Config, CoreConfig, NetworkConfig, parse_toml
from ..files import input_file, replacing
from .classify import Readout
from .datasets import Dataset
from .network import BatchResult, Network

__all__ = ["Evaluation", "TrainResult", "train", "evaluate", "save_weights", "load_weights",
           "WeightsError", "WEIGHTS_ARRAYS"]

Array = Any
Progress = Callable[[str, int, int], None]   # (phase, done, total)


class WeightsError(ValueError):
    """A weights file is missing, malformed or does not match the configuration."""


@dataclass
class Evaluation:
    """Result of the label and test passes."""

    accuracy: float
    readout: Readout
    neuron_labels: Array
    predictions: Array
    test_counts: Array
    train_counts: Array
    spikes_per_sample: float
    seconds: float
    layer_spikes_per_sample: list[float] = field(default_factory=list)


@dataclass
class TrainResult:
    """Result of :func:`train` followed by :func:`evaluate`."""

    network: Network
    evaluation: Evaluation
    train_samples: int
    epochs: int
    train_seconds: float
    input_spikes_per_sample: float
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self, config: Config) -> dict[str, Any]:
        """The JSON-ready summary the CLI prints."""
        ev = self.evaluation
        n_train = self.train_samples * self.epochs
        return {
            "config": config.source,
            "dataset": config.data.dataset,
            "arithmetic": "float" if self.network.num.dtype == np.float64 else "integer",
            "readout": self.evaluation.readout.rule,
            "accuracy": round(ev.accuracy, 6),
            "timesteps": config.core.timesteps,
            "train_samples": self.train_samples,
            "epochs": self.epochs,
            "test_samples": int(len(ev.predictions)),
            "spikes_per_sample": round(ev.spikes_per_sample, 3),
            "input_spikes_per_sample": round(self.input_spikes_per_sample, 3),
            "ms_per_train_sample": round(1000 * self.train_seconds / max(n_train, 1), 3),
            "train_seconds": round(self.train_seconds, 3),
            "eval_seconds": round(ev.seconds, 3),
            "seconds": round(self.train_seconds + ev.seconds, 3),
            "seed": config.core.seed,
            **self.extra,
        }


def train(core: CoreConfig, train_set: Dataset, epochs: int = 1,
          arithmetic: str = "integer", progress: Progress | None = None,
          network: Network | None = None) -> tuple[Network, float, float]:
    """Train a network on ``train_set``; returns ``(network, seconds, input spikes/sample)``."""
    net = network if network is not None else Network(core, arithmetic)  # type: ignore[arg-type]
    n = len(train_set)
    total = n * epochs
    input_spikes = 0
    start = time.perf_counter()
    for e in range(epochs):
        for i in range(n):
            result = net.run_sample(train_set.images[i], key=e * n + i, learn=True)
            input_spikes += int(result.input_spikes.sum())
            if progress is not None:
                progress("train", e * n + i + 1, total)
    seconds = time.perf_counter() - start
    return net, seconds, input_spikes / max(total, 1)


def evaluate(net: Network, label_set: Dataset, test_set: Dataset,
             progress: Progress | None = None, readout: str = "proportion") -> Evaluation:
    """Label pass on ``label_set`` then test pass on ``test_set``, learning off.

    ``readout`` is the classification rule (``golden/classify.py``); a supervised one
    (output neuron ``c`` is class ``c``) needs no label pass, and ``label_set`` is unused.
    """
    start = time.perf_counter()
    n_classes = max(label_set.n_classes, test_set.n_classes)

    def outputs_of(ds: Dataset, phase: str) -> BatchResult:
        done = 0

        def tick(k: int) -> None:
            nonlocal done
            done += k
            if progress is not None:
                progress(phase, done, len(ds))

        return net.run_outputs(ds.images, np.arange(len(ds)), progress=tick, chunk=256)

    if readout in SUPERVISED_READOUTS:
        train_counts = np.zeros((0, net.n_outputs), np.int64)
        fitted = Readout(readout, train_counts, label_set.labels[:0], n_classes)
    else:
        train_counts = outputs_of(label_set, "label").counts
        fitted = Readout(readout, train_counts, label_set.labels, n_classes)
    test = outputs_of(test_set, "test")
    predictions = fitted.predict(test.scores(readout))
    accuracy = float(np.mean(predictions == test_set.labels)) if len(test_set) else 0.0
    n = max(len(test_set), 1)
    return Evaluation(
        accuracy=accuracy,
        readout=fitted,
        neuron_labels=fitted.neuron_labels,
        predictions=predictions,
        test_counts=test.counts,
        train_counts=train_counts,
        spikes_per_sample=float(test.counts.sum()) / n,
        seconds=time.perf_counter() - start,
        layer_spikes_per_sample=[float(x) / n for x in test.layer_spikes.sum(axis=0)],
    )


def layer_key(name: str, layer: int) -> str:
    """The archive name of a layer's array: ``weights``, ``theta``, ``bias`` for layer 0
    (the one-layer file form), ``weights_1`` ... for the later layers."""
    return name if layer == 0 else f"{name}_{layer}"


def save_weights(path: str | Path, config: Config, net: Network,
                 readout: Readout | None = None) -> None:
    """Write every layer's weights, thresholds and biases, the readout and the config (TOML)
    to an ``.npz`` file (:func:`layer_key` names the arrays; a layer without a bias has no
    ``bias`` array).

    A labelling readout's ``neuron_labels`` and ``class_rates`` let a host classify from the
    spike counts the board reports.  The file is written under a unique temporary name and
    moved over ``path`` atomically (:func:`plasticore.files.replacing`): an interrupted or
    failed write leaves ``path`` as it was, and of two writers the last to finish wins
    whole.
    """
    arrays: dict[str, Any] = {"config": np.array(config.to_toml())}
    for i, layer in enumerate(net.layers):
        arrays[layer_key("weights", i)] = layer.weights
        arrays[layer_key("theta", i)] = layer.theta
        if layer.bias is not None:
            arrays[layer_key("bias", i)] = layer.bias
    if readout is not None and readout.rates is not None:
        arrays["neuron_labels"] = readout.neuron_labels
        arrays["class_rates"] = readout.rates
    with replacing(path) as tmp, tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)


#: The arrays :func:`load_weights` reads besides every layer's (others in the archive are
#: never decompressed).
WEIGHTS_ARRAYS = ("config", "class_rates")


def load_weights(path: str | Path, config: CoreConfig | NetworkConfig) -> dict[str, Array]:
    """Read a weights file written by :func:`save_weights` and check it fits ``config``.

    Returns the arrays by name: layer 0's ``weights`` and ``theta``, and ``layers``, one
    dict per layer with its ``weights``, ``theta`` and ``bias`` (``None`` when the file has
    none).  Only those and :data:`WEIGHTS_ARRAYS` are read.  A readout, when present, is
    checked too: ``class_rates`` finite numbers in ``0 .. timesteps`` (a mean count per
    sample), one column per output neuron.
    """
    network = (NetworkConfig.from_core(config) if isinstance(config, CoreConfig)
               else config)
    cores = network.cores
    path = input_file(path, "weights file", b"PK\x03\x04",
                      "not an .npz archive (written by `plasticore train --weights-out` or "
                      "`plasticore nir import`)", WeightsError)
    names = set(WEIGHTS_ARRAYS) | {layer_key(name, i) for i in range(len(cores))
                                   for name in ("weights", "theta", "bias")}
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in sorted(names) if k in f.files}
            extra = [k for k in f.files if k.startswith("weights_") and k not in names]
    except Exception as exc:   # numpy raises several types for a corrupt archive
        raise WeightsError(f"{path}: corrupt .npz archive ({exc})") from None
    if extra:
        raise WeightsError(f"{path}: holds {extra[0]!r}, more layers than the config's "
                           f"{len(cores)}")
    data["layers"] = [_check_layer(path, data, i, core) for i, core in enumerate(cores)]
    stored = None
    if "config" in data:
        try:
            stored = Config.from_dict(parse_toml(str(data["config"]), str(path)))
        except ValueError:          # ConfigError: an unreadable stored config is ignored
            stored = None
        if stored is not None and stored.network != network:
            data["config_mismatch"] = np.array(True)
    if "class_rates" in data:
        # rates were fitted at the trained network's timesteps (maybe not the config's)
        timesteps = max(network.timesteps, stored.core.timesteps if stored else 0)
        _check_class_rates(path, data["class_rates"], cores[-1].n_neurons, timesteps)
    return data


def _check_layer(path: Path, data: dict[str, Array], i: int,
                 core: CoreConfig) -> dict[str, Array]:
    """Layer ``i``'s arrays from ``data``, checked against its ``core``: shapes, integer
    types, and values within the widths."""
    names = {name: layer_key(name, i) for name in ("weights", "theta", "bias")}
    for name in ("weights", "theta"):
        if names[name] not in data:
            raise WeightsError(f"{path}: missing array {names[name]!r}")
    w, th, b = data[names["weights"]], data[names["theta"]], data.get(names["bias"])
    d = core.derived
    shape = (core.n_inputs, core.n_neurons)
    if w.shape != shape:
        raise WeightsError(f"{path}: {names['weights']} have shape {w.shape}, the config "
                           f"needs {shape}")
    for name, array in (("theta", th), ("bias", b)):
        if array is not None and array.shape != (core.n_neurons,):
            raise WeightsError(f"{path}: {names[name]} has shape {array.shape}, the config "
                               f"needs ({core.n_neurons},)")
    if any(a is not None and a.dtype.kind not in "iu" for a in (w, th, b)):
        raise WeightsError(f"{path}: weights, theta and bias must be integers "
                           "(float-reference weights cannot be loaded into the fixed-point "
                           "model)")
    prefix = "widths" if i == 0 else f"layers[{i}].widths"
    if w.size and (w.min() < d.w_min or w.max() > d.w_max):
        raise WeightsError(f"{path}: {names['weights']} span {w.min()}..{w.max()}, the "
                           f"config allows {d.w_min}..{d.w_max} ({prefix}.weight = "
                           f"{core.widths.weight}"
                           f"{', signed' if core.widths.weight_signed else ''})")
    if th.size and (th.min() < 0 or th.max() > d.theta_max):
        raise WeightsError(f"{path}: {names['theta']} spans {th.min()}..{th.max()}, the "
                           f"config allows 0..{d.theta_max} ({prefix}.theta = "
                           f"{core.widths.theta})")
    if b is not None and b.size and (b.min() < d.bias_min or b.max() > d.bias_max):
        raise WeightsError(f"{path}: {names['bias']} spans {b.min()}..{b.max()}, the config "
                           f"allows {d.bias_min}..{d.bias_max} ({prefix}.bias = "
                           f"{core.widths.bias})")
    return {"weights": w, "theta": th, "bias": b}


def _check_class_rates(path: Path, rates: Array, n_neurons: int, timesteps: int) -> None:
    """A stored readout's class rates: real numbers, ``(n_classes, n_neurons)``, each a mean
    spike count per sample, so finite and in ``0 .. timesteps`` (one spike per timestep at
    most)."""
    if rates.dtype.kind not in "iuf":
        raise WeightsError(f"{path}: class_rates must be numbers, not {rates.dtype}")
    if rates.ndim != 2 or rates.shape[1] != n_neurons or rates.shape[0] < 2:
        raise WeightsError(f"{path}: class_rates have shape {rates.shape}, the config needs "
                           f"(classes, {n_neurons})")
    values = rates.astype(np.float64)
    if not np.isfinite(values).all():
        raise WeightsError(f"{path}: class_rates hold a value that is not finite")
    if values.size and (values.min() < 0 or values.max() > timesteps):
        raise WeightsError(f"{path}: class_rates span {values.min():g}..{values.max():g}; "
                           f"a mean spike count per sample lies in 0..{timesteps} (the "
                           "timesteps)")
