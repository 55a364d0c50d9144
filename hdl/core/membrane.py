"""The membrane readout: the last layer's membranes out after the counts (``membrane_max``,
``membrane_final``)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...config import ClassifyConfig, CoreConfig, bits_for
from .layouts import membrane_layout, neuron_word_layout
from .weights import read_layout, write_layout

__all__ = ["MEMBRANE_MODES", "MembraneReadout", "membrane_mode"]

#: The core's membrane readout of each ``classify.readout`` that scores membranes.
MEMBRANE_MODES = {"membrane_max": "max", "membrane_final": "final"}


def membrane_mode(classify: ClassifyConfig) -> str | None:
    """The membrane readout a configuration's last layer needs: ``"max"``, ``"final"`` or
    ``None`` (a readout of spike counts).  The one place the RTL learns the readout."""
    return MEMBRANE_MODES.get(classify.readout)


class MembraneReadout(wiring.Component):
    """Sends the ``W = neurons_per_pe`` membrane words of a sample, one token per word
    (``membrane_layout``), two cycles a word (read, send).

    ``mode = "final"``: the membranes after the last timestep, read from the neuron store.
    ``mode = "max"``: for each neuron the maximum over the sample's timesteps of its
    membrane after the timestep (reset included), as the golden ``v_max``: a memory of
    ``W`` words beside the neuron store, written one cycle after each neuron word the
    neuron pass writes back, with that word's membranes at timestep 0 (``max(v_min, v) =
    v``) and ``max(vmax, v)`` lane by lane after.  The neuron pass writes each word once a
    timestep, so the read of a word and its write never meet another write of it.

    Parameters
    ----------
    core : CoreConfig
    mode : "max" or "final"

    Members
    -------
    start : In(1)
    done : Out(1)
        High in the cycle the last membrane word is taken.
    membranes : Out(stream.Signature(membrane_layout(core)))
    written : In(write_layout)  /  first : In(1)
        ``"max"`` only: the neuron pass's write-back of a word, and whether the timestep is
        the sample's first.
    store_read : Out  /  stored : In
        ``"final"`` only: the neuron store.
    """

    def __init__(self, core: CoreConfig, mode: str) -> None:
        if not isinstance(core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {core!r}")
        if mode not in MEMBRANE_MODES.values():
            raise ValueError(f"mode must be one of {tuple(MEMBRANE_MODES.values())}, "
                             f"not {mode!r}")
        self._core, self._mode = core, mode
        addr = bits_for(core.derived.neurons_per_pe - 1)
        super().__init__({
            "start": In(1),
            "done": Out(1),
            "membranes": Out(stream.Signature(membrane_layout(core))),
            **({"written": In(write_layout(addr, neuron_word_layout(core))), "first": In(1)}
               if mode == "max" else
               {"store_read": Out(read_layout(addr)), "stored": In(neuron_word_layout(core))}),
        })

    @property
    def mode(self) -> str:
        """``"max"`` or ``"final"``."""
        return self._mode

    def elaborate(self, platform) -> Module:
        m = Module()
        P, W = self._core.n_pe, self._core.derived.neurons_per_pe
        k = Signal(bits_for(W - 1))
        reading = Signal()
        word = membrane_layout(self._core)["v"].shape
        if self._mode == "final":
            m.d.comb += self.store_read.eq(Cat(reading, k))
            source = Cat(self.stored[p].v for p in range(P))
        else:
            source = self._running_max(m, reading, k, word)
        m.d.comb += [
            self.membranes.payload.word.eq(k),
            self.membranes.payload.v.eq(source),
            self.membranes.payload.last.eq(k == W - 1),
        ]
        with m.FSM(name="membranes"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += k.eq(0)
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += reading.eq(1)
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [reading.eq(1), self.membranes.valid.eq(1)]
                with m.If(self.membranes.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == W - 1):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ"
        return m

    def _running_max(self, m: Module, reading, k, word):
        """The running-maximum memory; returns its read data (word ``k`` while
        ``reading``)."""
        P, W = self._core.n_pe, self._core.derived.neurons_per_pe
        m.submodules.vmax = memory = Memory(shape=word, depth=W, init=[])
        rd, wr = memory.read_port(), memory.write_port()
        written = self.written
        # the write-back's word read now, its maximum written the next cycle
        pending = Signal(written.shape(), name="pending")
        pending_first = Signal(name="pending_first")
        m.d.sync += [pending.eq(written), pending_first.eq(self.first)]
        m.d.comb += [
            rd.addr.eq(Mux(reading, k, written.addr)),
            wr.en.eq(pending.en),
            wr.addr.eq(pending.addr),
        ]
        for p in range(P):
            v = pending.data[p].v
            m.d.comb += wr.data[p].eq(Mux(pending_first | (v > rd.data[p]), v, rd.data[p]))
        return rd.data
