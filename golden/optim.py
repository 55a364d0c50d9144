"""Optimizers and learning-rate schedules of the BPTT trainer (:mod:`.bptt`).

Parameters are float64 arrays in the LSBs of their integer grid (weights in weight LSBs,
biases and thresholds in membrane LSBs).  A step moves a parameter by about the learning
rate times its grid's ``scale`` (the largest magnitude the grid holds), so one learning
rate suits every layer and width: ``lr = 0.002`` moves an 8-bit signed weight by about
``0.25`` LSB per step.

- **Adam** (Kingma & Ba 2015): ``m = b1 m + (1-b1) g``, ``s = b2 s + (1-b2) g**2``,
  ``p -= lr * scale * m_hat / (sqrt(s_hat) + eps)`` with the bias-corrected moments;
- **SGD with momentum**: ``m = mu m + g``, ``p -= lr * scale * m`` (``g`` here is the
  gradient with respect to the parameter in units of its scale, ``dL/dp * scale``);
- **decoupled weight decay** (Loshchilov & Hutter 2019): ``p -= lr * weight_decay * p``
  after the step, apart from the gradient.

Schedules scale the learning rate by epoch (:func:`schedule_factor`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["schedule_factor", "Optimizer"]

Array = Any

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def schedule_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The learning-rate factor of 0-based ``epoch`` of ``epochs``: ``constant`` 1,
    ``cosine`` ``(1 + cos(pi * epoch / epochs)) / 2``, ``step`` halved after every third
    of the epochs (``0.5 ** (epoch // ceil(epochs / 3))``)."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))
    if schedule == "step":
        return 0.5 ** (epoch // max(1, math.ceil(epochs / 3)))
    raise ValueError(f"schedule must be constant, cosine or step, got {schedule!r}")


class Optimizer:
    """Adam or SGD with momentum over a list of parameter arrays, updated in place.

    Parameters
    ----------
    kind : "adam" or "sgd"
    scales : list of float
        Each parameter's grid scale (LSBs of its largest magnitude).
    momentum : float
        SGD momentum.
    weight_decay : float
        Decoupled weight decay per step (times the learning rate).
    """

    def __init__(self, kind: str, scales: list[float], momentum: float = 0.9,
                 weight_decay: float = 0.0):
        if kind not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be adam or sgd, got {kind!r}")
        self.kind = kind
        self.scales = scales
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.steps = 0
        self._m: list[Array | None] = [None] * len(scales)
        self._s: list[Array | None] = [None] * len(scales)

    def step(self, params: list[Array], grads: list[Array | None], lr: float) -> None:
        """One update of every parameter whose gradient is not ``None`` (``dL/dp`` per LSB)."""
        self.steps += 1
        b1, b2 = ADAM_BETAS
        for k, (p, g) in enumerate(zip(params, grads, strict=True)):
            if g is None:
                continue
            scale = self.scales[k]
            g = g * scale                       # gradient per unit of the grid's scale
            m_old, s_old = self._m[k], self._s[k]
            if self.kind == "adam":
                m = g * (1 - b1) if m_old is None else b1 * m_old + (1 - b1) * g
                s = g * g * (1 - b2) if s_old is None else b2 * s_old + (1 - b2) * g * g
                self._m[k], self._s[k] = m, s
                m_hat = m / (1 - b1 ** self.steps)
                s_hat = s / (1 - b2 ** self.steps)
                p -= lr * scale * m_hat / (np.sqrt(s_hat) + ADAM_EPS)
            else:
                m = g if m_old is None else self.momentum * m_old + g
                self._m[k] = m
                p -= lr * scale * m
            if self.weight_decay:
                p -= lr * self.weight_decay * p
