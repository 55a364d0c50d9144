"""The table store of the LUT engine: the subset-sum tables in banks, holding the weights."""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ...config import CoreConfig, bits_for
from .layouts import table_word_layout, weight_word_layout
from .pipeline import delay, delay_valid, shared
from .weights import read_layout, write_layout

__all__ = ["TableStore", "table_address", "ACCESS_LATENCY", "access_latency"]

#: Registers from the access port's weight address to the table memory's ports: the
#: address becomes bank and table word in three stages (:func:`table_address`).
ACCESS_LATENCY = 3


def access_latency(core: CoreConfig) -> int:
    """Cycles a weight access takes beyond the weight store's: :data:`ACCESS_LATENCY` with
    the LUT engine, else 0."""
    return ACCESS_LATENCY if core.forward == "lut" else 0


def _quotient(value, divisor: int, width: int):
    """``value // divisor`` of an unsigned ``value`` below ``2**width``: a shift for a power
    of two, else a multiply by the rounded-up reciprocal ``M = ceil(2**S / divisor)``,
    ``S = width + ceil(log2(divisor))``, exact for every such value (Granlund and
    Montgomery): one constant multiply instead of a divider's chain of subtractions."""
    if (divisor & (divisor - 1)) == 0:
        return value >> exact_log2(divisor)
    shift = width + (divisor - 1).bit_length()
    return (value * -(-(1 << shift) // divisor)) >> shift


def table_address(core: CoreConfig, m: Module, addr):
    """Where the access port's weight word ``addr = j * W + k_word`` lives in the tables,
    ``ACCESS_LATENCY`` cycles later: ``(bank, in-bank address)`` of the single-input entry
    of input ``j``'s bit in its group (``golden.lut.group_of``): bank ``g % R``, word
    ``((g // R * W + k_word) << k) | 1 << b``.  Stages: ``j = addr // W``; ``k_word``,
    the encode word ``c`` and lane of ``j``, ``c // k``; the bit, the group and the
    address (each a constant multiply at most, registered)."""
    d, R, E, k = core.derived, core.row_banks, core.encoder.lanes, core.lut_group
    W = d.neurons_per_pe
    width = len(Value.cast(addr))
    a1 = delay(m, addr, 1, "map_addr")
    j1 = delay(m, _quotient(Value.cast(addr), W, width), 1, "map_j")
    j1 = j1[:bits_for(core.n_inputs - 1)]
    c = j1 >> exact_log2(E)
    word2 = delay(m, (a1 - j1 * W)[:bits_for(W - 1)], 1, "map_word")
    lane2 = delay(m, j1[:exact_log2(E)] if E > 1 else Const(0, 1), 1, "map_lane")
    c2 = delay(m, c, 1, "map_c")
    block2 = delay(m, _quotient(c, k, len(c)), 1, "map_block")
    bit = (c2 - block2 * k)[:bits_for(k - 1)]
    bank = lane2[:exact_log2(R)] if R > 1 else Const(0, 1)
    group = block2 * (E // R) + (lane2 >> exact_log2(R))
    entry = ((group * W + word2) << k) | (Const(1, 1 << k) << bit)
    return (delay(m, bank, 1, "map_bank"),
            delay(m, entry[:bits_for(d.lut_bank_words - 1)], 1, "map_entry"))


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
    An access reaches the memory ``ACCESS_LATENCY`` cycles after the weight store's would
    (reads and writes through the same stages, so in order); the access port waits for
    it (``access_latency``).

    Members
    -------
    rows : In  /  patterns : In(ArrayLayout(unsigned(k), R))  /  bank_data : Out
        The neuron pass: for bank ``b`` its table block ``rows.addr[b] = g // R * W +
        k_word`` at entry ``patterns[b]``; ``bank_data`` the words, one cycle later.
    build_read : In(read_layout)  /  build_write : In(write_layout)
        The build pass: the same in-bank address in every bank (``bank_data`` the next
        cycle); a word of every bank, ``data[b]`` into bank ``b``.
    access_addr : In(flat weight address)  /  data : Out(weight_word_layout)
        The weight word read between samples (its single-input entries),
        ``ACCESS_LATENCY + 1`` cycles later.
    access_write : In(write_layout(flat, weight_word_layout))
        Write a weight word into its single-input entries (``ACCESS_LATENCY`` cycles
        later).
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

        # the access port's word (a write's address when it writes) as bank and table word
        request = self.access_write
        bank, entry = table_address(core, m, Mux(request.en, request.addr, self.access_addr))
        write_en = delay_valid(m, request.en, ACCESS_LATENCY, "map_write")
        write_data = delay(m, request.data, ACCESS_LATENCY, "map_data")

        # reads: the neuron pass's entries, the build pass's, else the access port's word
        shared(m, [
            (self.rows.en, [rd.addr.eq(Cat(self.patterns[b], self.rows.addr[b]))
                            for b, rd in enumerate(reads)]),
            (self.build_read.en, [rd.addr.eq(self.build_read.addr) for rd in reads]),
        ], [rd.addr.eq(entry) for rd in reads])
        # the weights: the low weight bits of the entries (an entry of one weight holds it)
        answered = Array(rd.data.as_value() for rd in reads)[
            delay(m, bank, 1, "read_bank")] if R > 1 else reads[0].data.as_value()
        S = core.derived.lut_sum_bits
        m.d.comb += [self.data[p].eq(answered[p * S:p * S + core.widths.weight])
                     for p in range(P)]

        # writes: the build pass's words, else the access port's weights (extended)
        shared(m, [(self.build_write.en, [
            stmt for b, wr in enumerate(writes) for stmt in (
                wr.addr.eq(self.build_write.addr), wr.data.eq(self.build_write.data[b]),
                wr.en.eq(1))])],
            [stmt for b, wr in enumerate(writes) for stmt in (
                wr.addr.eq(entry),
                *(wr.data[p].eq(write_data[p]) for p in range(P)),
                wr.en.eq(write_en & (bank == b) if R > 1 else write_en))])
        return m
