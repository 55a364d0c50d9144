"""The event-driven loop: a layer's timesteps over a sample, organised around output spikes.

:func:`run_events` gives the same result as stepping the layer (:meth:`.layer.Layer.step`)
and calling the rule's hooks at every timestep; tests hold the two equal bit for bit on
random configurations.  It is faster because between two output spikes the neurons only
integrate, and a rule whose weight changes between output spikes depend only on the input
spikes (:class:`.rule.EventLearner`) can tell ahead of time what the weights will be:

- the synaptic currents of a window of :data:`WINDOW` timesteps are one matrix product
  (exact in float64) with the weights at its start, which the rule corrects for its own
  changes inside the window (:meth:`.rule.EventLearner.window`);
- the membranes are integrated ahead to the next threshold crossing (:func:`integrate_ahead`,
  checked every :data:`CHUNK` timesteps), and :func:`.neuron.lif_step` runs only at the
  crossing;
- the window ends at the first timestep with an output spike; the rule commits the changes
  of the timesteps before it and applies that timestep's (:meth:`.rule.EventLearner.commit`,
  :meth:`.rule.EventLearner.spike`), and a new window starts after it.

Integer arithmetic only (the window's matrix product adds in another order than step 3).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .layer import Layer
from .neuron import adapt_threshold, inhibition, integrate, lif_step
from .rule import EventLearner

__all__ = ["WINDOW", "CHUNK", "run_events", "integrate_ahead"]

Array = Any

#: Timesteps whose currents are computed at once (a window ends early at an output spike).
WINDOW = 32
#: Timesteps the membranes are integrated between checks for a threshold crossing.
CHUNK = 6


def run_events(layer: Layer, in_spikes: Array, learner: EventLearner, learn: bool,
               record: bool) -> tuple[Array, Array | None]:
    """Run ``layer`` over a sample's input spikes ``(timesteps, n_inputs)`` from the
    per-sample reset state; ``learner`` is the rule's, ``learn`` turns the adaptive
    thresholds on.  Returns the spike counts and (``record``) the output raster."""
    core, num = layer.core, layer.num
    T, n_out = in_spikes.shape[0], core.n_neurons
    in_float = in_spikes.astype(np.float64)
    v: Array = np.full(n_out, core.neuron.v_rest, dtype=num.dtype)
    refractory: Array | None = None
    refractory_until = -1
    spikes = np.zeros(n_out, bool)
    fired: Array = np.empty(0, np.int64)
    counts = np.zeros(n_out, np.int64)
    raster = np.zeros((T, n_out), bool) if record else None
    decaying_theta = learn and core.neuron.theta_decay_shift > 0

    t = 0
    while t < T:
        stop = min(t + WINDOW, T)
        # 3. currents of the window, weights as they are at its start, corrected by the rule
        current = in_float[t:stop] @ layer.weights.astype(np.float64)
        if num.dtype == np.int64:
            current = current.astype(np.int64)
        current = num.synaptic_current(current)
        learner.window(t, stop, current)
        k, K = 0, stop - t
        while k < K:
            tt = t + k
            # 4. inhibition (zero unless some neuron spiked at tt-1)
            inhib = inhibition(num, spikes) if len(fired) else None
            if tt > refractory_until:
                refractory = None       # nobody can be refractory
            if not decaying_theta:
                # Until the next threshold crossing the neurons only integrate (or hold,
                # while refractory), so integrate ahead and find that timestep.
                ahead, crossing = integrate_ahead(
                    layer, v, current[k:], core.neuron.v_th + layer.theta, refractory, inhib)
                held = K - k if crossing is None else crossing
                if refractory is not None and held:
                    refractory = np.maximum(refractory - held, 0)
                if crossing is None:
                    v, k, fired = ahead[-1], K, fired[:0]
                    break
                if crossing:
                    v, inhib = ahead[crossing - 1], None
                k += crossing
                tt = t + k
                if tt > refractory_until:
                    refractory = None
            # 5. neuron
            v, refractory, spikes = lif_step(num, v, refractory, layer.theta, current[k], inhib)
            fired = spikes.nonzero()[0] if refractory is not None else fired[:0]
            # 6. adaptive threshold (decays every timestep when enabled)
            if learn and (len(fired) or decaying_theta):
                layer.theta = adapt_threshold(num, layer.theta, spikes)
            if len(fired):
                break
            k += 1
        # the rule's changes up to the last timestep without a spike, then the spike's
        learner.commit(k if len(fired) else K)
        if len(fired):
            counts[fired] += 1
            refractory_until = tt + core.neuron.t_ref
            if raster is not None:
                raster[tt, fired] = True
            learner.spike(tt, spikes, fired)
        t = t + k + 1 if len(fired) else stop
    return counts, raster


def integrate_ahead(layer: Layer, v: Array, currents: Array, threshold: Array,
                    refractory: Array | None,
                    inhib: Array | None) -> tuple[Array, int | None]:
    """Membranes of timesteps without spikes, up to the first timestep at which some
    neuron reaches its threshold (checked every :data:`CHUNK` timesteps); returns them
    and that timestep (``None``: never).

    Each timestep is :func:`.neuron.integrate` of the given current, with ``inhib`` (or
    ``None``) at the first timestep only; a neuron with ``refractory`` count ``r``
    (``None``: nobody) holds its membrane and cannot spike for ``r`` timesteps, as in
    :func:`.neuron.lif_step`.
    """
    num = layer.num
    ahead = np.empty(currents.shape, dtype=v.dtype)
    held_for = 0 if refractory is None else min(int(refractory.max()), len(currents))
    hold = cast(Array, refractory) > np.arange(held_for)[:, None] if held_for else None
    for lo in range(0, len(currents), CHUNK):
        hi = min(lo + CHUNK, len(currents))
        # the first timestep (inhibition) and refractory ones one at a time, the rest
        # as a run
        k = lo
        while k < hi and (k < held_for or (k == 0 and inhib is not None)):
            if k == 0 and inhib is not None:
                ahead[0] = integrate(num, v, currents[0], inhib)
            else:
                num.integrate_into(v, currents[k], ahead[k])
            if k < held_for:
                np.copyto(ahead[k], v, where=cast(Array, hold)[k])
            v = ahead[k]
            k += 1
        if k < hi:
            v = num.integrate_run(v, currents[k:hi], ahead[k:hi])
        crossed = ahead[lo:hi] >= threshold
        if lo < held_for:
            crossed[:held_for - lo] &= ~cast(Array, hold)[lo:hi]
        hit = crossed.any(axis=1)
        if hit.any():
            return ahead, lo + int(hit.argmax())
    return ahead, None
