"""The row list: an event list of the inputs that spiked in a timestep."""

from __future__ import annotations

import functools
import operator

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ...config import bits_for
from .pipeline import delay, delay_valid, lane_of, popcount, select, shared, word_of

__all__ = ["RowList", "append_layout"]


def append_layout(rows: int, lanes: int, payload: int = 0) -> data.StructLayout:
    """One encode-pass word for a row list: ``valid``; ``word`` (lane ``e`` is row
    ``word * lanes + e``); ``flags``, bit ``e`` set when that row spiked; with ``payload``
    bits, ``payloads``, lane ``e`` stored with row ``e`` (the LUT engine's group
    patterns)."""
    return data.StructLayout({"valid": 1, "word": unsigned(bits_for(rows // lanes - 1)),
                              "flags": unsigned(lanes),
                              **({"payloads": data.ArrayLayout(unsigned(payload), lanes)}
                                 if payload else {})})


class RowList(wiring.Component):
    """``rows`` row indices, the flagged ones first, in two banks (timestep parity): the
    encode pass fills one bank while the neuron and learn passes read the other.

    Slot ``s`` is in memory ``s % lanes`` at word ``s // lanes`` of its bank, so ``lanes``
    consecutive slots are in different memories: the encode pass appends ``lanes`` rows per
    cycle, the passes read one slot per cycle.

    Parameters
    ----------
    rows : int
        Rows (inputs) in the list.
    lanes : int
        Rows appended per cycle (a power of two that divides ``rows``).
    readers : tuple of str
        Passes that read the list, in priority order; each has ``<name>_en`` and
        ``<name>_slot`` (the last one reads when no other is enabled).
    payload : int
        Bits stored with each row (default 0: none), read with it on ``payload``.

    Members
    -------
    clear : In(1)
        Start filling the write bank (sync).
    write_bank, read_bank : In(1)
        The bank being filled and the bank being read.
    append : In(append_layout(rows, lanes))
        The rows of one word: flagged ones at slots ``flagged``, ``flagged + 1``, ...; the
        others from the end down.  With ``lanes > 1`` the writes land two cycles later.
    flagged : Out(range(rows + 1))
        Flagged rows appended since ``clear``.
    swap : In(1)
        The filled bank becomes the one read: ``count`` takes ``flagged`` (sync).
    count : Out(range(rows + 1))
        Flagged rows in the bank being read.
    row : Out(bits_for(rows - 1))
        The row in the slot a reader asked for, one cycle later.
    payload : Out(payload)
        With ``payload`` only: what was stored with that row, with it.
    """

    def __init__(self, rows: int, lanes: int, readers: tuple[str, ...],
                 payload: int = 0) -> None:
        self._rows, self._lanes, self._readers = rows, lanes, readers
        self._payload = payload
        slot = unsigned(bits_for(rows - 1))
        super().__init__({
            "clear": In(1),
            "write_bank": In(1),
            "read_bank": In(1),
            "append": In(append_layout(rows, lanes, payload)),
            "flagged": Out(range(rows + 1)),
            "swap": In(1),
            "count": Out(range(rows + 1)),
            **{f"{name}_en": In(1) for name in readers},
            **{f"{name}_slot": In(slot) for name in readers},
            "row": Out(slot),
            **({"payload": Out(payload)} if payload else {}),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        n, E = self._rows, self._lanes
        words = n // E
        memories = []
        row_bits = bits_for(n - 1)
        for e in range(E):
            memories.append(Memory(shape=unsigned(row_bits + self._payload), depth=2 * words,
                                   init=[]))
            m.submodules[f"slots{e}"] = memories[-1]
        writes = [mem.write_port() for mem in memories]
        reads = [mem.read_port() for mem in memories]

        def address(bank, index):
            return Mux(bank, words + index, index)

        back = Signal(range(n + 1))            # the slot after the next unflagged row
        self._append(m, writes, back, lambda index: address(self.write_bank, index))
        with m.If(self.clear):
            m.d.sync += [self.flagged.eq(0), back.eq(n)]
        with m.If(self.swap):
            m.d.sync += self.count.eq(self.flagged)

        # read: the memories at the slot's word; the lane selected as the word arrives
        slot = Signal.like(self.row)
        requests = [(getattr(self, f"{name}_en"), [slot.eq(getattr(self, f"{name}_slot"))])
                    for name in self._readers[:-1]]
        shared(m, requests, [slot.eq(getattr(self, f"{self._readers[-1]}_slot"))])
        for port in reads:
            m.d.comb += port.addr.eq(address(self.read_bank, word_of(slot, E)))
        lane = delay(m, lane_of(slot, E), 1, "read_lane") if E > 1 else None
        entry = select([port.data for port in reads], lane, E)
        m.d.comb += self.row.eq(entry[:row_bits])
        if self._payload:
            m.d.comb += self.payload.eq(entry[row_bits:])
        return m

    def _append(self, m: Module, ports, back, address) -> None:
        """Write the ``E`` rows of ``append``: the flagged ones at ``flagged``, ... and the
        others at ``back - 1``, ``back - 2``, ..., each in lane order.

        The rows written before fill ``flagged + (rows - back)`` slots, a multiple of ``E``,
        so the ``E`` slots are ``E`` consecutive ones modulo ``E``: every memory takes
        exactly one write.  With ``E > 1`` in three stages (each lane's rank among the
        flagged ones, its slot, the route to the memories).
        """
        E = len(ports)
        front = self.flagged
        valid, word, flags = self.append.valid, self.append.word, self.append.flags
        payloads = self.append.payloads if self._payload else None
        ranks = [Const(0, 1)] + [popcount(flags[:e]) for e in range(1, E)]   # flagged below e
        total = popcount(flags)
        if E > 1:
            ranks = ranks[:1] + [delay(m, r, 1, f"rank{e}") for e, r in enumerate(ranks) if e]
            total = delay(m, total, 1, "total")
            flags = delay(m, flags, 1, "flags")
            valid = delay_valid(m, valid, 1, "valid1")
            word = delay(m, word, 1, "word1")
            if payloads is not None:
                payloads = delay(m, payloads, 1, "payloads1")
        with m.If(valid):
            m.d.sync += [front.eq(front + total), back.eq(back - (E - total))]
        slots = []
        for e in range(E):
            slot = Signal(len(ports[0].data), name=f"slot{e}")
            m.d.comb += slot.eq(Mux(flags[e], front + ranks[e], back - 1 - (e - ranks[e])))
            slots.append(slot)
        if E > 1:
            slots = [delay(m, slot, 1, f"slot{e}") for e, slot in enumerate(slots)]
            valid = delay_valid(m, valid, 1, "valid2")
            word = delay(m, word, 1, "word2")
            if payloads is not None:
                payloads = delay(m, payloads, 1, "payloads2")
        for b, port in enumerate(ports):
            if E == 1:
                slot_word, value = slots[0], word
                if payloads is not None:
                    value = Cat(word, payloads[0])
            else:
                match = [lane_of(slots[e], E) == b for e in range(E)]
                slot_word = functools.reduce(operator.or_, (
                    Mux(match[e], word_of(slots[e], E), 0) for e in range(E)))
                lane = functools.reduce(operator.or_, (Mux(match[e], e, 0) for e in range(E)))
                value = Cat(lane[:exact_log2(E)], word)
                if payloads is not None:
                    value = Cat(value[:bits_for(self._rows - 1)], functools.reduce(
                        operator.or_, (Mux(match[e], payloads[e], 0)
                                       for e in range(E))))
            m.d.comb += [port.addr.eq(address(slot_word)), port.data.eq(value),
                         port.en.eq(valid)]
