"""PNG pictures of a network trained by BPTT (``plasticore train --plots DIR``): the learning
curves, the confusion matrix of the test split, the spike rates of every layer, and the
output raster of one test sample.

matplotlib with the non-interactive Agg backend (:func:`plasticore.plots.save_figure`, an
atomic write); every function returns the path it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .plots import _pyplot, confusion, save_figure

__all__ = ["learning_curves", "spike_rates", "output_raster", "bptt_plots", "RATE_SAMPLES"]

#: Test samples run again to histogram every neuron's spike rate (the first ones).
RATE_SAMPLES = 100


def learning_curves(path: Path, history: Sequence[Any], best_epoch: int) -> Path:
    """Loss (top) and train and validation accuracy (bottom) per epoch; the chosen epoch
    marked.  ``history``: the trainer's ``EpochStats`` (``epoch``, ``loss``,
    ``train_accuracy``, ``validation_accuracy`` or ``None``); its epochs and
    ``best_epoch`` count from 0, the plot's from 1."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [s.epoch + 1 for s in history]
    best_epoch += 1
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True)
    top.plot(epochs, [s.loss for s in history], "o-", color="tab:red", ms=3)
    top.set_ylabel("training loss")
    bottom.plot(epochs, [100 * s.train_accuracy for s in history], "o-", ms=3, label="train")
    validated = [(s.epoch + 1, s.validation_accuracy) for s in history
                 if s.validation_accuracy is not None]
    if validated:
        e, v = zip(*validated, strict=True)
        bottom.plot(e, [100 * x for x in v], "s-", ms=3, label="validation")
    for ax in (top, bottom):
        ax.axvline(best_epoch, color="0.6", ls="--", lw=1)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.set_ylabel("accuracy (%)")
    bottom.set_xlabel(f"epoch (dashed: the chosen one, {best_epoch})")
    bottom.legend(loc="lower right", fontsize=8)
    fig.suptitle("BPTT training", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def spike_rates(path: Path, history: Sequence[Any], neuron_rates: Sequence[Any]) -> Path:
    """Left: every layer's mean spike rate (spikes per neuron per timestep) per epoch of
    training.  Right: a histogram of the neurons' rates on test samples, one per layer
    (``neuron_rates[l]``: ``(n_neurons_l,)`` spikes per timestep)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [s.epoch + 1 for s in history]
    n_layers = len(neuron_rates)
    for layer in range(n_layers):
        rates = [s.layer_rates[layer] for s in history if len(s.layer_rates) > layer]
        if rates:
            left.plot(epochs[:len(rates)], rates, "o-", ms=3, label=f"layer {layer}")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel("epoch")
    left.set_ylabel("spikes per neuron per timestep")
    left.set_title("training", fontsize=9)
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    bins = np.linspace(0.0, 1.0, 26)
    for layer, rates in enumerate(neuron_rates):
        right.hist(np.asarray(rates, dtype=np.float64), bins=bins, alpha=0.6,
                   label=f"layer {layer} ({len(rates)} neurons)")
    right.set_xlabel("spikes per timestep")
    right.set_ylabel("neurons")
    right.set_title("test samples, per neuron", fontsize=9)
    right.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def output_raster(path: Path, raster: Any, title: str) -> Path:
    """The output layer's spikes of one sample: ``raster`` ``(timesteps, n_outputs)``."""
    plt = _pyplot()
    raster = np.asarray(raster, dtype=bool)
    fig, ax = plt.subplots(figsize=(7, 3))
    t, i = np.nonzero(raster)
    ax.scatter(t, i, s=30, c="tab:red", marker="|")
    ax.set_xlim(-0.5, raster.shape[0] - 0.5)
    ax.set_ylim(-0.5, raster.shape[1] - 0.5)
    ax.set_yticks(range(raster.shape[1]))
    ax.set_xlabel("timestep")
    ax.set_ylabel("output neuron")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def bptt_plots(directory: Path, config: Config, result: Any, evaluation: Any,
               test_set: Any) -> list[Path]:
    """Every plot of a BPTT run in ``directory``: ``learning_curves.png``,
    ``confusion.png`` (the test split), ``spike_rates.png`` (the first
    :data:`RATE_SAMPLES` test samples run again) and ``raster.png`` (test sample 0)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [learning_curves(directory / "learning_curves.png", result.history,
                             result.best_epoch)]
    if not len(test_set):
        return paths
    net, timesteps = result.network, config.network.timesteps
    paths.append(confusion(directory / "confusion.png", test_set.labels,
                           evaluation.predictions, test_set.n_classes))
    n = min(len(test_set), RATE_SAMPLES)
    totals: list[Any] = [np.zeros(layer.n_neurons, np.int64)
                         for layer in config.network.layers]
    first = None
    for key in range(n):
        sample = net.run_sample(test_set.images[key], key=key, learn=False, record=key == 0)
        first = sample if key == 0 else first
        for total, counts in zip(totals, sample.layer_counts, strict=True):
            total += counts
    paths.append(spike_rates(directory / "spike_rates.png", result.history,
                             [t / (n * timesteps) for t in totals]))
    assert first is not None
    label, predicted = int(test_set.labels[0]), int(evaluation.predictions[0])
    paths.append(output_raster(directory / "raster.png", first.raster,
                               f"test sample 0: class {label}, predicted {predicted}, "
                               f"{int(first.counts.sum())} output spikes"))
    return paths
