"""The encode pass: a timestep's input spikes, ``encoder.lanes`` inputs per cycle."""

from __future__ import annotations

from typing import Any

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from ...golden.lfsr import STREAM_INPUT, base_states
from ..cycles import pass_depths
from ..encoder import ENCODER_LATENCY, RateEncoder
from ..lfsr import STATE_BITS
from ..trace import TRACE_LATENCY, TraceUnit
from .layouts import input_stream, pixel_word_layout
from .pipeline import Drain, delay, delay_valid, shared
from .rows import append_layout
from .weights import read_layout

__all__ = ["EncodePass", "generates"]


class EncodePass(wiring.Component):
    """Encodes one timestep: per input word ``c`` (inputs ``c * E .. c * E + E - 1``,
    ``E = encoder.lanes``), step each input's generator (``RateEncoder``), draw its spike
    (or take it from the direct-input raster), update its pre trace (``TraceUnit``), and
    append the word to the row lists.

    Per input it keeps the pixel, the generator state (reseeded from a ROM of base states
    at timestep 0) and the pre trace; state and trace in two banks by timestep parity, so
    the encode pass of timestep ``t + 1`` runs while the neuron and learn passes of ``t``
    read the other bank.  The input spikes come from the pixels through the encoders, or
    from upstream (``raster``): the seam for layers.

    Members
    -------
    pixels : In(stream.Signature(pixel_word_layout(core)))  (rate input)
        The sample's ``n_inputs / E`` pixel words, taken after ``load``.
    raster : In(stream.Signature(unsigned(n_inputs)))  (direct input)
        A timestep's input spikes, input ``j`` at bit ``j``, taken as it is encoded.
    key : In(32)
        The sample key (reseeds the generators at timestep 0).
    load : In(1)
        A new sample: take its pixels (rate input), then encode timestep 0.
    start, timestep, accumulate : In
        Encode ``timestep``; ``accumulate``: its pre events add to those since the last
        STDP update (else they restart: the first timestep of an ``update_every``
        interval).
    busy : Out(1)
        Loading or encoding; low again once the last trace is written.
    rows_clear, rows_bank : Out(1)
        A timestep's row lists start (sync); the row-list bank being filled.
    appended : Out(append_layout(n_inputs, E))
        A word's inputs and their spikes, for the row lists.
    seen : Out(E)
        ``update_every > 1``: the word's inputs with a spike since the last update.
    learn_lookup, normalize_lookup : In(read_layout)
        Read the generator states and pre traces of input word ``addr`` in ``lookup_bank``
        (normalization first); ``lookup_state`` and ``lookup_trace`` the next cycle.

    A core that does not learn (``stdp.learn`` false) has none of ``accumulate``,
    ``seen`` and the lookups, and builds no pre trace; nor, with direct input, any
    generator (:func:`generates`; ``key`` goes too): the raster's spikes go through
    registers as deep as the encoders and traces, so the pass takes the same cycles.
    """

    def __init__(self, core: CoreConfig) -> None:
        self._core = core
        E, C = core.encoder.lanes, core.derived.input_words
        word = bits_for(C - 1)
        source, payload = input_stream(core)
        learns = core.stdp.learn               # the members STDP alone needs
        super().__init__({
            source: In(stream.Signature(payload)),
            **({"key": In(STATE_BITS)} if generates(core) else {}),
            "load": In(1),
            "start": In(1),
            "timestep": In(core.derived.timestep_bits),
            **({"accumulate": In(1)} if learns else {}),
            "busy": Out(1),
            "rows_clear": Out(1),
            "rows_bank": Out(1),
            "appended": Out(append_layout(core.n_inputs, E)),
            **({"seen": Out(E),
                "learn_lookup": In(read_layout(word)),
                "normalize_lookup": In(read_layout(word)),
                "lookup_bank": In(1),
                "lookup_state": Out(data.ArrayLayout(unsigned(STATE_BITS), E)),
                "lookup_trace": Out(data.ArrayLayout(unsigned(core.widths.trace), E))}
               if learns else {}),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        N_in, E, C = core.n_inputs, core.encoder.lanes, core.derived.input_words
        direct = core.encoder.kind == "direct"
        # what a core builds (docs/architecture.md, "A core that does not learn"): the
        # generators (pixels, base states, states, encoders) when it draws from them, for
        # the rate encoder or for STDP's rounding; the pre traces and the lookups only
        # when it learns
        learning, generating = core.stdp.learn, generates(core)
        interval = learning and core.stdp.update_every > 1

        # -- per-input memories: C words of E lanes --------------------------------------------
        if generating:
            m.submodules.pixel_mem = pixel_mem = Memory(
                shape=pixel_word_layout(core), depth=C, init=[])
            bases = base_states(core.seed, STREAM_INPUT, N_in)
            m.submodules.input_base = input_base = Memory(
                shape=data.ArrayLayout(unsigned(STATE_BITS), E), depth=C,
                init=[[int(bases[c * E + e]) for e in range(E)] for c in range(C)])
            m.submodules.input_state = input_state = Memory(
                shape=data.ArrayLayout(unsigned(STATE_BITS), E), depth=2 * C, init=[])
        if learning:
            m.submodules.x_pre_mem = x_pre_mem = Memory(
                shape=data.ArrayLayout(unsigned(core.widths.trace), E), depth=2 * C, init=[])
        if generating:
            pix_rd, pix_wr = pixel_mem.read_port(), pixel_mem.write_port()
            base_rd = input_base.read_port()
            ist_rd, ist_wr = input_state.read_port(), input_state.write_port()

        def banked(bank, index):
            """Word ``index`` of ``bank`` of a double-buffered per-input memory."""
            return Mux(bank, C + index, index)

        if learning:
            xpre_rd, xpre_wr = x_pre_mem.read_port(), x_pre_mem.write_port()
            ist_look, xpre_look = input_state.read_port(), x_pre_mem.read_port()
            # -- lookups for the learning rule's passes ------------------------------------------
            look = Signal(bits_for(C - 1))
            shared(m, [(self.normalize_lookup.en, [look.eq(self.normalize_lookup.addr)])],
                   [look.eq(self.learn_lookup.addr)])
            m.d.comb += [ist_look.addr.eq(banked(self.lookup_bank, look)),
                         xpre_look.addr.eq(banked(self.lookup_bank, look)),
                         self.lookup_state.eq(ist_look.data),
                         self.lookup_trace.eq(xpre_look.data)]

        # -- lanes: fixed-latency pipes (outputs always ready, never stalled) --------------------
        lanes = [self._lane(m, e) for e in range(E)]
        encoder = [lane["encoder"] for lane in lanes] if generating else []
        pre_trace = [lane["pre_trace"] for lane in lanes] if learning else []

        # -- the pass: e0 read word c; e1 encoders in; e4 encoders out, traces in; e6 traces out
        issue = Signal()
        t = Signal.like(self.timestep)          # the timestep being encoded
        accumulate = Signal()
        c = Signal(bits_for(C - 1))             # the word being issued
        first, bank = Signal(), Signal()
        m.d.comb += [first.eq(t == 0), bank.eq(t[0]), self.rows_bank.eq(bank)]
        raster_word = Signal(N_in)              # direct input: this timestep's input spikes
        m.d.comb += [
            *([pix_rd.addr.eq(c), base_rd.addr.eq(c),
               ist_rd.addr.eq(banked(~bank, c))] if generating else []),   # previous bank
            *([xpre_rd.addr.eq(banked(~bank, c))] if learning else []),
        ]
        e1_valid = delay_valid(m, issue, 1, "e1_valid")
        e1_c = delay(m, c, 1, "e1_c")
        e1_first = delay(m, first, 1, "e1_first")
        for e in range(len(encoder)):
            m.d.comb += [
                encoder[e].i.valid.eq(e1_valid),
                encoder[e].i.payload.pixel.eq(pix_rd.data[e]),
                encoder[e].i.payload.state.eq(Mux(e1_first, base_rd.data[e], ist_rd.data[e])),
                encoder[e].i.payload.key.eq(self.key),
                encoder[e].i.payload.reseed.eq(e1_first),
            ]
        # without generators, registers as deep as the encoders (the same cycles)
        e4_valid = encoder[0].o.valid if generating else \
            delay_valid(m, e1_valid, ENCODER_LATENCY, "e4_valid")
        e4_c = delay(m, e1_c, ENCODER_LATENCY, "e4_c")
        spikes = Signal(E)                      # e4: the spikes of word c, lane e at bit e
        if direct:
            # the spikes come from the raster; the encoders still step the generators
            m.d.comb += spikes.eq(delay(m, raster_word.word_select(c, E),
                                        1 + ENCODER_LATENCY, "e4_raster"))
        else:
            m.d.comb += spikes.eq(Cat(encoder[e].o.payload.spike for e in range(E)))
        for e in range(E):
            m.d.comb += [
                *([pre_trace[e].i.valid.eq(e4_valid),
                   pre_trace[e].i.payload.x.eq(delay(m, Mux(e1_first, 0, xpre_rd.data[e]),
                                                     ENCODER_LATENCY, f"e4_x{e}")),
                   pre_trace[e].i.payload.spike.eq(spikes[e])] if learning else []),
                *([ist_wr.data[e].eq(encoder[e].o.payload.state)] if generating else []),
                *([xpre_wr.data[e].eq(pre_trace[e].o.payload.x)] if learning else []),
            ]
        m.d.comb += [
            *([ist_wr.addr.eq(banked(bank, e4_c)), ist_wr.en.eq(e4_valid)]
              if generating else []),
            *([xpre_wr.addr.eq(banked(bank, delay(m, e4_c, TRACE_LATENCY, "e6_c"))),
               xpre_wr.en.eq(pre_trace[0].o.valid)] if learning else []),
            self.appended.valid.eq(e4_valid),
            self.appended.word.eq(e4_c),
            self.appended.flags.eq(spikes),
        ]
        if interval:
            # pre events since the last update
            m.submodules.pre_seen = pre_seen = Memory(shape=unsigned(E), depth=2 * C, init=[])
            seen_rd, seen_wr = pre_seen.read_port(), pre_seen.write_port()
            carry = delay(m, Mux(delay(m, accumulate, 1, "e1_carry"), seen_rd.data, 0),
                          ENCODER_LATENCY, "e4_carry")
            m.d.comb += [
                seen_rd.addr.eq(banked(~bank, c)),
                self.seen.eq(spikes | carry),
                seen_wr.addr.eq(banked(bank, e4_c)),
                seen_wr.data.eq(self.seen),
                seen_wr.en.eq(e4_valid),
            ]

        # -- sequence: load the pixels, then encode timestep 0; later timesteps on `start` ---
        load_c = Signal(bits_for(C - 1))        # the pixel word being loaded
        if not direct:
            m.d.comb += [pix_wr.addr.eq(load_c), pix_wr.data.eq(self.pixels.payload)]
        drain = Drain(m, pass_depths(core)["encode"])

        def begin(timestep, add_events):
            m.d.comb += self.rows_clear.eq(1)
            m.d.sync += [t.eq(timestep), c.eq(0), accumulate.eq(add_events)]
            m.next = "FETCH" if direct else "ISSUE"

        with m.FSM(name="encode"):
            with m.State("IDLE"):
                if direct:
                    with m.If(self.load):
                        begin(0, 0)
                else:
                    with m.If(self.load):
                        m.d.sync += load_c.eq(0)
                        m.next = "LOAD"
                with m.Elif(self.start):
                    begin(self.timestep, self.accumulate if learning else 0)
            if not direct:
                with m.State("LOAD"):
                    m.d.comb += [self.busy.eq(1), self.pixels.ready.eq(1),
                                 pix_wr.en.eq(self.pixels.valid)]
                    with m.If(self.pixels.valid):
                        m.d.sync += load_c.eq(load_c + 1)
                        with m.If(load_c == C - 1):
                            begin(0, 0)
            else:
                with m.State("FETCH"):          # the timestep's raster word
                    m.d.comb += [self.busy.eq(1), self.raster.ready.eq(1)]
                    with m.If(self.raster.valid):
                        m.d.sync += raster_word.eq(self.raster.payload)
                        m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += [self.busy.eq(1), issue.eq(1)]
                m.d.sync += c.eq(c + 1)
                with m.If(c == C - 1):
                    drain.load()
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                with m.If(drain.last()):
                    m.next = "IDLE"
        return m

    def _lane(self, m: Module, e: int) -> dict[str, Any]:
        """Lane ``e``'s units, added to ``m``: the rate encoder (the input's generator, when
        the core draws from it: :func:`generates`), and in a core that learns the pre trace
        (``encoder<e>``, ``pre_trace<e>``)."""
        core = self._core
        units: dict[str, Any] = {}
        if generates(core):
            units["encoder"] = RateEncoder(core)
        if core.stdp.learn:
            units["pre_trace"] = TraceUnit(core, "pre")
        for name, unit in units.items():
            m.submodules[f"{name}{e}"] = unit
        m.d.comb += [unit.o.ready.eq(1) for unit in units.values()]
        return units


def generates(core: CoreConfig) -> bool:
    """Whether a core draws from its input generators: for the rate encoder's spikes, or
    (learning) for STDP's stochastic rounding and normalization draws, which step them with
    direct input too.  A core with direct input that does not learn builds none."""
    return core.encoder.kind == "rate" or core.stdp.learn
