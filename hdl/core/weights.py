"""The weight store: the core's weight memory in row banks, shared by the passes."""

from __future__ import annotations

from amaranth import Array, Cat, Module, Signal, Value, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ...config import CoreConfig, bits_for
from .layouts import weight_word_layout
from .pipeline import delay, shared

__all__ = ["WeightStore", "read_layout", "write_layout"]


def read_layout(addr_bits: int) -> data.StructLayout:
    """A read request: ``en``, ``addr`` (the data arrives the next cycle)."""
    return data.StructLayout({"en": 1, "addr": unsigned(addr_bits)})


def write_layout(addr_bits: int, shape) -> data.StructLayout:
    """A write request: ``en``, ``addr``, ``data``."""
    return data.StructLayout({"en": 1, "addr": unsigned(addr_bits), "data": shape})


class WeightStore(wiring.Component):
    """``n_inputs * W`` words of ``n_pe`` weights (``W = neurons_per_pe``): word
    ``j * W + k`` holds the weights from input ``j`` to neurons ``k * n_pe ...``.

    With ``R = row_banks`` banks, input ``j`` is in bank ``j % R`` at word
    ``(j // R) * W + k`` (bit fields of the flat address, ``W`` a power of two), so the
    neuron pass reads one row of every bank per cycle.  The passes never overlap; each has
    its own request members, served in the order neuron pass, learn pass, normalization,
    access (the default).

    Parameters
    ----------
    core : CoreConfig
    rule_passes : tuple of str
        The learning rule's passes that read and write weights: some of ``("learn",
        "normalize")``.

    Members
    -------
    rows : In(read_layout) with ``addr`` an array of ``R`` in-bank addresses
        The neuron pass: one word of every bank; ``bank_data`` the next cycle.
    learn_read, normalize_read : In(read_layout(flat address))
        One word; ``data`` the next cycle.
    access_addr : In(flat address)
        The word read (and written) between samples.
    learn_write, normalize_write : In(write_layout), and ``access_write``
        Write one word (the first enabled of them).
    """

    def __init__(self, core: CoreConfig, rule_passes: tuple[str, ...] = ("learn", "normalize")
                 ) -> None:
        self._core = core
        self._passes = tuple(name for name in ("learn", "normalize") if name in rule_passes)
        W, R = core.derived.neurons_per_pe, core.row_banks
        word = weight_word_layout(core)
        flat = bits_for(core.n_inputs * W - 1)
        self._bank_depth = (core.n_inputs // R) * W
        in_bank = data.ArrayLayout(unsigned(bits_for(self._bank_depth - 1)), R)
        super().__init__({
            "rows": In(data.StructLayout({"en": 1, "addr": in_bank})),
            "bank_data": Out(data.ArrayLayout(word, R)),
            **{f"{name}_read": In(read_layout(flat)) for name in self._passes},
            "access_addr": In(flat),
            "data": Out(word),
            **{f"{name}_write": In(write_layout(flat, word)) for name in self._passes},
            "access_write": In(write_layout(flat, word)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        W, R = core.derived.neurons_per_pe, core.row_banks
        banks = []
        for b in range(R):
            banks.append(Memory(shape=weight_word_layout(core), depth=self._bank_depth,
                                init=[]))
            m.submodules["weights" if R == 1 else f"weights{b}"] = banks[-1]
        reads = [bank.read_port() for bank in banks]
        writes = [bank.write_port() for bank in banks]
        for b in range(R):
            m.d.comb += self.bank_data[b].eq(reads[b].data)

        # a flat address: bank j % R is the bit field above the W words of a row
        if R == 1:
            def bank_of(addr):
                return 0

            def in_bank(addr):
                return addr
        else:
            k_bits, b_bits = exact_log2(W), exact_log2(R)

            def bank_of(addr):
                return Value.cast(addr)[k_bits:k_bits + b_bits]

            def in_bank(addr):
                addr = Value.cast(addr)
                return Cat(addr[:k_bits], addr[k_bits + b_bits:])

        if R == 1:
            m.d.comb += self.data.eq(reads[0].data)

            def read(addr):
                return [reads[0].addr.eq(addr)]
        else:
            read_bank = Signal(range(R))        # the bank of the flat address read
            m.d.comb += self.data.eq(Array(rd.data.as_value() for rd in reads)[
                delay(m, read_bank, 1, "read_bank")])

            def read(addr):
                return [*(rd.addr.eq(in_bank(addr)) for rd in reads),
                        read_bank.eq(bank_of(addr))]

        rule_reads = [getattr(self, f"{name}_read") for name in self._passes]
        shared(m, [
            (self.rows.en, [rd.addr.eq(self.rows.addr[b]) for b, rd in enumerate(reads)]),
            *((request.en, read(request.addr)) for request in rule_reads),
        ], read(self.access_addr))

        def write(request, en):
            return [stmt for b, wr in enumerate(writes) for stmt in (
                wr.addr.eq(in_bank(request.addr)), wr.data.eq(request.data),
                wr.en.eq(en & (bank_of(request.addr) == b)))]

        rule_writes = [getattr(self, f"{name}_write") for name in self._passes]
        shared(m, [(request.en, write(request, 1)) for request in rule_writes],
               write(self.access_write, self.access_write.en))
        return m
