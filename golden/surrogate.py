"""Surrogate derivatives of the spike function for BPTT (``docs/numerics.md``, "Supervised
training (BPTT)").

A spike is ``z = H(v - threshold)``; its derivative is zero almost everywhere, so the
backward pass replaces ``dz/dv`` by a smooth bump of the membrane's distance from the
threshold, ``x = (v - (v_th + theta)) / v_th``: the distance in units of the layer's base
threshold ``v_th`` (not of ``v_th + theta``, so one table serves every neuron of a layer).
Both bumps peak at 1 for ``x = 0``; ``slope`` (``k``) sets their width:

- ``fast_sigmoid``: ``1 / (1 + k |x|)**2`` (Zenke & Ganguli's SuperSpike);
- ``arctan``: ``1 / (1 + (pi/2 * k x)**2)`` (the derivative of ``arctan(pi/2 k x) / (pi/2)``).

``dz/dv = surrogate(x) / v_th`` per membrane LSB.  The integer gradient path reads the same
function from a small table (:func:`surrogate_table`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SURROGATES", "surrogate", "surrogate_table"]

Array = Any

#: Surrogate derivatives, by name (``BpttConfig.surrogate``).
SURROGATES = ("fast_sigmoid", "arctan")


def surrogate(kind: str, x: Array, slope: float) -> Array:
    """The surrogate derivative at threshold distance ``x`` (float64, peak 1 at 0)."""
    x = np.asarray(x, dtype=np.float64)
    if kind == "fast_sigmoid":
        return 1.0 / (1.0 + slope * np.abs(x)) ** 2
    if kind == "arctan":
        return 1.0 / (1.0 + (0.5 * np.pi * slope * x) ** 2)
    raise ValueError(f"surrogate must be one of {', '.join(SURROGATES)}, got {kind!r}")


def surrogate_table(kind: str, slope: float, index_bits: int, step: float,
                    value_bits: int) -> Array:
    """The surrogate as a table of ``2**index_bits`` unsigned ``value_bits``-bit entries.

    Entry ``k`` (``k = 0 .. 2**index_bits - 1``) stands for the distances ``x`` in
    ``[(k - 2**(index_bits-1)) * step, (k + 1 - 2**(index_bits-1)) * step)`` and holds
    ``min(round(surrogate(x_mid) * 2**value_bits), 2**value_bits - 1)`` at the middle
    ``x_mid`` of that interval (``value_bits`` fraction bits; the peak, 1, saturates).
    ``int64``.
    """
    half = 1 << (index_bits - 1)
    mid = (np.arange(1 << index_bits) - half + 0.5) * step
    values = np.rint(surrogate(kind, mid, slope) * (1 << value_bits)).astype(np.int64)
    return np.minimum(values, (1 << value_bits) - 1)
