"""Leaky integrate-and-fire neuron with adaptive threshold (golden model of ``LIFNeuronUnit``).

One call updates every neuron of an array (any shape) by one timestep, steps 4-6 of
``docs/numerics.md``.  Integer policy: ``int64`` arrays, exact, saturating.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import numpy as np

from .arith import Arithmetic

__all__ = ["LifResult", "integrate", "fire", "lif_step", "adapt_threshold", "inhibition"]

Array = Any


class LifResult(NamedTuple):
    """New membrane, new refractory count (``None``: all zero) and the spike flags."""

    v: Array
    refractory: Array | None
    spike: Array


def inhibition(num: Arithmetic, prev_spikes: Array) -> Array:
    """Direct lateral inhibition: ``w_inh * (spikes of the others at t-1)``.

    ``prev_spikes`` is boolean with neurons on the last axis; the count is exact.  Without
    inhibition (``w_inh = 0``) it is a zero scalar, which broadcasts.
    """
    w_inh = num.core.neuron.w_inh
    if not w_inh:
        return num.dtype(0)
    others = prev_spikes.sum(axis=-1, keepdims=True) - prev_spikes
    return (w_inh * others).astype(num.dtype)


def integrate(num: Arithmetic, v: Array, current: Array, inhib: Array | None = None) -> Array:
    """The membrane of a non-refractory neuron before the threshold test (step 5):
    ``sat(v_rest + leak(v - v_rest) + current - inhib)``, summed exactly, saturated once."""
    if inhib is None:       # leaked >= v_min and current >= 0 (the event-driven loop's
        # plain layers: unsigned weights, no bias): only the upper rail
        return num.membrane(num.leaked(v) + current, below=False)
    return num.membrane(num.leaked(v) + current - inhib)


def lif_step(num: Arithmetic, v: Array, refractory: Array | None, theta: Array,
             current: Array, inhib: Array | None = None) -> LifResult:
    """One timestep of the LIF neuron.

    Parameters
    ----------
    v : membrane (signed ``membrane`` bits)
    refractory : remaining refractory timesteps (``refractory_bits``); ``None`` when no
        neuron is refractory (all counts zero)
    theta : adaptive threshold (unsigned ``theta`` bits)
    current : exact synaptic current ``2**current_shift * sum_j s_j w_ij + b_i`` in membrane
        LSBs (``current_bits``; signed with signed weights or a bias)
    inhib : exact lateral inhibition (unsigned ``inhibition_bits``); ``None`` for none

    Returns
    -------
    LifResult
        A refractory neuron (``refractory > 0``) counts down, keeps ``v`` and cannot spike.
        Otherwise ``v' = sat(v_rest + leak(v - v_rest) + current - inhib)``; it spikes when
        ``v' >= v_th + theta``, and then ``v'`` becomes ``v_reset`` (or ``sat(v' - (v_th +
        theta))``) and the refractory count ``t_ref``.  ``refractory`` comes back ``None``
        when it went in ``None`` and no neuron spiked.
    """
    return fire(num, v, integrate(num, v, current, inhib), refractory, theta)


def fire(num: Arithmetic, v: Array, integrated: Array, refractory: Array | None,
         theta: Array) -> LifResult:
    """The rest of :func:`lif_step` given the membrane before the threshold test
    (``integrated``, from :func:`integrate`): threshold test, reset, refractory count."""
    n = num.core.neuron
    threshold = n.v_th + theta
    spike = integrated >= threshold
    if refractory is None:
        if not np.count_nonzero(spike):
            return LifResult(integrated, None, spike)
        active = None
    else:
        active = refractory == 0
        spike &= active
    if n.reset_mode == "to_reset":
        fired = n.v_reset
    else:
        fired = num.membrane(integrated - (n.reset_amount or threshold))
    v_new = np.where(spike, fired, integrated)
    if active is None:
        return LifResult(v_new, np.where(spike, n.t_ref, 0), spike)
    v_new = np.where(active, v_new, v)
    r_new = np.where(spike, n.t_ref, np.maximum(cast(Array, refractory) - 1, 0))
    return LifResult(v_new, r_new, spike)


def adapt_threshold(num: Arithmetic, theta: Array, spike: Array) -> Array:
    """Adaptive threshold while learning: decay (if enabled), then ``+theta_plus`` on spike."""
    n = num.core.neuron
    if n.theta_decay_shift:
        theta = num.decay_unsigned(theta, n.theta_decay_shift)
    if n.theta_plus:
        theta = num.theta(theta + n.theta_plus * spike)
    return theta
