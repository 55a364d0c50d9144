"""The BPTT plots (``plasticore/plots_bptt.py``) from hand-made histories: PNG files of a
plausible size, also without a validation split and for one epoch."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from plasticore.plots_bptt import learning_curves, output_raster, spike_rates


def epoch(e: int, validation: float | None) -> SimpleNamespace:
    return SimpleNamespace(epoch=e, loss=1.0 / (e + 1), train_accuracy=0.9, learning_rate=1e-3,
                           validation_accuracy=validation, seconds=1.0, layer_rates=[0.3, 0.1])


def png(path: Path) -> int:
    """The width of the PNG at ``path`` (IHDR), after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 3000
    return int.from_bytes(data[16:20], "big")


@pytest.mark.parametrize("validation", [None, 0.8])
@pytest.mark.parametrize("epochs", [1, 3])
def test_plots_are_pngs(tmp_path: Path, validation: float | None, epochs: int) -> None:
    history = [epoch(e, validation) for e in range(epochs)]         # from 0, as the trainer
    assert png(learning_curves(tmp_path / "curves.png", history, best_epoch=epochs - 1)) > 300
    rates = [np.linspace(0, 1, 16), np.zeros(10)]
    assert png(spike_rates(tmp_path / "rates.png", history, rates)) > 300
    raster = np.zeros((6, 10), bool)
    raster[[0, 3, 5], [1, 7, 7]] = True
    assert png(output_raster(tmp_path / "raster.png", raster, "sample 0")) > 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "raster.png",
                                                         "rates.png"]
