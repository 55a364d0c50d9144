"""The seam between a layer's timestep and a learning rule.

A network is a list of layers plus one rule (:class:`Rule`).  The loops over a sample know
nothing of any rule's details: they step the layer and call the rule's hooks.

- :meth:`Rule.learner` gives the per-sample state of the literal loop, a :class:`Learner`:
  :meth:`Learner.step` runs after the layer's step at every timestep (the rule's part of
  the timestep: for STDP, steps 7-8 of ``docs/numerics.md``, traces and the scheduled
  weight updates).
- :meth:`Rule.event_learner` gives the same for the event-driven loop (:mod:`.events`), an
  :class:`EventLearner`, or ``None`` when the rule has no event-driven form for the
  configuration (then the literal loop runs).
- :meth:`Rule.end_sample` runs after the last timestep (for STDP, step 9, the weight
  normalization).

:class:`NoLearning` (``"none"``) is inference: every hook does nothing, the weights and
thresholds stay frozen.  STDP is :class:`.stdp.Stdp`.
"""

from __future__ import annotations

from typing import Any

from .layer import Layer
from .lfsr import SampleStates

__all__ = ["Rule", "Learner", "EventLearner", "NoLearning", "NO_LEARNING"]

Array = Any


class Learner:
    """A rule's per-sample state in the literal loop (this base learns nothing)."""

    def step(self, t: int, pre: Array, post: Array) -> None:
        """After the layer's step at timestep ``t``: ``pre`` are the layer's input spikes
        and ``post`` its output spikes at ``t``."""


class EventLearner:
    """A rule's per-sample state in the event-driven loop (:func:`.events.run_events`).

    That loop advances in windows of timesteps that end at the layer's next output spike.
    A rule fits it when, between two output spikes, the weights change only as a function
    of the input spikes, which are known in advance.  This base changes nothing.
    """

    def window(self, t: int, stop: int, current: Array) -> None:
        """A window ``t .. stop - 1`` begins; ``current[k]`` is the synaptic current of
        timestep ``t + k`` computed with the weights as they are at ``t``.  Correct it, in
        place, for the weight changes this rule makes at the window's timesteps if no output
        spike comes (each timestep's current uses the weights of its start)."""

    def commit(self, done: int) -> None:
        """The window's first ``done`` timesteps had no output spike: apply their weight
        changes."""

    def spike(self, t: int, spikes: Array, fired: Array) -> None:
        """Timestep ``t`` (the one after the committed ones) has output ``spikes`` (the
        indices of the neurons that fired: ``fired``): apply its weight changes."""


class Rule:
    """A learning rule: hooks for the loops, and whether it learns at all."""

    #: The rule's name (``"none"``, ``"stdp"``, ...).
    name = "none"
    #: Whether the rule changes anything; the adaptive thresholds follow it (step 6).
    learns = False

    def learner(self, layer: Layer, states: SampleStates) -> Learner:
        """Per-sample state of the literal loop for ``layer``; ``states`` are the sample's
        generator states (for stochastic rounding)."""
        return Learner()

    def event_learner(self, layer: Layer, states: SampleStates,
                      in_spikes: Array) -> EventLearner | None:
        """Per-sample state of the event-driven loop for ``layer`` whose input spikes for
        the whole sample are ``in_spikes`` ``(timesteps, n_inputs)``; ``None`` when the
        rule has no event-driven form for this configuration."""
        return EventLearner()

    def end_sample(self, layer: Layer, states: SampleStates) -> None:
        """After the last timestep of a sample."""


class NoLearning(Rule):
    """Inference: weights and thresholds frozen (``run_sample(learn=False)``, or
    ``stdp.learn = false``)."""


#: The one :class:`NoLearning` rule.
NO_LEARNING = NoLearning()
