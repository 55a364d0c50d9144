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
from typing import Any, Literal, cast

import numpy as np

from ..config import CoreConfig
from .arith import Arithmetic, FloatArithmetic, IntegerArithmetic
from .encoder import rate_threshold, rounding_bits, spikes_from_states
from .lfsr import STREAM_INPUT, STREAM_NEURON, base_states, jump_table, start_states, step
from .neuron import adapt_threshold, inhibition, integrate, lif_step
from .stdp import (
    depression,
    normalization_draws,
    normalize,
    stdp_update,
    trace_decay_table,
    trace_step,
)

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

    Members
    -------
    WINDOW : int
        Timesteps whose currents the event-driven loop computes at once (the window ends
        early at an output spike).
    CHUNK : int
        Timesteps the membrane is integrated between checks for a threshold crossing.

    Parameters
    ----------
    core : CoreConfig
    arithmetic : "integer" (the fixed-point specification) or "float" (float64 reference)
    weights : (n_inputs, n_neurons) array, default :func:`initial_weights`
    theta : (n_neurons,) array of adaptive thresholds, default zeros
    """

    WINDOW = 32
    CHUNK = 6

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
        self.weights: Array = w.astype(dtype, copy=True)
        th = np.zeros(core.n_neurons) if theta is None else np.asarray(theta)
        if th.shape != (core.n_neurons,):
            raise ValueError(f"theta has shape {th.shape}, the config needs "
                             f"({core.n_neurons},)")
        if arithmetic == "integer" and (th.min(initial=0) < 0
                                        or th.max(initial=0) > core.derived.theta_max):
            raise ValueError(f"theta must lie in 0..{core.derived.theta_max}")
        self.theta: Array = th.astype(dtype, copy=True)
        self.input_base = base_states(core.seed, STREAM_INPUT, core.n_inputs)
        self.neuron_base = base_states(core.seed, STREAM_NEURON, core.n_neurons)
        self._tables: tuple[Array, Array] | None = None

    # -- one sample, learning on or off (the order the RTL follows) ------------------------

    def run_sample(self, sample: Array, key: int, learn: bool = True,
                   record: bool = False) -> SampleResult:
        """Run one sample of ``timesteps`` timesteps from the per-sample reset state.

        ``sample`` is a pixel vector ``(n_inputs,)`` for the rate encoder or a spike raster
        ``(timesteps, n_inputs)`` for direct input.  ``key`` reseeds every generator.  With
        ``learn`` the weights, thresholds and normalization are updated (``stdp.learn`` must
        be on).

        Two loops implement the same timestep: :meth:`_run_stepwise` follows
        ``docs/numerics.md`` literally and handles every configuration; :meth:`_run_events`
        (integer arithmetic, ``trace_mode = "set"``, ``update_every = 1``, no soft-bound
        depression: the default) is organised around output spikes and skips the work that
        is zero by definition, which makes training several times faster.  Tests hold the
        two to identical results.
        """
        core = self.core
        learn = learn and core.stdp.learn
        table = jump_table(core.timesteps)
        in_states = table.run(start_states(self.input_base, key))          # (T, n_in)
        in_spikes = self._input_raster(sample, in_states)
        st = core.stdp
        stochastic = learn and self.num.stochastic
        norm_draws = learn and st.norm > 0 and st.norm_rounding == "stochastic"
        neuron_states = (table.run(start_states(self.neuron_base, key))       # (T, n_out)
                         if stochastic or norm_draws else None)
        in_hi = rounding_bits(in_states) if stochastic else None
        neuron_hi = rounding_bits(neuron_states) if stochastic else None
        events = (self.num.dtype == np.int64 and st.trace_mode == "set"
                  and st.update_every == 1
                  and not (st.soft_bound and not st.potentiation_only))
        run = self._run_events if events else self._run_stepwise
        counts, raster = run(in_spikes, learn, in_hi, neuron_hi, record)
        # 9. per-sample weight normalization (learning only)
        if learn:
            draws = (normalization_draws(in_states[-1], cast(Array, neuron_states)[-1])
                     if norm_draws else None)
            self.weights = normalize(self.num, self.weights, draws)
        return SampleResult(counts, in_spikes.sum(axis=1), raster,
                            in_spikes if record else None)

    def _run_stepwise(self, in_spikes: Array, learn: bool, in_hi: Array | None,
                      neuron_hi: Array | None, record: bool) -> tuple[Array, Array | None]:
        """The timestep loop exactly as ``docs/numerics.md`` writes it (any configuration)."""
        core, num = self.core, self.num
        T, n_in, n_out = core.timesteps, core.n_inputs, core.n_neurons
        U = core.stdp.update_every
        v: Array = np.full(n_out, core.neuron.v_rest, dtype=num.dtype)
        refractory: Array | None = np.zeros(n_out, np.int64)
        x_pre: Array = np.zeros(n_in, num.dtype)
        x_post: Array = np.zeros(n_out, num.dtype)
        spikes = np.zeros(n_out, bool)
        pre_seen = np.zeros(n_in, bool)
        post_seen = np.zeros(n_out, bool)
        counts = np.zeros(n_out, np.int64)
        raster = np.zeros((T, n_out), bool) if record else None
        w = self.weights
        for t in range(T):
            s = in_spikes[t]
            # 3. current from this timestep's input spikes, weights as they are now
            current = num.synaptic_current(w[s].sum(axis=0))
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
                pre_seen |= s
                post_seen |= spikes
                if (t + 1) % U and t != T - 1:
                    continue
                stdp_update(num, w, x_pre, x_post, pre_seen, post_seen,
                            None if in_hi is None else in_hi[t],
                            None if neuron_hi is None else neuron_hi[t])
                pre_seen[:] = False
                post_seen[:] = False
        return counts, raster

    def _run_events(self, in_spikes: Array, learn: bool, in_hi: Array | None,
                    neuron_hi: Array | None, record: bool) -> tuple[Array, Array | None]:
        """The same timestep, organised around spikes (set-mode traces, ``update_every =
        1``, no soft-bound depression).

        Between two output spikes nothing changes the weights except depression, and that
        touches only the columns of neurons whose post trace is still non-zero ("live"
        columns).  So the loop advances in windows that end at the next output spike:

        - the synaptic currents of a whole window are one matrix product (exact in float64)
          with the weights at its start; live columns get their currents from the same
          weights minus the depression accumulated inside the window.  Depression decrements
          are non-negative and clip only at zero, so ``max(w - d1, 0) - d2`` clipped equals
          ``max(w - (d1 + d2), 0)`` and a cumulative sum over the window is exact;
        - the membrane then steps through the window (``lif_step``), stopping at the first
          output spike; the depression up to that timestep is committed, the spike's STDP
          update (:func:`stdp_update`) applied, and a new window starts;
        - a set-mode trace is ``decay^age(trace_max)``, read from a table built with the
          trace's own decay (:func:`trace_decay_table`); an input's age comes from a running
          maximum of its spike times;
        - between output spikes the membranes only integrate (inhibition at the first
          timestep after a spike, refractory neurons holding), so they are integrated
          ahead to the next threshold crossing (:meth:`_integrate_ahead`) and
          :func:`lif_step` runs only at the crossing.
        """
        core, num = self.core, self.num
        T, n_out = core.timesteps, core.n_neurons
        st = core.stdp
        shift = core.derived.stdp_shift
        pre_table, post_table = self._trace_tables()                      # (T + 2,) each
        never = T + 1                                                     # table[never] = 0
        post_life = int(np.count_nonzero(post_table))     # ages with a non-zero post trace
        steps = np.arange(T)
        # Latest spike time of each input at or before each timestep (-never: none yet).
        last_pre = np.maximum.accumulate(np.where(in_spikes, steps[:, None], -never), axis=0)
        last_post = np.full(n_out, -never, np.int64)
        in_float = in_spikes.astype(np.float64)
        v: Array = np.full(n_out, core.neuron.v_rest, dtype=num.dtype)
        refractory: Array | None = None
        refractory_until = -1
        spikes = np.zeros(n_out, bool)
        fired: Array = np.empty(0, np.int64)
        counts = np.zeros(n_out, np.int64)
        raster = np.zeros((T, n_out), bool) if record else None
        depress = learn and not st.potentiation_only
        decaying_theta = learn and core.neuron.theta_decay_shift > 0
        # Rounding addends per input and per neuron: offset(a ^ b) = offset(a) ^ offset(b).
        in_offset = neuron_offset = None
        if depress and in_hi is not None and neuron_hi is not None and num.stochastic:
            in_offset = num.rounding_offset(in_hi, shift)
            neuron_offset = num.rounding_offset(neuron_hi, shift)

        t = 0
        while t < T:
            stop = min(t + self.WINDOW, T)
            w = self.weights
            # 3. currents of the window, weights as they are at its start
            current = in_float[t:stop] @ w.astype(np.float64)
            if num.dtype == np.int64:
                current = current.astype(np.int64)
            current = num.synaptic_current(current)
            live = (np.flatnonzero(last_post > t - post_life) if depress
                    else np.empty(0, np.int64))
            if live.size:
                # only the rows of inputs that spike in the window see depression
                window_spikes = in_spikes[t:stop]
                rows = np.flatnonzero(window_spikes.any(axis=0))
                pre = window_spikes[:, rows, None]
                block = (rows[:, None], live)
                ages = np.minimum(steps[t:stop, None] - last_post[live], never)
                offset = None if in_offset is None else (
                    in_offset[t:stop, rows, None]
                    ^ cast(Array, neuron_offset)[t:stop, None, live])
                dep = depression(num, None, post_table[ages][:, None, :], None, offset)
                dep = dep * pre                                   # pre events only
                before = np.cumsum(dep, axis=0) - dep             # depression before step
                w_live = np.maximum(w[block] - before, 0)         # (K, rows, m)
                current[:, live] = num.synaptic_current((w_live * pre).sum(axis=1))
            k, K = 0, stop - t
            while k < K:
                tt = t + k
                # 4. inhibition (zero unless some neuron spiked at tt-1)
                inhib = inhibition(num, spikes) if len(fired) else None
                if tt > refractory_until:
                    refractory = None       # nobody can be refractory
                if not decaying_theta:
                    # Until the next threshold crossing the neurons only integrate (or
                    # hold, while refractory), so integrate ahead and find that timestep.
                    ahead, crossing = self._integrate_ahead(
                        v, current[k:], core.neuron.v_th + self.theta, refractory, inhib)
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
                v, refractory, spikes = lif_step(num, v, refractory, self.theta,
                                                 current[k], inhib)
                fired = spikes.nonzero()[0] if refractory is not None else fired[:0]
                # 6. adaptive threshold (decays every timestep when enabled)
                if learn and (len(fired) or decaying_theta):
                    self.theta = adapt_threshold(num, self.theta, spikes)
                if len(fired):
                    break
                k += 1
            # Commit the window's depression up to the last timestep without a spike.
            if live.size:
                done = k if len(fired) else K
                if done:
                    w[block] = np.maximum(w[block] - before[done - 1] - dep[done - 1], 0)
            if len(fired):
                counts[fired] += 1
                refractory_until = tt + core.neuron.t_ref
                if raster is not None:
                    raster[tt, fired] = True
                # 7. traces (bump) and 8. STDP of the spike's timestep
                last_post[fired] = tt
                if learn:
                    x_pre = pre_table[np.minimum(tt - last_pre[tt], never)]
                    x_post = post_table[np.minimum(tt - last_post, never)]
                    stdp_update(num, w, x_pre, x_post, in_spikes[tt], spikes,
                                None if in_hi is None else in_hi[tt],
                                None if neuron_hi is None else neuron_hi[tt])
            t = t + k + 1 if len(fired) else stop
        return counts, raster

    def _integrate_ahead(self, v: Array, currents: Array, threshold: Array,
                         refractory: Array | None,
                         inhib: Array | None) -> tuple[Array, int | None]:
        """Membranes of timesteps without spikes, up to the first timestep at which some
        neuron reaches its threshold (checked every :attr:`CHUNK` timesteps); returns them
        and that timestep (``None``: never).

        Each timestep is :func:`.neuron.integrate` of the given current, with ``inhib`` (or
        ``None``) at the first timestep only; a neuron with ``refractory`` count ``r``
        (``None``: nobody) holds its membrane and cannot spike for ``r`` timesteps, as in
        :func:`.neuron.lif_step`.
        """
        num = self.num
        ahead = np.empty(currents.shape, dtype=v.dtype)
        held_for = 0 if refractory is None else min(int(refractory.max()), len(currents))
        hold = cast(Array, refractory) > np.arange(held_for)[:, None] if held_for else None
        for lo in range(0, len(currents), self.CHUNK):
            hi = min(lo + self.CHUNK, len(currents))
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

    def _trace_tables(self) -> tuple[Array, Array]:
        """Pre and post set-mode trace tables (:func:`trace_decay_table`), built once."""
        if self._tables is None:
            st, T = self.core.stdp, self.core.timesteps
            self._tables = (trace_decay_table(self.num, st.tau_pre_shift, T),
                            trace_decay_table(self.num, st.tau_post_shift, T))
        return self._tables

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
        v: Array = np.full((B, n_out), core.neuron.v_rest, dtype=num.dtype)
        refractory: Array | None = np.zeros((B, n_out), np.int64)
        spikes = np.zeros((B, n_out), bool)
        counts = np.zeros((B, n_out), np.int64)
        theta = self.theta[None, :]
        for t in range(core.timesteps):
            states = step(states)
            s = samples[:, t] if direct else spikes_from_states(threshold, states)
            current = s.astype(np.float64) @ w
            if num.dtype == np.int64:
                current = current.astype(np.int64)
            current = num.synaptic_current(current)
            inhib = inhibition(num, spikes)
            v, refractory, spikes = lif_step(num, v, refractory, theta, current, inhib)
            counts += spikes
        return counts
