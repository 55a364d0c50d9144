"""Small building blocks of the core's pipelines: delay lines, per-input word and lane
indices, balanced trees, and the one rule for memory ports shared by passes."""

from __future__ import annotations

import operator

from amaranth import Array, Const, Module, Mux, Signal
from amaranth.utils import exact_log2

from ...config import ROUNDING_RAND_BITS
from ..lfsr import STATE_BITS

__all__ = ["delay", "delay_valid", "word_of", "lane_of", "select", "tree", "popcount",
           "maximum", "rand_hi", "shared", "Drain"]


def delay(m: Module, value, cycles: int, name: str):
    """``value`` delayed by ``cycles`` registers (reset-less; valid flags are separate)."""
    for stage in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{stage + 1}", reset_less=True)
        m.d.sync += reg.eq(value)
        value = reg
    return value


def delay_valid(m: Module, value, cycles: int, name: str):
    """A valid flag delayed by ``cycles`` registers (reset to 0)."""
    for stage in range(cycles):
        reg = Signal(name=f"{name}_d{stage + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def word_of(index, lanes: int):
    """The per-input memory word of input (or row-list slot) ``index``: ``index // lanes``."""
    return index[exact_log2(lanes):]


def lane_of(index, lanes: int):
    """The lane of input (or row-list slot) ``index``: ``index % lanes`` (``lanes > 1``)."""
    return index[:exact_log2(lanes)]


def select(items, lane, lanes: int):
    """Element ``lane`` of ``items`` (a multiplexer; the only element with one lane)."""
    if lanes == 1:
        return items[0]
    return Array(items[e] for e in range(lanes))[lane]


def tree(values, combine):
    """``values`` reduced pairwise by ``combine``, in a balanced tree (logic depth log2)."""
    values = list(values)
    while len(values) > 1:
        values = [combine(a, b) for a, b in zip(values[::2], values[1::2], strict=False)] + (
            [values[-1]] if len(values) % 2 else [])
    return values[0]


def popcount(bits):
    """How many bits of ``bits`` are set (an adder tree)."""
    return tree([bits[i] for i in range(len(bits))] or [Const(0, 1)], operator.add)


def maximum(values):
    """The largest of ``values`` (a tree of compares)."""
    return tree(values, lambda a, b: Mux(a > b, a, b))


def rand_hi(state):
    """The stochastic-rounding draw of a generator state: its high ``ROUNDING_RAND_BITS``."""
    return state[STATE_BITS - ROUNDING_RAND_BITS:]


def shared(m: Module, requests, default) -> None:
    """Drive a memory port shared by passes that never overlap: ``requests`` is a list of
    ``(enable, [statements])`` in priority order; the first enabled one drives the port,
    ``default`` (a list of statements) when none is."""
    first = True
    for enable, statements in requests:
        with (m.If(enable) if first else m.Elif(enable)):
            m.d.comb += statements
        first = False
    if first:
        m.d.comb += default
    else:
        with m.Else():
            m.d.comb += default


class Drain:
    """A pass's drain: the ``depth`` cycles from its last token issued to its last write
    (``hdl.cycles.pass_depths``).  :meth:`load` in the last issue cycle; :meth:`last` in
    the drain state counts down and is true in the drain's last cycle."""

    def __init__(self, m: Module, depth: int) -> None:
        self._m, self._depth = m, depth
        self.count = Signal(range(depth + 1), name="drain")

    def load(self) -> None:
        self._m.d.sync += self.count.eq(self._depth)

    def last(self):
        self._m.d.sync += self.count.eq(self.count - 1)
        return self.count == 1
