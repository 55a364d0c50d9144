"""The table store of the LUT engine: the subset-sum tables in banks, holding the weights."""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ...config import CoreConfig, bits_for
from .layouts import table_word_layout, weight_word_layout
from .pipeline import delay, shared
from .weights import read_layout, write_layout

__all__ = ["TableStore", "table_address"]


def _divmod(value, divisor: int):
    """``value // divisor`` and ``value % divisor`` of an unsigned value (bit fields for a
    power of two, else Amaranth's division by a constant)."""
    if (divisor & (divisor - 1)) == 0:
        shift = exact_log2(divisor)
        return value >> shift, (value[:shift] if shift else Const(0, 1))
    return value // divisor, value % divisor


def table_address(core: CoreConfig, addr):
    """Where the access port's weight word ``addr = j * W + k_word`` lives in the tables:
    ``(bank, in-bank address)``, the single-input entry of input ``j``'s bit in its group
    (``golden.lut.group_of``): bank ``g % R``, word ``((g // R * W + k_word) << k) | 1 << b``
    (combinational)."""
    d, R, E, k = core.derived, core.row_banks, core.encoder.lanes, core.lut_group
    W = d.neurons_per_pe
    j, word = _divmod(Value.cast(addr), W)
    c, lane = _divmod(j, E)
    block, bit = _divmod(c, k)
    lane_in_bank, bank = _divmod(lane, R)
    group = block * (E // R) + lane_in_bank
    return bank, (((group * W + word) << k) | (Const(1, 1 << k) << bit))[
        :bits_for(d.lut_bank_words - 1)]


class TableStore(wiring.Component):
    """``R = row_banks`` banks of ``derived.lut_bank_words`` table words of ``n_pe``
    entries (``table_word_layout``): group ``g`` (``golden.lut.group_of``) in bank
    ``g % R``, neuron word ``k_word`` of it at words ``((g // R * W + k_word) << k) | x``,
    entry ``x`` the sum of the weights of the bits of ``x``
    (``golden.lut.bank_tables``).  The single-input entries ``x = 1 << b`` are the weights:
    the access port writes and reads weights there, and nothing else holds them; the build
    pass (:class:`~.build.TableBuild`) fills the others.

    One read and one write port per bank, shared by passes that never overlap: reads in
    the order neuron pass (``rows``), build, access (the default); writes build, access.

    Members
    -------
    rows : In  /  patterns : In(ArrayLayout(unsigned(k), R))  /  bank_data : Out
        The neuron pass: for bank ``b`` its table block ``rows.addr[b] = g // R * W +
        k_word`` at entry ``patterns[b]``; ``bank_data`` the words, one cycle later.
    build_read : In(read_layout)  /  build_write : In(write_layout)
        The build pass: the same in-bank address in every bank (``bank_data`` the next
        cycle); a word of every bank, ``data[b]`` into bank ``b``.
    access_addr : In(flat weight address)  /  data : Out(weight_word_layout)
        The weight word read between samples (its single-input entries, one cycle later).
    access_write : In(write_layout(flat, weight_word_layout))
        Write a weight word into its single-input entries.
    """

    def __init__(self, core: CoreConfig) -> None:
        if core.forward != "lut":
            raise ValueError(f"the table store serves forward = 'lut', not {core.forward!r}")
        self._core = core
        d, R = core.derived, core.row_banks
        table = table_word_layout(core)
        self._addr_bits = bits_for(d.lut_bank_words - 1)
        flat = bits_for(core.n_inputs * d.neurons_per_pe - 1)
        block = bits_for(d.lut_bank_groups * d.neurons_per_pe - 1)
        super().__init__({
            "rows": In(data.StructLayout({"en": 1,
                                          "addr": data.ArrayLayout(unsigned(block), R)})),
            "patterns": In(data.ArrayLayout(unsigned(core.lut_group), R)),
            "bank_data": Out(data.ArrayLayout(table, R)),
            "build_read": In(read_layout(self._addr_bits)),
            "build_write": In(write_layout(self._addr_bits, data.ArrayLayout(table, R))),
            "access_addr": In(flat),
            "data": Out(weight_word_layout(core)),
            "access_write": In(write_layout(flat, weight_word_layout(core))),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        R, P = core.row_banks, core.n_pe
        banks = []
        for b in range(R):
            banks.append(Memory(shape=table_word_layout(core),
                                depth=core.derived.lut_bank_words, init=[]))
            m.submodules["tables" if R == 1 else f"tables{b}"] = banks[-1]
        reads = [bank.read_port() for bank in banks]
        writes = [bank.write_port() for bank in banks]
        m.d.comb += [self.bank_data[b].eq(reads[b].data) for b in range(R)]

        # reads: the neuron pass's entries, the build pass's, else the access port's word
        read_bank, read_addr = table_address(core, self.access_addr)
        shared(m, [
            (self.rows.en, [rd.addr.eq(Cat(self.patterns[b], self.rows.addr[b]))
                            for b, rd in enumerate(reads)]),
            (self.build_read.en, [rd.addr.eq(self.build_read.addr) for rd in reads]),
        ], [rd.addr.eq(read_addr) for rd in reads])
        # the weights: the low weight bits of the entries (an entry of one weight holds it)
        answered = Array(rd.data.as_value() for rd in reads)[
            delay(m, read_bank, 1, "read_bank")] if R > 1 else reads[0].data.as_value()
        S = core.derived.lut_sum_bits
        m.d.comb += [self.data[p].eq(answered[p * S:p * S + core.widths.weight])
                     for p in range(P)]

        # writes: the build pass's words, else the access port's weights (extended)
        write_bank, write_addr = table_address(core, self.access_write.addr)
        request = self.access_write
        shared(m, [(self.build_write.en, [
            stmt for b, wr in enumerate(writes) for stmt in (
                wr.addr.eq(self.build_write.addr), wr.data.eq(self.build_write.data[b]),
                wr.en.eq(1))])],
            [stmt for b, wr in enumerate(writes) for stmt in (
                wr.addr.eq(write_addr),
                *(wr.data[p].eq(request.data[p]) for p in range(P)),
                wr.en.eq(request.en & (write_bank == b) if R > 1 else request.en))])
        return m
