"""Label assignment and classification from spike counts (Diehl & Cook 2015).

Both readouts start from the class rates: every neuron's mean spike count per class over the
labelled samples.

- ``all`` ("all activity"): a neuron's label is the class with the highest rate (ties go to
  the lowest class; a neuron that never fires gets class 0); a sample's prediction is the
  class whose labelled neurons have the highest mean count (classes without neurons score
  0).
- ``proportion`` ("proportion weighting"): every neuron votes for every class with its
  count times the share of its total rate that class has; the prediction is the class with
  the most votes.  A neuron that responds to two classes splits its vote instead of giving
  it all to one, which matters when a neuron with a concentrated receptive field (a "1")
  also fires for a digit that contains it (an "8").

Networks trained with labels (imported, or BPTT) need no labelling: output neuron ``c``
stands for class ``c``, and the prediction is the argmax of the last layer's spike counts
(``count``), of its highest membrane over the sample (``membrane_max``) or of its membrane
after the last timestep (``membrane_final``).

Ties in the prediction go to the lowest class.  The readout runs on the host, from the
spike counts the core reports.

On a board the same readouts run in integers (:func:`vote_table`, :func:`predict_votes`):
each neuron casts an unsigned ``bits``-bit vote per class, a sample's score per class is
``sum_i counts[i] * votes[c, i]`` and the prediction its argmax (ties to the lowest class).
The host loads the votes; the board's answer must equal :func:`predict_votes` exactly, and
how often it agrees with the float readout is measured, not assumed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import LABELLING_READOUTS, SUPERVISED_READOUTS

__all__ = ["READOUTS", "class_rates", "assign_labels", "predict", "predict_proportion",
           "vote_table", "predict_votes", "Readout"]

#: Readout rules, by name.
READOUTS = LABELLING_READOUTS + SUPERVISED_READOUTS

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


def predict_proportion(counts: Array, rates: Array) -> Array:
    """Prediction by proportion weighting: ``argmax_c sum_i counts[i] * p[c, i]``.

    ``p[c, i] = rates[c, i] / sum_c' rates[c', i]`` (0 for a neuron that never fired on the
    labelled samples).
    """
    rates = np.asarray(rates, dtype=np.float64)
    total = rates.sum(axis=0, keepdims=True)
    share = np.divide(rates, total, out=np.zeros_like(rates), where=total > 0)
    votes = np.asarray(counts, dtype=np.float64) @ share.T
    return np.argmax(votes, axis=1).astype(np.int64)


class Readout:
    """A fitted readout: class rates and labels from labelled counts, then predictions.

    A supervised readout (:data:`~plasticore.config.SUPERVISED_READOUTS`) fits nothing: its
    ``rates`` are ``None``, neuron ``c`` is labelled ``c``, and :meth:`predict` takes the
    scores its rule names (counts or membranes) and returns their argmax.
    """

    def __init__(self, rule: str, counts: Array, labels: Array, n_classes: int):
        if rule not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {rule!r}")
        self.rule = rule
        self.n_classes = n_classes
        self.supervised = rule in SUPERVISED_READOUTS
        self.rates: Array | None = None
        if self.supervised:
            self.neuron_labels = np.arange(np.shape(counts)[-1], dtype=np.int64)
            return
        self.rates = class_rates(counts, labels, n_classes)
        self.neuron_labels = np.argmax(self.rates, axis=0).astype(np.int64)

    @classmethod
    def from_rates(cls, rule: str, rates: Array) -> Readout:
        """The readout fitted earlier, from its class rates (as a weights file stores them)."""
        rates = np.asarray(rates, dtype=np.float64)
        if rule not in LABELLING_READOUTS:
            raise ValueError(f"a readout fitted from class rates is one of "
                             f"{', '.join(LABELLING_READOUTS)}, got {rule!r}")
        readout = cls.__new__(cls)
        readout.rule, readout.n_classes, readout.rates = rule, rates.shape[0], rates
        readout.supervised = rule in SUPERVISED_READOUTS
        readout.neuron_labels = np.argmax(rates, axis=0).astype(np.int64)
        return readout

    def predict(self, counts: Array) -> Array:
        """Predicted class per sample from ``counts`` ``(B, n_neurons)`` (for a supervised
        readout: the scores its rule names)."""
        if self.supervised:
            return np.argmax(np.asarray(counts), axis=1).astype(np.int64)
        if self.rule == "all":
            return predict(counts, self.neuron_labels, self.n_classes)
        return predict_proportion(counts, self.rates)


def vote_table(rule: str, rates: Array, bits: int) -> Array:
    """Integer votes ``(n_classes, n_neurons)``, each in ``0 .. 2**bits - 1``, that stand in
    for readout ``rule`` fitted to class ``rates``.

    - ``proportion``: ``round(share[c, i] * (2**bits - 1))`` (the share of neuron ``i``'s
      rate that class ``c`` has);
    - ``all``: a neuron votes for its label only, with ``round((2**bits - 1) * m / n_c)``,
      ``n_c`` the neurons labelled ``c`` and ``m`` the fewest of any class that has some:
      the mean count per class, scaled so the smallest class votes full scale.
    """
    rates = np.asarray(rates, dtype=np.float64)
    full = (1 << bits) - 1
    if rule == "proportion":
        total = rates.sum(axis=0, keepdims=True)
        share = np.divide(rates, total, out=np.zeros_like(rates), where=total > 0)
        return np.rint(share * full).astype(np.int64)
    if rule != "all":
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {rule!r}")
    n_classes, n_neurons = rates.shape
    labels = np.argmax(rates, axis=0)
    sizes = np.bincount(labels, minlength=n_classes)
    smallest = sizes[sizes > 0].min()
    votes = np.zeros((n_classes, n_neurons), np.int64)
    votes[labels, np.arange(n_neurons)] = np.rint(full * smallest / sizes[labels])
    return votes


def predict_votes(counts: Array, votes: Array) -> Array:
    """Predicted class of every sample (``int64``): ``argmax_c sum_i counts[i] * votes[c, i]``,
    ties to the lowest class, in exact integers (what the board computes)."""
    counts = np.atleast_2d(np.asarray(counts, dtype=np.int64))
    scores = counts @ np.asarray(votes, dtype=np.int64).T
    return np.argmax(scores, axis=1).astype(np.int64)
