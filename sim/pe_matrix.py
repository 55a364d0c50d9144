"""Which configurations a PE regression runs: the matrix without repeats.

The quick tier of every PE regression runs ``config_matrix(quick=True)``; the slow tier runs
the rest of the matrix plus the PE's own edge configurations, less every configuration that
would repeat an earlier run exactly.  A PE states what a run depends on as a key (its
``rtl_key``: the parameters its Verilog depends on, plus whatever the testbench's stimulus
depends on); :func:`distinct` drops the repeats and :func:`rtl_key_violations` holds an RTL
key to its promise (equal keys, equal netlist), so a skipped configuration cannot hide a
design the regression never built.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from amaranth.back import rtlil

__all__ = ["distinct", "rtl_key_violations"]

T = TypeVar("T")


def distinct(candidates: Iterable[T], key: Callable[[T], Hashable],
             done: Iterable[T] = ()) -> list[T]:
    """The ``candidates`` whose ``key`` no earlier candidate and none of ``done`` has, in
    order (the first of each key is kept)."""
    seen = {key(item) for item in done}
    kept = []
    for item in candidates:
        k = key(item)
        if k not in seen:
            seen.add(k)
            kept.append(item)
    return kept


def rtl_key_violations(items: Iterable[T], key: Callable[[T], Hashable],
                       build: Callable[[T], Any], toplevel: str) -> list[list[T]]:
    """Groups of ``items`` with equal ``key`` whose components (``build(item)``) elaborate to
    different netlists (RTLIL, without source locations); empty when the key is sound."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return [members for members in groups.values() if len(members) > 1
            and len({rtlil.convert(build(m), name=toplevel, emit_src=False)
                     for m in members}) > 1]
