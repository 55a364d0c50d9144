"""The current pass: with current input, every neuron's constant current, once per sample."""

from __future__ import annotations

import operator

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from ..cycles import pass_depths
from .layouts import current_word_layout, pixel_word_layout, weight_word_layout
from .pipeline import Drain, delay, delay_valid, lane_of, select, tree, word_of
from .rows import RowList

__all__ = ["CurrentPass"]


class CurrentPass(wiring.Component):
    """Current input (``encoder.kind = "current"``, ``docs/numerics.md``): takes a sample's
    pixels and computes every neuron's pixel current

        I0[i] = 2**current_shift * sum_j pixel_j * w[j, i]     (membrane LSBs)

    once, into a memory of ``W = neurons_per_pe`` words of ``n_pe`` currents
    (``current_word_layout``, ``derived.current_bits`` each: it holds every such sum), which
    the neuron pass reads with the neuron state at every timestep (it adds the bias there).
    There are no input spikes and nothing else to do per timestep.

    Loading: ``n_inputs / E`` pixel words (``E = encoder.lanes``), one per cycle, into
    pixel memories and, the non-zero pixels flagged, into row lists (:class:`~.rows.RowList`),
    one of each per weight row bank (``R = row_banks``; pixel ``j`` in bank ``j % R``, as
    its weights): the zero pixels (most of an image) cost nothing.  Then for each word
    ``k``, ``max(Ab, 1)`` tokens (``Ab`` the most non-zero pixels in one bank; a token past
    a bank's list adds nothing there): token ``a`` multiplies, in every bank, the ``n_pe``
    weights of the row in slot ``a`` by its pixel, and adds the ``R`` products.  The
    multiply is Amaranth's ``*`` (``pixel_bits`` unsigned by ``widths.weight``, one DSP48
    per lane and bank on the Artix-7, product registered): a shift-add over the pixel's
    bits would take ``pixel_bits`` cycles per pixel, and the pass is the largest share of
    a sample's cycles.  Stages: c0 read slot ``a``; c1 read the weight words and the pixel
    words; c2 multiply (registered: the DSP's M register); c3 add the banks' products
    (registered); c4 add to the word's sum, and at its last token write it
    (``hdl.cycles.pass_depths``: ``current``).

    Cycles after the last pixel word until ``busy`` falls: ``depth["settle"]`` (the
    lists' last writes landing)
    ``+ W * max(Ab, 1) + depth["current"]`` (``hdl.cycles.current_cycles``).

    Members
    -------
    pixels : In(stream.Signature(pixel_word_layout(core)))
        The sample's ``n_inputs / E`` pixel words, taken after ``load``: pixel ``j`` in
        lane ``j % E`` of word ``j // E``.
    load : In(1)
        A new sample: take its pixels, then compute the currents.
    busy : Out(1)
        Loading or computing; low once the last word of currents is written.
    weights_rows : Out  /  weights : In
        The weight store's row port (as the neuron pass's): one word of every bank by
        in-bank address; the words, one cycle later.
    constant_addr : In(bits_for(W - 1))  /  constant : Out(current_word_layout(core))
        Read the currents of neuron word ``constant_addr``; ``constant`` the next cycle.
    """

    def __init__(self, core: CoreConfig) -> None:
        if core.encoder.kind != "current":
            raise ValueError(f"the current pass takes current input, not "
                             f"encoder.kind = {core.encoder.kind!r}")
        self._core = core
        R, W = core.row_banks, core.derived.neurons_per_pe
        bank_depth = core.n_inputs // R * W
        super().__init__({
            "pixels": In(stream.Signature(pixel_word_layout(core))),
            "load": In(1),
            "busy": Out(1),
            "weights_rows": Out(data.StructLayout({
                "en": 1, "addr": data.ArrayLayout(bits_for(bank_depth - 1), R)})),
            "weights": In(data.ArrayLayout(weight_word_layout(core), R)),
            "constant_addr": In(bits_for(W - 1)),
            "constant": Out(current_word_layout(core)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        N_in, E, C = core.n_inputs, core.encoder.lanes, core.derived.input_words
        P, W, R = core.n_pe, core.derived.neurons_per_pe, core.row_banks
        B = E // R                              # lanes per bank: pixel j in bank j % R
        depth = pass_depths(core)

        # -- per bank b (inputs j = r * R + b, row r): its pixels, the list of its non-zero
        #    ones; pixel word c's lanes b, b + R, ... are the bank's word c
        pixel_mems, lists = [], []
        for b in range(R):
            m.submodules[f"pixel_mem{b}"] = memory = Memory(
                shape=data.ArrayLayout(unsigned(core.encoder.pixel_bits), B), depth=C,
                init=[])
            m.submodules[f"rows{b}"] = rows = RowList(N_in // R, B, ("current",))
            pixel_mems.append(memory)
            lists.append(rows)
        pix_wr = [mem.write_port() for mem in pixel_mems]
        pix_rd = [mem.read_port() for mem in pixel_mems]
        m.submodules.currents = currents = Memory(
            shape=current_word_layout(core), depth=W, init=[])
        cur_rd, cur_wr = currents.read_port(), currents.write_port()
        m.d.comb += [cur_rd.addr.eq(self.constant_addr), self.constant.eq(cur_rd.data)]

        # -- load: pixel word c into the memories and the lists (non-zero pixels flagged);
        #    each list's append driven whole (valid, word, flags), no field alone
        load_c = Signal(bits_for(C - 1))
        appending = Signal()
        for b in range(R):
            lanes = [self.pixels.payload[e] for e in range(b, E, R)]
            m.d.comb += [
                pix_wr[b].addr.eq(load_c), pix_wr[b].data.eq(Cat(*lanes)),
                pix_wr[b].en.eq(appending),
                lists[b].append.eq(Cat(appending, load_c,
                                       Cat(*(pixel != 0 for pixel in lanes)))),
            ]

        # -- the pass: token a of word k, slot a of every bank's list ------------------------
        issue = Signal()
        k = Signal(bits_for(W - 1))
        a = Signal(bits_for(N_in // R - 1))
        # the word's last token: every bank's list (final once the appends have landed)
        # ends at the next slot; one compare per bank, no longest list to find
        last = Signal()
        m.d.comb += last.eq(Cat(*(rows.flagged <= a + 1 for rows in lists)).all())
        c1_valid = delay_valid(m, issue, 1, "c1_valid")
        c1_k = delay(m, k, 1, "c1_k")
        m.d.comb += self.weights_rows.en.eq(c1_valid)
        products = []
        for b, rows in enumerate(lists):
            m.d.comb += [rows.current_en.eq(issue), rows.current_slot.eq(a),
                         self.weights_rows.addr[b].eq(rows.row * W + c1_k),
                         pix_rd[b].addr.eq(word_of(rows.row, B))]
            c2_lane = delay(m, lane_of(rows.row, B), 1, f"c2_lane{b}") if B > 1 else None
            c2_has = delay(m, a < rows.flagged, 2, f"c2_has{b}")
            pixel = Mux(c2_has, select([pix_rd[b].data[e] for e in range(B)], c2_lane, B), 0)
            product = Signal(current_word_layout(core), name=f"product{b}", reset_less=True)
            for p in range(P):
                m.d.sync += product[p].eq(pixel * self.weights[b][p])
            products.append(product)
        added = Signal(current_word_layout(core), reset_less=True)  # the banks' products
        for p in range(P):
            m.d.sync += added[p].eq(tree((product[p] for product in products), operator.add))
        c4_valid = delay_valid(m, c1_valid, 3, "c4_valid")
        c4_k = delay(m, c1_k, 3, "c4_k")
        c4_first = delay(m, a == 0, 4, "c4_first")
        c4_last = delay(m, last, 4, "c4_last")
        total = Signal(current_word_layout(core))   # the word's running sum, unshifted
        summed = Signal.like(total)
        for p in range(P):
            m.d.comb += [summed[p].eq(Mux(c4_first, 0, total[p]) + added[p]),
                         cur_wr.data[p].eq(summed[p] << core.widths.current_shift)]
        with m.If(c4_valid):
            m.d.sync += total.eq(summed)
        m.d.comb += [cur_wr.addr.eq(c4_k), cur_wr.en.eq(c4_valid & c4_last)]

        # -- sequence: load the pixels, let the lists settle, then every word ----------------
        settle = Drain(m, depth["settle"]) if depth["settle"] else None
        drain = Drain(m, depth["current"])

        def begin():
            m.d.sync += [k.eq(0), a.eq(0)]
            m.next = "ISSUE"

        with m.FSM(name="current"):
            with m.State("IDLE"):
                with m.If(self.load):
                    m.d.comb += [rows.clear.eq(1) for rows in lists]
                    m.d.sync += load_c.eq(0)
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), self.pixels.ready.eq(1),
                             appending.eq(self.pixels.valid)]
                with m.If(self.pixels.valid):
                    m.d.sync += load_c.eq(load_c + 1)
                    with m.If(load_c == C - 1):
                        if settle is None:
                            begin()
                        else:
                            settle.load()
                            m.next = "SETTLE"
            if settle is not None:
                with m.State("SETTLE"):
                    m.d.comb += self.busy.eq(1)
                    with m.If(settle.last()):
                        begin()
            with m.State("ISSUE"):
                m.d.comb += [self.busy.eq(1), issue.eq(1)]
                with m.If(last):
                    m.d.sync += [a.eq(0), k.eq(k + 1)]
                    with m.If(k == W - 1):
                        drain.load()
                        m.next = "DRAIN"
                with m.Else():
                    m.d.sync += a.eq(a + 1)
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                with m.If(drain.last()):
                    m.next = "IDLE"
        return m
