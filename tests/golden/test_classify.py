"""Tests of label assignment and "all activity" prediction on hand examples."""

from __future__ import annotations

import numpy as np

from spikeforge.golden.classify import assign_labels, class_rates, predict

# 4 samples x 6 neurons; sample labels [0, 1, 1, 2]; class 3 has no samples.
COUNTS = np.array([
    [5, 0, 1, 0, 0, 3],  # class 0
    [1, 4, 1, 0, 2, 2],  # class 1
    [3, 2, 1, 0, 0, 2],  # class 1
    [0, 0, 1, 0, 1, 0],  # class 2
])
LABELS = np.array([0, 1, 1, 2])


def test_class_rates() -> None:
    """Mean count per class: class 1 is the mean of two samples; class 3 (no samples) is 0."""
    rates = class_rates(COUNTS, LABELS, 4)
    assert rates.tolist() == [
        [5, 0, 1, 0, 0, 3],
        [2, 3, 1, 0, 1, 2],  # (1+3)/2, (4+2)/2, 1, 0, (2+0)/2, (2+2)/2
        [0, 0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0],
    ]


def test_assign_labels() -> None:
    """Highest mean count; ties to the lowest class; silent neurons get class 0.

    neuron 0: 5 (c0) > 2 -> 0.  neuron 1: 3 (c1) -> 1.  neuron 2: 1, 1, 1 tie -> 0.
    neuron 3: never fires -> 0.  neuron 4: c1 mean 1 = c2 mean 1 > c0 -> 1 (lowest of the tie).
    neuron 5: c0 mean 3 > c1 mean 2 (but c1's sum 4 > 3: the mean, not the sum, counts) -> 0.
    """
    got = assign_labels(COUNTS, LABELS, 4)
    assert got.tolist() == [0, 1, 0, 0, 1, 0]
    assert got.dtype == np.int64


def test_predict() -> None:
    """Class score = mean count of its neurons; ties to the lowest class.

    neuron labels [0, 0, 1, 2, 2, 2]; class 3 has no neurons and scores 0.
    """
    neuron_labels = np.array([0, 0, 1, 2, 2, 2])
    counts = np.array([
        [4, 2, 3, 0, 0, 0],  # c0 (4+2)/2 = 3, c1 3: tie -> 0
        [0, 0, 1, 3, 3, 3],  # c0 0, c1 1, c2 3 -> 2
        [1, 1, 2, 3, 0, 0],  # c0 1, c1 2, c2 3/3 = 1 (sum 3 > 2: the mean counts) -> 1
        [0, 0, 0, 0, 0, 0],  # all 0 -> 0
        [0, 1, 0, 0, 0, 2],  # c0 0.5, c1 0, c2 2/3 -> 2
    ])
    got = predict(counts, neuron_labels, 4)
    assert got.tolist() == [0, 2, 1, 0, 2]
    assert got.dtype == np.int64


def test_predict_class_without_neurons_scores_zero() -> None:
    """Class 0 has no neurons: it scores 0, so it wins ties at 0 but loses to any activity."""
    neuron_labels = np.array([1, 1, 2])
    counts = np.array([
        [0, 0, 0],  # all classes 0 -> 0 (the empty class, not -inf)
        [1, 0, 0],  # c1 0.5 -> 1
        [0, 0, 1],  # c2 1 -> 2
    ])
    assert predict(counts, neuron_labels, 3).tolist() == [0, 1, 2]


def test_labels_then_predict() -> None:
    """Round trip on a clean example: each neuron answers one class, predictions are right."""
    counts = np.array([[9, 0, 1], [0, 8, 0], [1, 0, 7], [8, 1, 0]])
    labels = np.array([0, 1, 2, 0])
    neuron_labels = assign_labels(counts, labels, 3)
    assert neuron_labels.tolist() == [0, 1, 2]  # c0 means [8.5, 0.5, 0.5]
    assert predict(counts, neuron_labels, 3).tolist() == [0, 1, 2, 0]
