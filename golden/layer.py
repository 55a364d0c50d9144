"""One layer of LIF neurons and its timestep: steps 3-6 of ``docs/numerics.md``.

A :class:`Layer` holds what a layer keeps from sample to sample (its weights, its adaptive
thresholds, its arithmetic); a :class:`LayerState` what it keeps from timestep to timestep
within a sample (membranes, refractory counts, the previous timestep's spikes).
:meth:`Layer.step` is the timestep of the layer given its input spikes, in the order of
``docs/numerics.md`` "One timestep":

3. synaptic current from this timestep's input spikes, with the weights as they are now,
   plus the bias (or, with current input, the constant current of the pixels); with
   ``forward = "lut"`` the weight sum comes from tables of subset sums (:mod:`.lut`),
   the same sum;
4. lateral inhibition from the other neurons' spikes at ``t - 1``;
5. leak, integrate, fire, reset, refractory (:func:`.neuron.integrate`, :func:`.neuron.fire`);
6. adaptive threshold (learning only, :func:`.neuron.adapt_threshold`).

Every loop over a sample derives from it: the literal loop and the batch loop of
:mod:`.network` call it, the event-driven loop (:mod:`.events`) is held equal to it by
property tests.  What happens to the weights (traces, STDP) is the learning rule's
(:mod:`.rule`), not the layer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import CoreConfig
from .arith import Arithmetic
from .lut import LutForward
from .neuron import adapt_threshold, fire, inhibition, integrate

__all__ = ["Layer", "LayerState"]

Array = Any


@dataclass
class LayerState:
    """A layer's per-sample state; arrays have the neurons on the last axis (and samples on
    the first when a batch runs at once).

    Members
    -------
    v : membranes (signed ``widths.membrane`` bits)
    refractory : remaining refractory timesteps (``None``: all zero)
    spikes : the neurons' spikes at the previous timestep (bool; none at ``t = 0``)
    integrated : the membranes before the previous timestep's threshold test (step 5;
        ``None`` before the first), which the BPTT trainer's surrogate derivative reads
    """

    v: Array
    refractory: Array | None
    spikes: Array
    integrated: Array | None = None


class Layer:
    """A layer's weights, adaptive thresholds and neuron parameters.

    Parameters
    ----------
    core : CoreConfig
        The layer's sizes (``n_inputs``, ``n_neurons``), widths and neuron parameters.
    num : Arithmetic
        Integer specification or float64 reference.
    weights : (n_inputs, n_neurons) array
        ``w[j, i]`` from input ``j`` to neuron ``i``, in ``w_min .. w_max``.
    theta : (n_neurons,) array, default zeros
        Adaptive thresholds, in ``0 .. theta_max`` (integer arithmetic).
    bias : (n_neurons,) array, default zeros
        Constant current per neuron in membrane LSBs, in ``bias_min .. bias_max`` (only
        zeros without ``widths.bias``).

    Members
    -------
    weights, theta : arrays of ``num.dtype``
        Replaced or updated in place by the learning rule; a loop reads them afresh at
        every timestep (step 3 uses the weights as they are at its start).
    bias : array of ``num.dtype``, or ``None`` when the layer has none (all zero)
    """

    def __init__(self, core: CoreConfig, num: Arithmetic, weights: Array,
                 theta: Array | None = None, bias: Array | None = None):
        self.core = core
        self.num = num
        d = core.derived
        shape = (core.n_inputs, core.n_neurons)
        w = np.asarray(weights)
        if w.shape != shape:
            raise ValueError(f"weights have shape {w.shape}, the config needs {shape}")
        if w.min(initial=0) < d.w_min or w.max(initial=0) > d.w_max:
            raise ValueError(f"weights must lie in {d.w_min}..{d.w_max} "
                             f"({core.widths.weight}-bit), got {w.min()}..{w.max()}")
        b = np.zeros(core.n_neurons, np.int64) if bias is None else np.asarray(bias)
        if b.shape != (core.n_neurons,):
            raise ValueError(f"bias has shape {b.shape}, the config needs ({core.n_neurons},)")
        if b.min(initial=0) < d.bias_min or b.max(initial=0) > d.bias_max:
            raise ValueError(f"bias must lie in {d.bias_min}..{d.bias_max} (widths.bias = "
                             f"{core.widths.bias}), got {b.min()}..{b.max()}")
        th = np.zeros(core.n_neurons) if theta is None else np.asarray(theta)
        if th.shape != (core.n_neurons,):
            raise ValueError(f"theta has shape {th.shape}, the config needs "
                             f"({core.n_neurons},)")
        if num.dtype == np.int64 and (th.min(initial=0) < 0
                                      or th.max(initial=0) > core.derived.theta_max):
            raise ValueError(f"theta must lie in 0..{core.derived.theta_max}")
        self.weights: Array = w.astype(num.dtype, copy=True)
        self.theta: Array = th.astype(num.dtype, copy=True)
        self.bias: Array | None = b.astype(num.dtype) if b.any() else None
        self.lut: LutForward | None = LutForward(core) if core.forward == "lut" else None

    @property
    def plain(self) -> bool:
        """Whether the synaptic current is non-negative spikes times unsigned weights, with
        no bias, accumulated: what the event-driven loop (:mod:`.events`) assumes (a LUT
        layer runs the literal loop, through its tables)."""
        return (not self.core.widths.weight_signed and self.bias is None
                and self.core.encoder.kind != "current" and self.lut is None)

    def reset(self, batch: int | None = None) -> LayerState:
        """The state at the start of a sample (``batch``: of that many samples at once):
        ``v = v_rest``, ``r = 0``, no previous spikes."""
        shape = (self.core.n_neurons,) if batch is None else (batch, self.core.n_neurons)
        return LayerState(np.full(shape, self.core.neuron.v_rest, dtype=self.num.dtype),
                          np.zeros(shape, np.int64), np.zeros(shape, bool))

    def current(self, spikes: Array, weights: Array | None = None) -> Array:
        """Step 3, the synaptic current ``2**current_shift * sum_j s[j] * w[j, i] + b[i]``,
        exact.

        ``spikes`` is ``(n_inputs,)`` or a batch ``(B, n_inputs)`` of bools, or with current
        input pixels (integers; :meth:`pixel_current` computes their constant current once
        per sample).  A batch is one float64 matrix product, exact for integer weights
        (every sum stays below ``2**53``); ``weights`` may give the layer's weights already
        converted to float64 (the batch loop converts them once per batch).  With
        ``forward = "lut"`` spikes sum through the tables (:class:`.lut.LutForward`, built
        from the layer's weights), exact as well.
        """
        num = self.num
        if self.lut is not None and spikes.dtype == bool:
            total = self.lut.weight_sum(self.weights if weights is None else weights, spikes)
            if num.dtype == np.int64:
                total = total.astype(np.int64)
        elif spikes.ndim == 1 and weights is None and spikes.dtype == bool:
            total = self.weights[spikes].sum(axis=0)
        else:
            w = self.weights.astype(np.float64) if weights is None else weights
            total = spikes.astype(np.float64) @ w
            if num.dtype == np.int64:
                total = total.astype(np.int64)
        current = num.synaptic_current(total)
        return current if self.bias is None else current + self.bias

    def pixel_current(self, pixels: Array, weights: Array | None = None) -> Array:
        """The constant current of current input (``encoder.kind = "current"``):
        :meth:`current` of the pixel values ``(n_inputs,)`` or ``(B, n_inputs)``, the same at
        every timestep of the sample."""
        pixels = np.asarray(pixels)
        if pixels.shape[-1:] != (self.core.n_inputs,):
            raise ValueError(f"pixels have shape {pixels.shape}, the config needs "
                             f"(..., {self.core.n_inputs})")
        return self.current(pixels.astype(np.int64), weights)

    def respond(self, state: LayerState, current: Array, learn: bool) -> Array:
        """Steps 4-6 given the synaptic current: inhibition, the neuron, the adaptive
        threshold (only when ``learn``).  Updates ``state`` and returns the spikes."""
        num = self.num
        inhib = inhibition(num, state.spikes)
        integrated = integrate(num, state.v, current, inhib)
        v, refractory, spikes = fire(num, state.v, integrated, state.refractory, self.theta)
        if not self.core.neuron.t_ref:
            refractory = None           # a spike's count is t_ref = 0: nobody is refractory
        state.integrated = integrated
        if learn:
            self.theta = adapt_threshold(num, self.theta, spikes)
        state.v, state.refractory, state.spikes = v, refractory, spikes
        return spikes

    def step(self, state: LayerState, spikes: Array, learn: bool,
             weights: Array | None = None) -> Array:
        """One timestep of the layer (steps 3-6) for input ``spikes``; returns its spikes.

        ``weights``: see :meth:`current`.
        """
        return self.respond(state, self.current(spikes, weights), learn)
