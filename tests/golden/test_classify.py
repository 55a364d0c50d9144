"""Tests of label assignment and "all activity" prediction on hand examples."""

from __future__ import annotations

import numpy as np
import pytest

from plasticore.golden.classify import (
    Readout,
    assign_labels,
    class_rates,
    predict,
    predict_proportion,
)

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


def test_predict_proportion_hand_example() -> None:
    """Proportion weighting splits a two-class neuron's vote by its class rates."""
    # Neuron 0 fires 3 per class-0 sample and 1 per class-1 sample: shares 3/4, 1/4.
    # Neuron 1 fires only for class 1: shares 0, 1.  Neuron 2 never fired: shares 0, 0.
    rates = np.array([[3.0, 0.0, 0.0],
                      [1.0, 2.0, 0.0]])
    counts = np.array([[4, 0, 9],    # votes: c0 = 4*3/4 = 3, c1 = 4*1/4 = 1 -> 0
                       [4, 3, 0],    # c0 = 3, c1 = 1 + 3 = 4 -> 1
                       [0, 0, 5],    # no votes: tie at 0 -> lowest class 0
                       [2, 1, 0]])   # c0 = 1.5, c1 = 0.5 + 1 = 1.5 -> tie -> 0
    assert predict_proportion(counts, rates).tolist() == [0, 1, 0, 0]


def test_readout_rules_differ_where_all_activity_is_fooled() -> None:
    """A concentrated '1' neuron firing for an '8' sways all-activity, not proportion."""
    # Class rates from labelled samples: neuron 0 is a "1" neuron (rate 10 for class 0,
    # 6 for class 1), neurons 1 and 2 are class-1 neurons with rate 5 and 0 for class 0.
    train_counts = np.array([[10, 0, 0], [6, 5, 5]])
    labels = np.array([0, 1])
    test = np.array([[6, 4, 4]])
    # all: labels [0, 1, 1]; class 0 mean 6, class 1 mean 4 -> 0.
    assert Readout("all", train_counts, labels, 2).predict(test).tolist() == [0]
    # proportion: shares n0 = (10/16, 6/16), n1 = n2 = (0, 1);
    # c0 = 6 * 10/16 = 3.75, c1 = 6 * 6/16 + 4 + 4 = 10.25 -> 1.
    assert Readout("proportion", train_counts, labels, 2).predict(test).tolist() == [1]
    with pytest.raises(ValueError, match="readout"):
        Readout("majority", train_counts, labels, 2)


def test_vote_table_by_hand():
    from plasticore.golden.classify import predict_votes, vote_table

    # neuron 0 fires for class 0 only; neuron 1 splits 3:1 between classes 1 and 2;
    # neuron 2 never fired
    rates = np.array([[2.0, 0.0, 0.0],
                      [0.0, 3.0, 0.0],
                      [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(vote_table("proportion", rates, 4),
                                  [[15, 0, 0], [0, 11, 0], [0, 4, 0]])   # 0.75 * 15 = 11.25
    # "all": labels 0, 1, 0 (a silent neuron goes to class 0): class 0 has 2 neurons,
    # class 1 one; the smallest class votes 15, class 0 round(15 * 1 / 2) = 8
    np.testing.assert_array_equal(vote_table("all", rates, 4),
                                  [[8, 0, 8], [0, 15, 0], [0, 0, 0]])
    votes = np.array([[8, 0, 8], [0, 15, 0], [0, 0, 0]])
    # scores: [8*2 + 8*1, 15*1, 0] = [24, 15, 0] -> 0; [8, 30, 0] -> 1; a tie -> lowest
    np.testing.assert_array_equal(predict_votes([[2, 1, 1], [1, 2, 0], [0, 0, 0]], votes),
                                  [0, 1, 0])
