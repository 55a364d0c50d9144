"""The network: rate-coded inputs, LIF neurons with lateral inhibition, on-line STDP.

:class:`Network` holds the learned state (weights and adaptive thresholds) and runs samples:
:meth:`Network.run_sample` one at a time with learning on or off (this is what the RTL core
does), :meth:`Network.run_batch` many at once with learning off (inference, vectorized over
samples; bit-identical to running them one by one).  The timestep is :meth:`Network.step`'s
fixed order, ``docs/numerics.md`` section "One timestep".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..config import CoreConfig
from .arith import Arithmetic, FloatArithmetic, IntegerArithmetic
from .encoder import rate_threshold, rounding_bits, spikes_from_states
from .lfsr import STREAM_INPUT, STREAM_NEURON, base_states, jump_table, start_states, step
from .neuron import adapt_threshold, inhibition, lif_step
from .stdp import normalize, stdp_update, trace_step

__all__ = ["Network", "SampleResult", "initial_weights", "WEIGHT_INIT_STREAM"]

Array = Any

#: numpy seed stream for the initial weights (``default_rng([seed, WEIGHT_INIT_STREAM])``).
WEIGHT_INIT_STREAM = 0x5EED


def initial_weights(core: CoreConfig) -> Array:
    """Initial weights ``w[j, i]``, uniform integers in ``[0, w_init_max]`` (``int64``)."""
    rng = np.random.default_rng([core.seed, WEIGHT_INIT_STREAM])
    shape = (core.n_inputs, core.n_neurons)
    return rng.integers(0, core.stdp.w_init_max, size=shape, endpoint=True, dtype=np.int64)


@dataclass
class SampleResult:
    """What one sample produced.

    Members
    -------
    counts : (n_neurons,) int64
        Output spikes per neuron over the sample.
    input_spikes : (timesteps,) int64
        Input spikes per timestep.
    raster : (timesteps, n_neurons) bool or None
        Output spikes per timestep (``record=True``).
    input_raster : (timesteps, n_inputs) bool or None
        Input spikes per timestep (``record=True``).
    """

    counts: Array
    input_spikes: Array
    raster: Array | None = None
    input_raster: Array | None = None


class Network:
    """Learned state plus the step order.

    Parameters
    ----------
    core : CoreConfig
    arithmetic : "integer" (the fixed-point specification) or "float" (float64 reference)
    weights : (n_inputs, n_neurons) array, default :func:`initial_weights`
    theta : (n_neurons,) array of adaptive thresholds, default zeros
    """

    def __init__(self, core: CoreConfig, arithmetic: Literal["integer", "float"] = "integer",
                 weights: Array | None = None, theta: Array | None = None):
        policies: dict[str, Callable[[CoreConfig], Arithmetic]] = {
            "integer": IntegerArithmetic, "float": FloatArithmetic}
        if arithmetic not in policies:
            raise ValueError(f"arithmetic must be 'integer' or 'float', got {arithmetic!r}")
        self.core = core
        self.num = policies[arithmetic](core)
        dtype = self.num.dtype
        shape = (core.n_inputs, core.n_neurons)
        w = initial_weights(core) if weights is None else np.asarray(weights)
        if w.shape != shape:
            raise ValueError(f"weights have shape {w.shape}, the config needs {shape}")
        if w.min(initial=0) < 0 or w.max(initial=0) > core.derived.w_max:
            raise ValueError(f"weights must lie in 0..{core.derived.w_max} "
                             f"({core.widths.weight}-bit), got {w.min()}..{w.max()}")
        self.weights = w.astype(dtype, copy=True)
        th = np.zeros(core.n_neurons) if theta is None else np.asarray(theta)
        if th.shape != (core.n_neurons,):
            raise ValueError(f"theta has shape {th.shape}, the config needs "
                             f"({core.n_neurons},)")
        if arithmetic == "integer" and (th.min(initial=0) < 0
                                        or th.max(initial=0) > core.derived.theta_max):
            raise ValueError(f"theta must lie in 0..{core.derived.theta_max}")
        self.theta = th.astype(dtype, copy=True)
        self.input_base = base_states(core.seed, STREAM_INPUT, core.n_inputs)
        self.neuron_base = base_states(core.seed, STREAM_NEURON, core.n_neurons)

    # -- one sample, learning on or off (the order the RTL follows) ------------------------

    def run_sample(self, sample: Array, key: int, learn: bool = True,
                   record: bool = False) -> SampleResult:
        """Run one sample of ``timesteps`` timesteps from the per-sample reset state.

        ``sample`` is a pixel vector ``(n_inputs,)`` for the rate encoder or a spike raster
        ``(timesteps, n_inputs)`` for direct input.  ``key`` reseeds every generator.  With
        ``learn`` the weights, thresholds and normalization are updated (``stdp.learn`` must
        be on).
        """
        core, num = self.core, self.num
        T, n_in, n_out = core.timesteps, core.n_inputs, core.n_neurons
        learn = learn and core.stdp.learn
        table = jump_table(T)
        in_states = table.run(start_states(self.input_base, key))          # (T, n_in)
        in_spikes = self._input_raster(sample, in_states)
        stochastic = learn and num.stochastic
        in_hi = rounding_bits(in_states) if stochastic else None
        neuron_hi = (rounding_bits(table.run(start_states(self.neuron_base, key)))
                     if stochastic else None)
        U = core.stdp.update_every

        v = np.full(n_out, core.neuron.v_rest, dtype=num.dtype)
        refractory = np.zeros(n_out, np.int64)
        x_pre = np.zeros(n_in, num.dtype)
        x_post = np.zeros(n_out, num.dtype)
        spikes = np.zeros(n_out, bool)
        pre_seen = np.zeros(n_in, bool)
        post_seen = np.zeros(n_out, bool)
        counts = np.zeros(n_out, np.int64)
        raster = np.zeros((T, n_out), bool) if record else None
        w = self.weights
        active_rows = [np.flatnonzero(row) for row in in_spikes]

        for t in range(T):
            s = in_spikes[t]
            # 3. current from this timestep's input spikes, weights as they are now
            current = w[active_rows[t]].sum(axis=0)
            # 4. inhibition from the other neurons' spikes at t-1
            inhib = inhibition(num, spikes)
            # 5. membrane, threshold, reset, refractory
            v, refractory, spikes = lif_step(num, v, refractory, self.theta, current, inhib)
            counts += spikes
            if raster is not None:
                raster[t] = spikes
            # 6. adaptive threshold (learning only)
            if learn:
                self.theta = adapt_threshold(num, self.theta, spikes)
            # 7. traces: decay, then bump with this timestep's spikes
            x_pre = trace_step(num, x_pre, s, core.stdp.tau_pre_shift)
            x_post = trace_step(num, x_post, spikes, core.stdp.tau_post_shift)
            # 8. STDP on the events of this timestep (or of the last U timesteps)
            if learn:
                if U == 1:
                    pre, post = s, spikes
                else:
                    pre_seen |= s
                    post_seen |= spikes
                    if (t + 1) % U and t != T - 1:
                        continue
                    pre, post = pre_seen, post_seen
                stdp_update(num, w, x_pre, x_post, pre, post,
                            None if in_hi is None else in_hi[t],
                            None if neuron_hi is None else neuron_hi[t])
                if U != 1:
                    pre_seen = np.zeros(n_in, bool)
                    post_seen = np.zeros(n_out, bool)
        # 9. per-sample weight normalization (learning only)
        if learn:
            self.weights = normalize(num, w)
        return SampleResult(counts, in_spikes.sum(axis=1), raster,
                            in_spikes if record else None)

    def _input_raster(self, sample: Array, in_states: Array) -> Array:
        core = self.core
        if core.encoder.kind == "rate":
            sample = np.asarray(sample)
            if sample.shape != (core.n_inputs,):
                raise ValueError(f"a rate-coded sample has shape ({core.n_inputs},), "
                                 f"got {sample.shape}")
            return spikes_from_states(rate_threshold(core, sample), in_states)
        raster = np.asarray(sample, dtype=bool)
        if raster.shape != (core.timesteps, core.n_inputs):
            raise ValueError(f"a direct-input sample has shape ({core.timesteps}, "
                             f"{core.n_inputs}), got {raster.shape}")
        return raster

    # -- many samples at once, learning off ------------------------------------------------

    def run_batch(self, samples: Array, keys: Array,
                  progress: Callable[[int], None] | None = None,
                  chunk: int = 1024) -> Array:
        """Spike counts ``(B, n_neurons)`` of ``B`` samples with learning off.

        Bit-identical to ``run_sample(samples[b], keys[b], learn=False).counts`` for every
        ``b``; vectorized over samples (the synaptic current is one matrix product per
        timestep, exact in float64 because every sum stays below 2**53).
        """
        samples = np.asarray(samples)
        keys = np.asarray(keys)
        if len(samples) != len(keys):
            raise ValueError(f"{len(samples)} samples but {len(keys)} keys")
        out = np.zeros((len(samples), self.core.n_neurons), np.int64)
        for lo in range(0, len(samples), chunk):
            hi = min(lo + chunk, len(samples))
            out[lo:hi] = self._run_chunk(samples[lo:hi], keys[lo:hi])
            if progress is not None:
                progress(hi - lo)
        return out

    def _run_chunk(self, samples: Array, keys: Array) -> Array:
        core, num = self.core, self.num
        B, n_out = len(samples), core.n_neurons
        states = start_states(self.input_base, keys)                     # (B, n_in)
        direct = core.encoder.kind == "direct"
        if direct:
            if samples.shape[1:] != (core.timesteps, core.n_inputs):
                raise ValueError(f"direct-input samples have shape (B, {core.timesteps}, "
                                 f"{core.n_inputs}), got {samples.shape}")
        else:
            if samples.shape[1:] != (core.n_inputs,):
                raise ValueError(f"rate-coded samples have shape (B, {core.n_inputs}), "
                                 f"got {samples.shape}")
            threshold = rate_threshold(core, samples)
        w = self.weights.astype(np.float64)
        v = np.full((B, n_out), core.neuron.v_rest, dtype=num.dtype)
        refractory = np.zeros((B, n_out), np.int64)
        spikes = np.zeros((B, n_out), bool)
        counts = np.zeros((B, n_out), np.int64)
        theta = self.theta[None, :]
        for t in range(core.timesteps):
            states = step(states)
            s = samples[:, t] if direct else spikes_from_states(threshold, states)
            current = s.astype(np.float64) @ w
            if num.dtype == np.int64:
                current = current.astype(np.int64)
            inhib = inhibition(num, spikes)
            v, refractory, spikes = lif_step(num, v, refractory, theta, current, inhib)
            counts += spikes
        return counts
