"""PNG pictures of a trained network: receptive fields, a spike raster, the confusion matrix.

matplotlib with the non-interactive Agg backend; every function returns the paths it wrote.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .files import replacing

__all__ = ["receptive_fields", "raster", "confusion", "training_plots", "save_figure"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` as PNG (atomically) and close it."""
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    _pyplot().close(fig)
    return path


def receptive_fields(path: Path, weights: Any, shape: tuple[int, int], w_max: int,
                     labels: Any | None = None) -> Path:
    """Every neuron's incoming weights as an image, in a grid, titled by its label."""
    plt = _pyplot()
    n = weights.shape[1]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.95), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            ax.imshow(weights[:, k].reshape(shape), cmap="hot", vmin=0, vmax=w_max,
                      interpolation="nearest")
            if labels is not None:
                ax.set_title(str(int(labels[k])), fontsize=7, pad=1)
    fig.suptitle("receptive fields (weights per neuron; title: assigned label)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def raster(path: Path, input_raster: Any, output_raster: Any, title: str) -> Path:
    """Input and output spikes of one sample against the timestep."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    t, j = np.nonzero(input_raster)
    top.scatter(t, j, s=1, c="k", marker="|")
    top.set_ylabel("input")
    t, i = np.nonzero(output_raster)
    bottom.scatter(t, i, s=6, c="tab:red", marker="|")
    bottom.set_ylabel("neuron")
    bottom.set_xlabel("timestep")
    bottom.set_ylim(-1, output_raster.shape[1])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def confusion(path: Path, labels: Any, predictions: Any, n_classes: int) -> Path:
    """Confusion matrix of the test pass (rows: true class, columns: prediction)."""
    plt = _pyplot()
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (labels, predictions), 1)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(m, cmap="Blues")
    for (r, c), v in np.ndenumerate(m):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > m.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n_classes))
    acc = np.trace(m) / max(m.sum(), 1)
    ax.set_title(f"test accuracy {100 * acc:.1f}%")
    fig.tight_layout()
    save_figure(fig, path)
    return path


def training_plots(directory: Path, config: Config, net: Any, evaluation: Any,
                   test_set: Any) -> list[Path]:
    """Receptive fields, the raster of the first test sample, and the confusion matrix."""
    directory.mkdir(parents=True, exist_ok=True)
    core = config.core
    paths = [receptive_fields(directory / "receptive_fields.png", net.weights, test_set.shape,
                              core.derived.w_max, evaluation.neuron_labels)]
    if len(test_set):
        sample = net.run_sample(test_set.images[0], key=0, learn=False, record=True)
        paths.append(raster(directory / "raster.png", sample.input_raster, sample.raster,
                            f"test sample 0 (class {test_set.labels[0]}), "
                            f"{int(sample.counts.sum())} output spikes"))
        paths.append(confusion(directory / "confusion.png", test_set.labels,
                               evaluation.predictions, test_set.n_classes))
    return paths
