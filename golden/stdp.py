"""The STDP rule: traces, pair STDP and weight normalization.

Steps 7-9 of ``docs/numerics.md``.  Weights are stored as ``w[j, i]``: input (pre-synaptic)
``j`` on the first axis, neuron ``i`` on the last.

- The arithmetic, one function per operation (golden model of ``TraceUnit`` and
  ``StdpUnit``): :func:`trace_step`, :func:`potentiation`, :func:`depression`,
  :func:`weight_change`, applied sparsely by :func:`stdp_update`; :func:`normalize`.
- When updates happen: :func:`update_due` (the FSpiNN interval ``update_every``), the one
  definition of the schedule.
- The rule (:class:`Stdp`, :class:`.rule.Rule`'s hooks): per timestep the traces and the
  scheduled update (the literal loop's learner), their event-driven form (depression
  between output spikes, the update at an output spike), and the normalization after the
  sample.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..config import ROUNDING_RAND_BITS
from .arith import Arithmetic
from .encoder import rounding_bits
from .layer import Layer
from .lfsr import SampleStates
from .rule import EventLearner, Learner, Rule

__all__ = [
    "Stdp",
    "update_due",
    "update_schedule",
    "normalization_draws",
    "trace_step",
    "rounding_rand",
    "potentiation",
    "depression",
    "weight_change",
    "stdp_update",
    "depress_rows",
    "trace_decay_table",
    "normalize",
]

Array = Any


def trace_step(num: Arithmetic, x: Array, spike: Array, tau_shift: int) -> Array:
    """One timestep of a trace: decay toward zero, then bump where ``spike``.

    Decay is ``trunc(x * (1 - 2**-tau_shift))``; the bump sets the trace to ``trace_max``
    (``set`` mode) or adds ``trace_add`` and saturates (``add`` mode).
    """
    s = num.core.stdp
    x = num.decay_unsigned(x, tau_shift)
    if s.trace_mode == "set":
        x[np.asarray(spike, dtype=bool)] = num.core.derived.trace_max   # x is a fresh array
        return x
    return num.trace(x + s.trace_add * spike)


def rounding_rand(input_hi16: Array, neuron_hi16: Array) -> Array:
    """Stochastic-rounding draw of synapse ``(j, i)``: ``hi16(input j) ^ hi16(neuron i)``.

    ``input_hi16`` broadcasts over the input axis (``[..., :, None]`` is added here),
    ``neuron_hi16`` over the neuron axis.
    """
    return np.bitwise_xor(input_hi16[..., :, None], neuron_hi16[..., None, :])


def potentiation(num: Arithmetic, w: Array, x_pre: Array, rand16: Array | None) -> Array:
    """Weight increase on a post event: ``R(x_pre * eta_post [* (w_max - w)])``.

    Brackets: soft bound only.  ``R(a) = round(a / 2**stdp_shift)``, floor or stochastic
    by ``rand16``.  Elementwise over broadcast operands; never negative.
    """
    s, d = num.core.stdp, num.core.derived
    numerator = x_pre * s.eta_post
    if s.soft_bound:
        numerator = numerator * (d.w_max - w)
    return num.scale_down(numerator, d.stdp_shift, rand16)


def depression(num: Arithmetic, w: Array, x_post: Array, rand16: Array | None,
               offset: Array | None = None) -> Array:
    """Weight decrease on a pre event: ``R(x_post * eta_pre [* w])`` (see potentiation).

    ``offset`` instead of ``rand16``: the rounding addend already computed
    (``num.rounding_offset(rand16, stdp_shift)``).
    """
    s, d = num.core.stdp, num.core.derived
    numerator = x_post * s.eta_pre
    if s.soft_bound:
        numerator = numerator * w
    if offset is not None:
        return num.scale_down_offset(numerator, d.stdp_shift, offset)
    return num.scale_down(numerator, d.stdp_shift, rand16)


def weight_change(num: Arithmetic, w: Array, x_pre: Array, x_post: Array,
                  pre: Array, post: Array, rand16: Array | None) -> Array:
    """New weights after one STDP update, elementwise over broadcast operands.

    ``w`` are the current weights, ``x_pre``/``x_post`` the traces after this timestep's
    bump, ``pre``/``post`` the events learned from.  The result is
    ``clip(w + pot - dep, 0, w_max)`` of the exact sum, ``pot`` the :func:`potentiation`
    where ``post``, ``dep`` the :func:`depression` where ``pre`` (never with
    ``potentiation_only``); both draw on the same ``rand16``.
    """
    pot = np.where(post, potentiation(num, w, x_pre, rand16), 0)
    if num.core.stdp.potentiation_only:
        return num.clip_weights(w + pot)
    dep = np.where(pre, depression(num, w, x_post, rand16), 0)
    return num.clip_weights(w + pot - dep)


def stdp_update(num: Arithmetic, w: Array, x_pre: Array, x_post: Array,
                pre: Array, post: Array, input_hi16: Array | None,
                neuron_hi16: Array | None) -> Array:
    """Apply :func:`weight_change` to the synapses the events touch, in place.

    ``w`` has shape ``(n_inputs, n_neurons)``; ``x_pre``, ``pre`` and ``input_hi16`` have
    shape ``(n_inputs,)``, ``x_post``, ``post`` and ``neuron_hi16`` ``(n_neurons,)``; the
    ``*_hi16`` draws are ``None`` for floor rounding.  A synapse with neither a pre nor a
    post event changes by zero by definition, and so does one whose only event is a pre
    event while its neuron's post trace is zero (the depression rounds to zero: the
    stochastic addend is below ``2**stdp_shift``).  So only the columns of neurons with a
    post event, and the rows of inputs with a pre event within the columns of neurons with
    a live post trace, are visited.
    """
    stochastic = input_hi16 is not None
    if stochastic != (neuron_hi16 is not None) or (num.stochastic and not stochastic):
        raise ValueError("stochastic rounding needs both input_hi16 and neuron_hi16 draws")
    cols = np.flatnonzero(post)
    if cols.size:
        r = rounding_rand(input_hi16, cast(Array, neuron_hi16)[cols]) if stochastic else None
        w[:, cols] = weight_change(num, w[:, cols], x_pre[:, None], x_post[None, cols],
                                   pre[:, None], True, r)
    if num.core.stdp.potentiation_only:
        return w
    rows = np.flatnonzero(pre)
    live = np.flatnonzero((x_post != 0) & ~np.asarray(post, dtype=bool))
    if rows.size and live.size:
        r = (rounding_rand(cast(Array, input_hi16)[rows], cast(Array, neuron_hi16)[live])
             if stochastic else None)
        offset = None if r is None else num.rounding_offset(r, num.core.derived.stdp_shift)
        depress_rows(num, w, rows, live, x_post[live], offset)
    return w


def depress_rows(num: Arithmetic, w: Array, rows: Array, cols: Array, x_post: Array,
                 offset: Array | None) -> None:
    """Depression of the synapses ``rows x cols`` (pre events, no post event), in place.

    ``x_post`` is given for ``cols`` only; ``offset`` is the block's rounding addend
    (``None`` for floor rounding).  ``0 <= dep``, so ``w - dep <= w_max`` and only the lower
    clip applies.
    """
    index = (rows[:, None], cols)
    block = w[index]
    w[index] = np.maximum(block - depression(num, block, x_post, None, offset), 0)


def trace_decay_table(num: Arithmetic, tau_shift: int, timesteps: int) -> Array:
    """Set-mode trace ``age`` timesteps after its last bump, for ages ``0..timesteps``,
    followed by a 0 ("never bumped"): ``table[a] = decay^a(trace_max)``.

    Built by applying the trace's own decay (:func:`trace_step` without a spike), so a
    table lookup equals stepping the trace.
    """
    table: Array = np.zeros(timesteps + 2, dtype=num.dtype)
    x: Array = np.array([num.core.derived.trace_max], dtype=num.dtype)
    for age in range(timesteps + 1):
        table[age] = x[0]
        x = num.decay_unsigned(x, tau_shift)
    return table


def normalize(num: Arithmetic, w: Array, rand16: Array | None = None) -> Array:
    """Rescale every neuron's incoming weights to sum to ``norm`` (after a training sample).

    Integer: ``scale = floor(norm * 2**16 / sum)``, ``w' = min(w_max, (w * scale + r)
    >> 16)`` with ``r = 2**15`` (``norm_rounding = "nearest"``) or ``r = rand16[j, i]``
    (``"stochastic"``; ``rand16`` of shape ``w.shape``, see :func:`normalization_draws`); a
    neuron whose weights sum to zero is left unchanged.
    """
    if not num.core.stdp.norm:
        return w
    scale, valid = num.reciprocal_scale(w.sum(axis=0))
    return cast(Array, np.where(valid[None, :], num.apply_scale(w, scale[None, :], rand16), w)
                ).astype(num.dtype)


def normalization_draws(input_states: Array, neuron_states: Array) -> Array:
    """The stochastic normalization's 16-bit draws, ``hi16(g_j) ^ lo16(g_i)`` for input
    ``j`` and neuron ``i``, from the generator states of the sample's last timestep
    (``docs/numerics.md``, step 9): shape ``(n_inputs, n_neurons)``."""
    hi = rounding_bits(np.asarray(input_states))
    lo = np.asarray(neuron_states, np.int64) & ((1 << ROUNDING_RAND_BITS) - 1)
    return cast(Array, hi[:, None] ^ lo[None, :])


# -- when: the update schedule -----------------------------------------------------------------


def update_due(t: int, update_every: int, timesteps: int) -> bool:
    """Whether the STDP update applies at the end of timestep ``t`` (0-based) of a sample of
    ``timesteps`` timesteps: every ``update_every = U`` timesteps, ``(t + 1) % U == 0``, and
    at the last timestep ``t = timesteps - 1`` (which flushes the events since the last
    update).

    The update learns from the events of the timesteps since the previous one (pre and post
    spikes OR-accumulated over them; ``U = 1``: this timestep's) with the traces of ``t``;
    the accumulators clear after it, and at the start of every sample.
    """
    return (t + 1) % update_every == 0 or t == timesteps - 1


def update_schedule(update_every: int, timesteps: int) -> Array:
    """:func:`update_due` for every timestep of a sample: ``(timesteps,)`` bool."""
    return np.array([update_due(t, update_every, timesteps) for t in range(timesteps)],
                    dtype=bool)


# -- the rule ----------------------------------------------------------------------------------


class Stdp(Rule):
    """Pair STDP with adaptive thresholds and per-sample normalization (``docs/numerics.md``,
    steps 6-9), for a layer configured by its ``core.stdp``.

    Its event-driven form covers integer arithmetic, set-mode traces, ``update_every = 1``
    and no soft-bound depression (the default); other configurations run the literal loop.
    """

    name = "stdp"
    learns = True

    def __init__(self) -> None:
        self._tables: dict[tuple[Any, ...], Array] = {}

    def learner(self, layer: Layer, states: SampleStates) -> Learner:
        return _StdpLearner(layer, states)

    def event_learner(self, layer: Layer, states: SampleStates,
                      in_spikes: Array) -> EventLearner | None:
        st = layer.core.stdp
        if (layer.num.dtype != np.int64 or st.trace_mode != "set" or st.update_every != 1
                or (st.soft_bound and not st.potentiation_only)):
            return None
        return _StdpEvents(layer, states, in_spikes, self.trace_table(layer, st.tau_pre_shift),
                           self.trace_table(layer, st.tau_post_shift))

    def end_sample(self, layer: Layer, states: SampleStates) -> None:
        """Step 9: the weight normalization."""
        st = layer.core.stdp
        draws = (normalization_draws(states.inputs[-1], states.neurons[-1])
                 if st.norm > 0 and st.norm_rounding == "stochastic" else None)
        layer.weights = normalize(layer.num, layer.weights, draws)

    def trace_table(self, layer: Layer, tau_shift: int) -> Array:
        """:func:`trace_decay_table` of ``layer``'s set-mode trace, built once."""
        num = layer.num
        T = layer.core.timesteps
        key = (num.dtype, layer.core.derived.trace_max, tau_shift, T)
        if key not in self._tables:
            self._tables[key] = trace_decay_table(num, tau_shift, T)
        return self._tables[key]


def _rounding_draws(layer: Layer, states: SampleStates) -> tuple[Array | None, Array | None]:
    """The stochastic-rounding draws of every timestep, ``hi16`` of the input and of the
    neuron generators (``None, None`` for floor rounding)."""
    if not layer.num.stochastic:
        return None, None
    return rounding_bits(states.inputs), rounding_bits(states.neurons)


class _StdpLearner(Learner):
    """Steps 7-8 as ``docs/numerics.md`` writes them (any configuration)."""

    def __init__(self, layer: Layer, states: SampleStates):
        core, num = layer.core, layer.num
        self.layer = layer
        self.x_pre: Array = np.zeros(core.n_inputs, num.dtype)
        self.x_post: Array = np.zeros(core.n_neurons, num.dtype)
        self.pre_seen = np.zeros(core.n_inputs, bool)
        self.post_seen = np.zeros(core.n_neurons, bool)
        self.due = update_schedule(core.stdp.update_every, core.timesteps)
        self.in_hi, self.neuron_hi = _rounding_draws(layer, states)

    def step(self, t: int, pre: Array, post: Array) -> None:
        layer = self.layer
        num, st = layer.num, layer.core.stdp
        # 7. traces: decay, then bump with this timestep's spikes
        self.x_pre = trace_step(num, self.x_pre, pre, st.tau_pre_shift)
        self.x_post = trace_step(num, self.x_post, post, st.tau_post_shift)
        # 8. STDP on the events since the last update, when one is due
        self.pre_seen |= pre
        self.post_seen |= post
        if not self.due[t]:
            return
        stdp_update(num, layer.weights, self.x_pre, self.x_post, self.pre_seen, self.post_seen,
                    None if self.in_hi is None else self.in_hi[t],
                    None if self.neuron_hi is None else self.neuron_hi[t])
        self.pre_seen[:] = False
        self.post_seen[:] = False


class _StdpEvents(EventLearner):
    """Steps 7-8 around output spikes (set-mode traces, ``update_every = 1``, no soft-bound
    depression, integer arithmetic).

    Between two output spikes the only weight change is depression (pre events), and it
    touches only the columns of neurons whose post trace is still non-zero ("live"
    columns).  Depression decrements are non-negative and clip only at zero, so
    ``max(w - d1, 0) - d2`` clipped equals ``max(w - (d1 + d2), 0)``: the weights of a live
    column at each timestep of a window are its weights at the start minus a cumulative sum.
    A set-mode trace is ``decay^age(trace_max)``, read from a table built with the trace's
    own decay (:func:`trace_decay_table`); an input's age comes from a running maximum of
    its spike times.  At an output spike the timestep's update is :func:`stdp_update`.
    """

    def __init__(self, layer: Layer, states: SampleStates, in_spikes: Array,
                 pre_table: Array, post_table: Array):
        core, num = layer.core, layer.num
        T = core.timesteps
        self.layer, self.in_spikes = layer, in_spikes
        self.pre_table, self.post_table = pre_table, post_table    # (T + 2,) each
        self.never = never = T + 1                                 # table[never] = 0
        self.post_life = int(np.count_nonzero(post_table))  # ages with a non-zero post trace
        self.steps = steps = np.arange(T)
        # Latest spike time of each input at or before each timestep (-never: none yet).
        self.last_pre = np.maximum.accumulate(np.where(in_spikes, steps[:, None], -never),
                                              axis=0)
        self.last_post = np.full(core.n_neurons, -never, np.int64)
        self.depress = not core.stdp.potentiation_only
        self.in_hi, self.neuron_hi = _rounding_draws(layer, states)
        # Rounding addends per input and per neuron: offset(a ^ b) = offset(a) ^ offset(b).
        self.in_offset = self.neuron_offset = None
        if self.depress and self.in_hi is not None and self.neuron_hi is not None:
            shift = core.derived.stdp_shift
            self.in_offset = num.rounding_offset(self.in_hi, shift)
            self.neuron_offset = num.rounding_offset(self.neuron_hi, shift)
        self.block: tuple[Array, Array] | None = None
        self.dep: Array = None
        self.before: Array = None

    def window(self, t: int, stop: int, current: Array) -> None:
        self.block = None
        if not self.depress:
            return
        live = np.flatnonzero(self.last_post > t - self.post_life)
        if not live.size:
            return
        num, w = self.layer.num, self.layer.weights
        # only the rows of inputs that spike in the window see depression
        window_spikes = self.in_spikes[t:stop]
        rows = np.flatnonzero(window_spikes.any(axis=0))
        pre = window_spikes[:, rows, None]
        block = (rows[:, None], live)
        ages = np.minimum(self.steps[t:stop, None] - self.last_post[live], self.never)
        offset = None if self.in_offset is None else (
            self.in_offset[t:stop, rows, None]
            ^ cast(Array, self.neuron_offset)[t:stop, None, live])
        dep = depression(num, None, self.post_table[ages][:, None, :], None, offset)
        dep = dep * pre                                   # pre events only
        before = np.cumsum(dep, axis=0) - dep             # depression before each step
        w_live = np.maximum(w[block] - before, 0)         # (K, rows, m)
        current[:, live] = num.synaptic_current((w_live * pre).sum(axis=1))
        self.block, self.dep, self.before = block, dep, before

    def commit(self, done: int) -> None:
        if self.block is not None and done:
            w, block = self.layer.weights, self.block
            w[block] = np.maximum(w[block] - self.before[done - 1] - self.dep[done - 1], 0)

    def spike(self, t: int, spikes: Array, fired: Array) -> None:
        self.last_post[fired] = t
        never = self.never
        x_pre = self.pre_table[np.minimum(t - self.last_pre[t], never)]
        x_post = self.post_table[np.minimum(t - self.last_post, never)]
        stdp_update(self.layer.num, self.layer.weights, x_pre, x_post, self.in_spikes[t],
                    spikes, None if self.in_hi is None else self.in_hi[t],
                    None if self.neuron_hi is None else self.neuron_hi[t])
