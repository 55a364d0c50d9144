"""The fixed-point gradient path of the BPTT trainer (``rule.backward = "integer"``): the
contract a future on-chip BPTT engine implements (``docs/numerics.md``, "Supervised training
(BPTT)", "The integer gradient path").

Per layer, with ``E = error_frac``, ``S = surrogate_bits``, ``I = surrogate_index_bits``:

- **Error terms** ``e[t]`` per neuron: signed ``error_bits``, ``E`` fraction bits, in units
  of loss per threshold (the float path's ``e``, times ``2**E``), saturated when stored.
- **Surrogate** ``sigma[t]`` read from a table of ``2**I`` unsigned ``S``-bit entries
  (:func:`.surrogate.surrogate_table`, ``S`` fraction bits) addressed by the membrane's
  distance from its threshold ``d = u - (v_th + theta)`` (exact, membrane LSBs):
  ``k = clamp((d >> table_shift) + 2**(I-1), 0, 2**I - 1)``: the end entries serve every
  distance beyond the table (a neuron driven far past its threshold keeps a small
  gradient, as with the float surrogate; a table that answered 0 there left output
  neurons firing at every timestep without a gradient to stop them).
- **Recurrence**, last timestep first::

      a[t] = (g[t] * sigma[t] + 2**(S-1)) >> S                  (round half up)
      e[t] = sat(a[t] + r[t] * (leak(e[t+1]) + direct[t]))       (leak: the layer's own)

  ``leak`` is the forward pass's leak applied to the error (``IntegerArithmetic.leak``,
  rounding toward zero), ``r[t]`` 1, or ``1 - z[t]`` for reset to ``v_reset``.
- **Weight gradient** ``G[j, i] = sum_b sum_t s[t, b, j] * e[t, b, i]``, exact (int64): a
  masked accumulation, adding ``e`` only where the input spiked (no work for inputs that
  did not, nor for zero errors); with current input ``sum_b pixel[b, j] * sum_t e[t, b,
  i]``.  Bias: ``sum e``; theta: ``-sum a``.
- **Error to the layer below** (same timestep)::

      g_below[t, j] = sat((2**current_shift * sum_i W[j, i] * e[t, i] * M + 2**(P-1)) >> P)

  with ``M = round(2**P / v_th)``, ``P = 16 + bit_length(v_th)`` (the ``1 / v_th`` of
  the chain rule as a 17-bit multiplier).
- **Output errors** ``g`` (count readout) or ``direct`` (membrane readouts) are
  ``round((softmax - target) * 2**E)`` from the readout's float softmax.

The update turns ``G`` into ``dL/dw`` (``G * 2**current_shift / (v_th * 2**E * B)``) for
the optimizer, whose new value is rounded onto the master grid of ``weight_frac`` fraction
bits by stochastic rounding (:class:`MasterRounding`) from xorshift32 generators
(:mod:`.lfsr`): one per parameter, stepped once per update, its high 16 bits the draw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..config import ROUNDING_RAND_BITS, BpttConfig, CoreConfig
from ..fixedpoint import round_shift, saturate
from .arith import IntegerArithmetic, exact_matmul
from .lfsr import STATE_BITS, base_states, step
from .surrogate import surrogate_table

__all__ = ["IntegerLayer", "MasterRounding", "quantize_error", "BPTT_GENERATOR_STREAM",
           "RECIPROCAL_BITS", "SURROGATE_SPAN"]

Array = Any

#: First generator stream of the master parameters' stochastic rounding (``lfsr``
#: streams 0 and 1 are the inputs' and the neurons'): layer ``l``'s parameter ``k``
#: (0 weights, 1 bias, 2 theta) draws from stream ``BPTT_GENERATOR_STREAM + 3 l + k``.
BPTT_GENERATOR_STREAM = 2
#: Fraction bits of the ``1 / v_th`` multiplier beyond ``v_th``'s own width.
RECIPROCAL_BITS = 16
#: The surrogate table covers threshold distances ``|x| < SURROGATE_SPAN / slope`` (to
#: within a factor of two: its step is a power of two in membrane LSBs).
SURROGATE_SPAN = 8.0


def quantize_error(x: Array, bpttc: BpttConfig) -> Array:
    """A float error on the error grid: ``sat(round(x * 2**error_frac))`` (int64)."""
    q = np.rint(np.asarray(x, dtype=np.float64) * (1 << bpttc.error_frac)).astype(np.int64)
    return saturate(q, bpttc.error_bits, True)


class IntegerLayer:
    """One layer's integer backward constants (derived once from its config).

    Members
    -------
    table : (2**surrogate_index_bits,) int64 surrogate table
    table_shift : membrane LSBs per table entry, as a shift
    multiplier, precision : ``M`` and ``P`` of the ``1 / v_th`` multiply
    """

    def __init__(self, core: CoreConfig, bpttc: BpttConfig):
        self.core = core
        self.bpttc = bpttc
        self.num = IntegerArithmetic(core)
        v_th = core.neuron.v_th
        half = 1 << (bpttc.surrogate_index_bits - 1)
        span = SURROGATE_SPAN / bpttc.slope * v_th / half       # membrane LSBs per entry
        self.table_shift = max(0, math.floor(math.log2(span))) if span >= 1 else 0
        self.table = surrogate_table(bpttc.surrogate, bpttc.slope, bpttc.surrogate_index_bits,
                                     (1 << self.table_shift) / v_th, bpttc.surrogate_bits)
        self.precision = RECIPROCAL_BITS + v_th.bit_length()
        self.multiplier = round((1 << self.precision) / v_th)
        self.gain_shift = core.widths.current_shift

    def sigma(self, u: Array, theta: Array) -> Array:
        """Table surrogate of membranes ``u`` before the threshold test (end entries beyond
        the table)."""
        d = u - (self.core.neuron.v_th + theta)
        k = (d >> self.table_shift) + (len(self.table) >> 1)
        return self.table[np.clip(k, 0, len(self.table) - 1)]

    def errors(self, g: Array, sigma: Array, spikes: Array, direct: Array | None) -> tuple[
            Array, Array]:
        """``(a, e)``, ``(T, B, n)`` each: the spike term and the error terms (int64)."""
        b = self.bpttc
        S = b.surrogate_bits
        a = (g * sigma + (1 << (S - 1))) >> S
        e = np.empty_like(a)
        carry = np.zeros(a.shape[1:], np.int64)
        to_reset = self.core.neuron.reset_mode == "to_reset"
        for t in range(a.shape[0] - 1, -1, -1):
            carry = self.num.leak(carry)
            if direct is not None:
                carry = carry + direct[t]
            if to_reset:
                carry = np.where(spikes[t], 0, carry)
            carry = np.asarray(saturate(a[t] + carry, b.error_bits, True))
            e[t] = carry
        return a, e

    def below(self, e: Array, w: Array) -> Array:
        """The error reaching the layer below: ``dL/dz`` of its spikes, on the error grid."""
        acc = exact_matmul(e, w.T) << self.gain_shift
        p = self.precision
        return saturate((acc * self.multiplier + (1 << (p - 1))) >> p, self.bpttc.error_bits,
                        True)


class MasterRounding:
    """Stochastic rounding of updated master parameters onto ``weight_frac`` fraction bits.

    ``p_new = p_old + ((floor(delta * 2**(weight_frac + 16)) + rand16) >> 16) /
    2**weight_frac`` for the optimizer's change ``delta`` (LSBs): rounds up with probability
    equal to the cut-off fraction (to 16 bits), so the change is kept on average.  One
    xorshift32 generator per parameter element (stream :data:`BPTT_GENERATOR_STREAM` ``+ 3 l
    + k``, base states from the config seed), stepped once per update; ``rand16`` its high
    16 bits.
    """

    def __init__(self, seed: int, shapes: list[tuple[int, ...]], frac: int):
        self.frac = frac
        self.states = [base_states(seed, BPTT_GENERATOR_STREAM + k, math.prod(shape))
                       .reshape(shape) for k, shape in enumerate(shapes)]

    def apply(self, k: int, old: Array, new: Array) -> None:
        """Round parameter ``k``'s update ``new - old`` (``old`` on the grid), in place."""
        self.states[k] = step(self.states[k])
        rand16 = (self.states[k] >> np.uint32(STATE_BITS - ROUNDING_RAND_BITS)).astype(np.int64)
        fixed = np.floor((new - old) * float(1 << (self.frac + ROUNDING_RAND_BITS)))
        change = round_shift(fixed.astype(np.int64), ROUNDING_RAND_BITS, rand16)
        new[...] = old + np.asarray(change, dtype=np.float64) / (1 << self.frac)
