"""Label assignment and classification from spike counts (Diehl & Cook, "all activity").

A neuron's label is the class with the highest mean spike count over the labelled samples
(ties go to the lowest class; a neuron that never fires gets class 0).  A sample's prediction
is the class whose assigned neurons have the highest mean count (classes without neurons
score 0; ties go to the lowest class).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["class_rates", "assign_labels", "predict"]

Array = Any


def class_rates(counts: Array, labels: Array, n_classes: int) -> Array:
    """Mean spike count of every neuron per class: ``(n_classes, n_neurons)`` float64."""
    counts = np.asarray(counts, dtype=np.float64)
    labels = np.asarray(labels)
    rates = np.zeros((n_classes, counts.shape[1]))
    for c in range(n_classes):
        members = labels == c
        if members.any():
            rates[c] = counts[members].mean(axis=0)
    return rates


def assign_labels(counts: Array, labels: Array, n_classes: int) -> Array:
    """Label of every neuron (``int64``): the class it responds to most."""
    return np.argmax(class_rates(counts, labels, n_classes), axis=0).astype(np.int64)


def predict(counts: Array, neuron_labels: Array, n_classes: int) -> Array:
    """Predicted class of every sample (``int64``) by the mean count of each class's neurons."""
    counts = np.asarray(counts, dtype=np.float64)
    scores = np.zeros((counts.shape[0], n_classes))
    for c in range(n_classes):
        members = neuron_labels == c
        if members.any():
            scores[:, c] = counts[:, members].mean(axis=1)
    return np.argmax(scores, axis=1).astype(np.int64)
