"""Arithmetic policies: the fixed-point model and its float64 reference share every step.

The golden model is written once, against this small interface.  :class:`IntegerArithmetic`
is the specification the RTL matches bit for bit: exact ``int64`` sums, decays rounded toward
zero, weight changes floor- or stochastically rounded, saturation at every state word.
:class:`FloatArithmetic` evaluates the same equations in float64 without rounding or
saturation (weights stay clipped to ``[0, w_max]``, which is part of the model, not of the
number format), to measure what quantization costs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import CoreConfig
from ..fixedpoint import (
    decay_multiply,
    decay_shift,
    decay_shift_unsigned,
    round_shift,
    rounding_offset,
)

__all__ = ["Arithmetic", "IntegerArithmetic", "FloatArithmetic", "exact_matmul"]

Array = Any  # np.ndarray of int64 (integer policy) or float64 (float policy)


class Arithmetic:
    """Interface of an arithmetic policy (documentation of the contract)."""

    dtype: type
    stochastic: bool

    def __init__(self, core: CoreConfig):
        self.core = core
        self.d = core.derived
        self.stochastic = core.stdp.rounding == "stochastic"

    def leaked(self, v: Array) -> Array:
        """Membrane after one timestep of leak, ``v_rest + leak(v - v_rest)``."""
        v_rest = self.core.neuron.v_rest
        return v_rest + self.leak(v - v_rest) if v_rest else self.leak(v)

    def leak(self, d: Array) -> Array:
        """Membrane distance from rest after one timestep of leak."""
        n = self.core.neuron
        if n.leak_mode == "shift":
            return self.decay_shift(d, n.leak_shift)
        if n.leak_mode == "none":
            return d
        return self.decay_multiply(d, n.decay_q, n.decay_frac)

    def decay_shift(self, d: Array, shift: int) -> Array:
        raise NotImplementedError

    def decay_multiply(self, d: Array, q: int, frac: int) -> Array:
        raise NotImplementedError

    def decay_unsigned(self, x: Array, shift: int) -> Array:
        """:meth:`decay_shift` of a state that is never negative (traces, thresholds)."""
        return self.decay_shift(x, shift)

    def synaptic_current(self, weight_sum: Array) -> Array:
        """The synaptic current in membrane LSBs from the summed weights of the inputs that
        spiked (step 3): ``weight_sum * 2**current_shift``, exact in both policies."""
        shift = self.core.widths.current_shift
        return weight_sum * (1 << shift) if shift else weight_sum

    def integrate_into(self, v: Array, current: Array, out: Array) -> Array:
        """``out[...] = membrane(leaked(v) + current, below=False)``: the membrane of a
        neuron with no inhibition (:func:`~.neuron.integrate`), written in place."""
        out[...] = self.membrane(self.leaked(v) + current, below=False)
        return out

    def integrate_run(self, v: Array, currents: Array, out: Array) -> Array:
        """:meth:`integrate_into` for consecutive timesteps: ``out[k]`` is the membrane
        after ``currents[k]``, starting from ``v``; returns ``out[-1]``."""
        for k in range(len(currents)):
            v = self.integrate_into(v, currents[k], out[k])
        return v

    def membrane(self, u: Array, below: bool = True) -> Array:
        """Store a membrane value (saturate to the membrane word).

        ``below=False`` promises ``u >= v_min`` (a leaked membrane plus a non-negative
        current), so only the upper rail needs checking.
        """
        raise NotImplementedError

    def theta(self, theta: Array) -> Array:
        """Store an adaptive threshold (saturate to the theta word)."""
        raise NotImplementedError

    def trace(self, x: Array) -> Array:
        """Store a trace (saturate to the trace word)."""
        raise NotImplementedError

    def scale_down(self, x: Array, shift: int, rand16: Array | None) -> Array:
        """``x / 2**shift`` of a non-negative weight-change numerator."""
        raise NotImplementedError

    def rounding_offset(self, rand16: Array, shift: int) -> Array | None:
        """The addend :meth:`scale_down` adds before shifting (``None``: nothing added)."""
        return None

    def scale_down_offset(self, x: Array, shift: int, offset: Array | None) -> Array:
        """:meth:`scale_down` with the addend already computed by :meth:`rounding_offset`."""
        return self.scale_down(x, shift, None)

    def clip_weights(self, w: Array) -> Array:
        """Clip an exact weight sum to ``[0, w_max]`` (part of the model in both policies)."""
        return np.minimum(np.maximum(w, 0), self.d.w_max).astype(self.dtype, copy=False)

    def reciprocal_scale(self, weight_sum: Array) -> tuple[Array, Array]:
        """Per-neuron normalization: ``(scale, valid)`` for incoming weight sums."""
        raise NotImplementedError

    def apply_scale(self, w: Array, scale: Array, rand16: Array | None = None) -> Array:
        """Rescaled weights ``w * scale`` (clipped to ``w_max``); ``rand16`` are the
        stochastic-rounding draws (``stdp.norm_rounding = "stochastic"``), ``None`` rounds
        to nearest."""
        raise NotImplementedError


class IntegerArithmetic(Arithmetic):
    """The fixed-point specification (``int64`` arrays, exact, named roundings)."""

    dtype = np.int64
    #: Membranes up to this width get their leak tabulated (``2**bits`` entries).
    LEAK_TABLE_BITS = 20

    def __init__(self, core: CoreConfig):
        super().__init__(core)
        self._leak_table: Array | None = None

    def leaked(self, v: Array) -> Array:
        """:meth:`Arithmetic.leaked`, read from a table of every membrane value.

        The table is the same function evaluated once for the whole membrane range
        (membranes up to :data:`LEAK_TABLE_BITS` bits), so a step costs one look-up
        instead of five operations.
        """
        if self.core.widths.membrane > self.LEAK_TABLE_BITS:
            return super().leaked(v)
        return self._table().take(v, mode="wrap")

    def integrate_into(self, v: Array, current: Array, out: Array) -> Array:
        """:meth:`Arithmetic.integrate_into` with the leak table and no temporaries."""
        if self.core.widths.membrane > self.LEAK_TABLE_BITS:
            return super().integrate_into(v, current, out)
        self._table().take(v, out=out, mode="wrap")
        out += current
        return np.minimum(out, self.d.v_max, out=out)

    def integrate_run(self, v: Array, currents: Array, out: Array) -> Array:
        """:meth:`Arithmetic.integrate_run`, the leak table looked up in place."""
        if self.core.widths.membrane > self.LEAK_TABLE_BITS:
            return super().integrate_run(v, currents, out)
        table, v_max = self._table(), self.d.v_max
        for k in range(len(currents)):
            row = out[k]
            table.take(v, out=row, mode="wrap")
            row += currents[k]
            v = np.minimum(row, v_max, out=row)
        return v

    def _table(self) -> Array:
        """``leaked`` of every membrane value, indexed by the value modulo ``2**membrane``
        (``take(v, mode="wrap")`` maps a negative ``v`` to its two's complement index)."""
        if self._leak_table is None:
            v = np.arange(self.d.v_min, self.d.v_max + 1, dtype=np.int64)
            self._leak_table = np.roll(super().leaked(v), self.d.v_min)
        return self._leak_table

    def decay_shift(self, d: Array, shift: int) -> Array:
        return decay_shift(d, shift)

    def decay_unsigned(self, x: Array, shift: int) -> Array:
        return decay_shift_unsigned(x, shift)

    def decay_multiply(self, d: Array, q: int, frac: int) -> Array:
        return decay_multiply(d, q, frac)

    def membrane(self, u: Array, below: bool = True) -> Array:
        if below:
            u = np.maximum(u, self.d.v_min)
        return np.minimum(u, self.d.v_max)

    def theta(self, theta: Array) -> Array:
        return np.minimum(np.maximum(theta, 0), self.d.theta_max)

    def trace(self, x: Array) -> Array:
        return np.minimum(np.maximum(x, 0), self.d.trace_max)

    def scale_down(self, x: Array, shift: int, rand16: Array | None) -> Array:
        return round_shift(x, shift, rand16 if self.stochastic else None)

    def rounding_offset(self, rand16: Array, shift: int) -> Array | None:
        return rounding_offset(rand16, shift) if self.stochastic else None

    def scale_down_offset(self, x: Array, shift: int, offset: Array | None) -> Array:
        return np.right_shift(x if offset is None else x + offset, shift)

    def reciprocal_scale(self, weight_sum: Array) -> tuple[Array, Array]:
        """``floor(norm * 2**F / sum)`` per neuron; neurons with a zero sum keep weights."""
        valid = weight_sum > 0
        num = self.d.norm_numerator
        scale = num // np.where(valid, weight_sum, 1)
        return scale, valid

    def apply_scale(self, w: Array, scale: Array, rand16: Array | None = None) -> Array:
        """``min(w_max, (w * scale + r) >> F)``, then clip: ``r = 2**(F-1)`` (round half
        up) or the stochastic addend ``(rand16 << F) >> 16``."""
        f = self.d.norm_frac_bits
        r = (1 << (f - 1)) if rand16 is None else rounding_offset(rand16, f)
        return np.minimum((w * scale + r) >> f, self.d.w_max)


class FloatArithmetic(Arithmetic):
    """The same equations in float64: no rounding, no saturation of state words."""

    dtype = np.float64

    def decay_shift(self, d: Array, shift: int) -> Array:
        return d * (1.0 - 2.0**-shift)

    def decay_multiply(self, d: Array, q: int, frac: int) -> Array:
        return d * (q / 2.0**frac)

    def membrane(self, u: Array, below: bool = True) -> Array:
        return u

    def theta(self, theta: Array) -> Array:
        return np.maximum(theta, 0.0)

    def trace(self, x: Array) -> Array:
        return np.maximum(x, 0.0)

    def scale_down(self, x: Array, shift: int, rand16: Array | None) -> Array:
        return x / 2.0**shift

    def reciprocal_scale(self, weight_sum: Array) -> tuple[Array, Array]:
        valid = weight_sum > 0
        return self.core.stdp.norm / np.where(valid, weight_sum, 1.0), valid

    def apply_scale(self, w: Array, scale: Array, rand16: Array | None = None) -> Array:
        return np.minimum(w * scale, float(self.d.w_max))


def exact_matmul(a: Array, b: Array) -> Array:
    """``a @ b`` of integer arrays as ``int64``, computed in float64 (numpy has no BLAS for
    integer products): exact, because every partial sum is an integer below ``2**53`` in
    magnitude, which the operands' largest magnitudes and the summed length bound; a product
    that could exceed it raises ``ValueError``."""
    a, b = np.asarray(a), np.asarray(b)
    bound = float(np.abs(a).max(initial=0)) * float(np.abs(b).max(initial=0)) * a.shape[-1]
    if bound >= 2.0**53:
        raise ValueError(f"an integer product of {a.shape} and {b.shape} could reach {bound:.3g}"
                         ", beyond float64's exact integers (2**53)")
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
