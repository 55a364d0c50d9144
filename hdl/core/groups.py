"""The group gather of the LUT engine: a timestep's input spikes as groups and patterns."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from .rows import append_layout

__all__ = ["GroupGather", "group_append_layout"]


def group_append_layout(core: CoreConfig) -> data.StructLayout:
    """A block of groups for the group lists: ``valid``; ``word`` the block ``q`` (lane
    ``e`` is group ``q * lanes + e``); ``flags``, bit ``e`` set when group ``e`` has a spike;
    ``payloads``, lane ``e`` its ``lut_group``-bit pattern (``append_layout`` of
    ``lut_groups`` rows with a ``lut_group``-bit payload)."""
    return append_layout(core.derived.lut_groups, core.encoder.lanes, core.lut_group)


class GroupGather(wiring.Component):
    """Collects the encode pass's words of ``E = encoder.lanes`` input spikes into groups of
    ``k = lut_group`` (``golden.lut.group_of``): lane ``e`` of words ``q*k .. q*k + k - 1``
    is group ``q * E + e``, word ``c`` its bit ``c % k``.  Each lane keeps the bits so far
    in a register; the word that completes a block (``c % k = k - 1``, or the last word)
    goes out at once, in the same cycle, as an append to the group lists: no latency.

    Members
    -------
    appended : In(append_layout(n_inputs, E))
        The encode pass's words, in order from word 0 (which starts a timestep).
    groups : Out(group_append_layout(core))
        A block's groups and their patterns, in the cycle of its last word.
    """

    def __init__(self, core: CoreConfig) -> None:
        if core.forward != "lut":
            raise ValueError(f"the group gather serves forward = 'lut', not {core.forward!r}")
        self._core = core
        super().__init__({
            "appended": In(append_layout(core.n_inputs, core.encoder.lanes)),
            "groups": Out(group_append_layout(core)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        E, k, C = core.encoder.lanes, core.lut_group, core.derived.input_words
        word, valid = self.appended.word, self.appended.valid
        start = word == 0                       # a timestep's first word: a new block
        bit = Signal(range(k))                  # word % k
        block = Signal(bits_for(core.derived.lut_blocks - 1))     # word // k
        held = Signal(data.ArrayLayout(unsigned(k), E))         # the bits of words so far
        here = Mux(start, 0, bit)
        ends = (here == k - 1) | (word == C - 1)
        for e in range(E):
            pattern = Mux(start, 0, held[e]) | (self.appended.flags[e] << here)[:k]
            m.d.comb += self.groups.payloads[e].eq(pattern)
        m.d.comb += [
            self.groups.valid.eq(valid & ends),
            self.groups.word.eq(Mux(start, 0, block)),
            self.groups.flags.eq(Cat(self.groups.payloads[e] != 0 for e in range(E))),
        ]
        with m.If(valid):
            with m.If(ends):
                m.d.sync += [bit.eq(0), block.eq(Mux(start, 0, block) + 1), held.eq(0)]
            with m.Else():
                m.d.sync += [bit.eq(here + 1), block.eq(Mux(start, 0, block)),
                             held.eq(self.groups.payloads)]
        return m
