"""The table build of the LUT engine: after a weight write, the next command waits for it."""

from __future__ import annotations

import operator

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from .layouts import command_layout, table_word_layout
from .pipeline import tree
from .weights import read_layout, write_layout

__all__ = ["TableBuild"]


class TableBuild(wiring.Component):
    """Fills every table from its single-input entries (the weights) when they have
    changed, before the next sample starts.

    A weight write (``written``) marks the tables dirty.  While they are clean, ``command``
    passes to ``release`` (the sequencer) as it is.  While dirty, a command is taken when
    the sequencer could take it (``release.ready``: idle, no access pending), then
    ``busy`` rises and the build runs, then the command goes to the sequencer: the build
    delays it by ``hdl.cycles.build_cycles`` (``B``) in all.

    The build visits each bank's ``lut_bank_groups * W`` blocks of ``2**k`` entries (one
    group, one neuron word) in address order, every bank at once, ``2**k`` cycles per
    block: cycle ``s < k`` reads entry ``1 << s``, cycle ``s`` in ``1..k`` takes weight
    ``s - 1`` into a register per lane and bank, and cycles ``k + 1 .. 2**k - 1`` write the
    entries that are neither 0 nor a single weight, in increasing order, each the sum of
    the registers its bits select (an adder tree of ``k`` per lane).  Entry 0 stays 0 and
    the weights stay as the access port wrote them.

    Members
    -------
    command : In(stream.Signature(command_layout))  /  release : Out(same)
        The core's commands in; to the sequencer.
    written : In(1)
        A weight word was written (the tables are out of date).
    busy : Out(1)
        From taking a command with dirty tables until the sequencer has it: access waits.
    read : Out(read_layout)  /  tables : In  /  write : Out(write_layout)
        The table store's build ports: one in-bank address for every bank; the words read,
        one cycle later; the words written, one per bank.
    """

    def __init__(self, core: CoreConfig) -> None:
        if core.forward != "lut":
            raise ValueError(f"the table build serves forward = 'lut', not {core.forward!r}")
        self._core = core
        R = core.row_banks
        addr = bits_for(core.derived.lut_bank_words - 1)
        words = data.ArrayLayout(table_word_layout(core), R)
        super().__init__({
            "command": In(stream.Signature(command_layout(core))),
            "release": Out(stream.Signature(command_layout(core))),
            "written": In(1),
            "busy": Out(1),
            "read": Out(read_layout(addr)),
            "tables": In(words),
            "write": Out(write_layout(addr, words)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        d, R, P, k = core.derived, core.row_banks, core.n_pe, core.lut_group
        X, blocks = d.lut_entries, d.lut_bank_groups * d.neurons_per_pe
        dirty = Signal()
        held = Signal(command_layout(core))     # the command taken while building
        block = Signal(range(blocks))
        step = Signal(range(X))                 # the cycle within the block
        entry = Signal(range(X))                # the entry written at this step
        weights = Signal(data.ArrayLayout(data.ArrayLayout(table_word_layout(core), R), k))
        with m.If(self.written):
            m.d.sync += dirty.eq(1)

        # -- one block: k reads, weights in, then every other entry's sum --------------------
        base = block << k
        m.d.comb += [self.read.addr.eq(base | (Const(1, k) << step)[:k]),
                     self.write.addr.eq(base | entry)]
        for i in range(k):
            with m.If(self.busy & (step == i + 1)):
                m.d.sync += weights[i].eq(self.tables)
        for b in range(R):
            for p in range(P):
                m.d.comb += self.write.data[b][p].eq(tree(
                    (Mux(entry[i], weights[i][b][p], 0) for i in range(k)), operator.add))
        # the next entry after ``entry`` that is not a power of two (two in a row are not)
        after = entry + 1
        skip = (after & (after - 1)) == 0
        next_entry = Mux(skip, entry + 2, after)

        with m.FSM(name="build"):
            with m.State("IDLE"):
                with m.If(dirty):
                    m.d.comb += self.command.ready.eq(self.release.ready)
                    with m.If(self.command.valid & self.release.ready):
                        m.d.sync += [held.eq(self.command.payload), block.eq(0),
                                     step.eq(0), entry.eq(3)]
                        m.next = "BUILD"
                with m.Else():
                    m.d.comb += [self.release.valid.eq(self.command.valid),
                                 self.release.payload.eq(self.command.payload),
                                 self.command.ready.eq(self.release.ready)]
            with m.State("BUILD"):
                m.d.comb += [self.busy.eq(1), self.read.en.eq(step < k),
                             self.write.en.eq(step > k)]
                m.d.sync += step.eq(step + 1)
                with m.If(step > k):
                    m.d.sync += entry.eq(next_entry)
                with m.If(step == X - 1):
                    m.d.sync += [step.eq(0), entry.eq(3), block.eq(block + 1)]
                    with m.If(block == blocks - 1):
                        m.next = "RELEASE"
            with m.State("RELEASE"):
                m.d.comb += [self.busy.eq(1), self.release.valid.eq(1),
                             self.release.payload.eq(held)]
                with m.If(self.release.ready):
                    m.d.sync += dirty.eq(0)
                    m.next = "IDLE"
        return m
