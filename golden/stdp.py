"""Traces, pair STDP and weight normalization (golden model of ``TraceUnit`` and ``StdpUnit``).

Steps 7-8 of ``docs/numerics.md`` and the per-sample normalization.  Weights are stored as
``w[j, i]``: input (pre-synaptic) ``j`` on the first axis, neuron ``i`` on the last.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from ..config import ROUNDING_RAND_BITS
from .arith import Arithmetic
from .encoder import rounding_bits

__all__ = [
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
