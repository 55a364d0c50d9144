"""H2Learn's LUT forward: a layer's synaptic current from tables of subset sums.

A layer with ``forward = "lut"`` (``k = lut_group``) puts its inputs in groups of ``k``:
input ``j`` (encode word ``c = j // lanes``, lane ``e = j % lanes``) is bit ``c % k`` of group
``(c // k) * lanes + e`` (:func:`group_of`; with one lane, inputs ``g*k .. g*k + k - 1``).
For every group ``g`` and neuron ``i`` a table holds the ``2**k`` sums of the group's
weights selected by the bits of the entry's index (:func:`build_tables`); a timestep's
spikes give each group a ``k``-bit pattern (:func:`patterns`), and the weight sum of step 3
of ``docs/numerics.md`` is ``sum_g table[g, pattern_g, i]`` (:class:`LutForward`).  Every
entry is an exact integer sum, so the result is the accumulate path's ``sum_j s_j w_ij``,
bit for bit; the tables only change how many additions a timestep takes.

:func:`bank_tables` lays the tables out as the RTL's table memory holds them
(``hdl/core/tables.py``): group ``g`` in bank ``g % row_banks``, word
``((g // row_banks * W + k_word) << k) | pattern`` of ``n_pe`` lanes.  The sizes are
``core.derived``'s ``lut_*`` members.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import CoreConfig

__all__ = ["group_of", "build_tables", "bank_tables", "patterns", "table_sum", "LutForward"]

Array = Any


def group_of(core: CoreConfig) -> tuple[Array, Array]:
    """The group and the bit of every input: two ``(n_inputs,)`` int64 arrays.

    Input ``j`` is in encode word ``c = j // lanes`` at lane ``e = j % lanes``; its group is
    ``(c // k) * lanes + e`` and its bit ``c % k`` (the RTL collects a group's bits in one
    lane over ``k`` consecutive encode words).  Groups of the last block of words have
    fewer than ``k`` inputs when ``k`` does not divide ``input_words``; their missing bits
    are never set and weigh 0.
    """
    j = np.arange(core.n_inputs, dtype=np.int64)
    lanes, k = core.encoder.lanes, core.lut_group
    word, lane = j // lanes, j % lanes
    return (word // k) * lanes + lane, word % k


def build_tables(core: CoreConfig, weights: Array) -> Array:
    """Every group's table: ``(lut_groups, 2**k, n_neurons)``, entry ``[g, x, i]`` the sum of
    the weights ``w[j, i]`` of the inputs ``j`` of group ``g`` whose bit is set in ``x``
    (exact, in the weights' dtype; entry 0 is 0, entry ``1 << b`` the weight of bit ``b``)."""
    d, k = core.derived, core.lut_group
    w = np.asarray(weights)
    group, bit = group_of(core)
    grouped = np.zeros((d.lut_groups, k, core.n_neurons), dtype=w.dtype)
    grouped[group, bit] = w
    select = (np.arange(d.lut_entries)[:, None] >> np.arange(k)) & 1     # (2**k, k)
    return np.einsum("xb,gbn->gxn", select.astype(w.dtype), grouped)


def bank_tables(core: CoreConfig, tables: Array) -> Array:
    """The tables as the RTL's banks hold them: ``(row_banks, lut_bank_words, n_pe)``,
    bank ``g % R``, word ``((g // R * W + k_word) << k) | x``, lane ``p`` neuron
    ``k_word * n_pe + p``."""
    d, R, P = core.derived, core.row_banks, core.n_pe
    W, X = d.neurons_per_pe, d.lut_entries
    t = np.asarray(tables).reshape(d.lut_bank_groups, R, X, W, P)
    return t.transpose(1, 0, 3, 2, 4).reshape(R, d.lut_bank_words, P)


def patterns(core: CoreConfig, spikes: Array) -> Array:
    """Each group's ``k``-bit spike pattern: ``(..., lut_groups)`` int64 from spikes
    ``(..., n_inputs)`` (bool or 0/1), bit ``b`` set when the group's input of bit ``b``
    spiked."""
    d, k = core.derived, core.lut_group
    s = np.asarray(spikes).astype(np.int64)
    group, bit = group_of(core)
    padded = np.zeros(s.shape[:-1] + (d.lut_groups * k,), np.int64)
    padded[..., group * k + bit] = s
    weights = np.int64(1) << np.arange(k, dtype=np.int64)
    return (padded.reshape(s.shape[:-1] + (d.lut_groups, k)) * weights).sum(axis=-1)


def table_sum(tables: Array, pattern: Array) -> Array:
    """``sum_g tables[g, pattern[..., g]]``: ``(..., n_neurons)``, one table read per group
    (a group without a spike reads entry 0, which is 0)."""
    pattern = np.asarray(pattern)
    total = np.zeros(pattern.shape[:-1] + tables.shape[-1:], dtype=tables.dtype)
    for g in range(tables.shape[0]):
        total += tables[g][pattern[..., g]]
    return total


class LutForward:
    """The tables of one layer, rebuilt when its weights change (as the RTL rebuilds them
    after a weight write).

    Parameters
    ----------
    core : CoreConfig
        The layer (``forward = "lut"``; any ``lut_group``).
    """

    def __init__(self, core: CoreConfig) -> None:
        self.core = core
        self._weights: Array | None = None
        self._tables: Array | None = None

    def tables(self, weights: Array) -> Array:
        """The tables of ``weights`` (:func:`build_tables`), built again only when the
        weights differ from the last call's."""
        w = np.asarray(weights)
        if self._tables is None or self._weights is None or not np.array_equal(
                self._weights, w) or self._weights.dtype != w.dtype:
            self._weights = w.copy()
            self._tables = build_tables(self.core, w)
        return self._tables

    def weight_sum(self, weights: Array, spikes: Array) -> Array:
        """``sum_j s[j] * w[j, i]`` through the tables: ``(..., n_neurons)`` for spikes
        ``(..., n_inputs)``."""
        return table_sum(self.tables(weights), patterns(self.core, spikes))
