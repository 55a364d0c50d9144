"""The neuron store: the state of every neuron, ``n_pe`` neurons to a word."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from .layouts import bias_word_layout, neuron_word_layout
from .pipeline import shared
from .weights import read_layout, write_layout

__all__ = ["NeuronStore", "READERS"]

#: The passes that may read neuron words, in priority order (they never overlap); access,
#: the last, reads when none of the others is enabled.
READERS = ("neurons", "learn", "normalize", "counts", "membranes", "access")


class NeuronStore(wiring.Component):
    """``W = neurons_per_pe`` words of ``n_pe`` neurons' state (``neuron_layout``: membrane,
    refractory count, adaptive threshold, spike, post trace, count, generator state).

    With ``widths.bias > 0`` also ``W`` bias words (``bias_word_layout``: ``n_pe`` signed
    ``widths.bias``-bit biases), a memory of their own read at the same address as the
    state (so the reader that reads word ``k``'s state gets its biases in the same cycle)
    and written only by access: the neuron pass never writes a bias back.

    Parameters
    ----------
    core : CoreConfig
    readers : tuple of str
        The passes of the core that read neuron words (those of :data:`READERS` it has).

    Members
    -------
    <reader>_read : In(read_layout) for each of ``readers``
        Read word ``addr``; ``data`` the next cycle.
    neurons_write, access_write : In(write_layout)
        The neuron pass writes back each word it updates; access writes thresholds.
    bias : Out(bias_word_layout)  /  bias_write : In(write_layout)
        With ``widths.bias > 0`` only: the bias word read (beside ``data``); access writes
        one.
    """

    def __init__(self, core: CoreConfig, readers: tuple[str, ...] = READERS) -> None:
        self._core = core
        self._readers = tuple(name for name in READERS if name in readers)
        if self._readers[-1] != "access" or len(self._readers) != len(set(readers)):
            raise ValueError(f"readers must be some of {READERS}, with access, not {readers}")
        addr = bits_for(core.derived.neurons_per_pe - 1)
        word = neuron_word_layout(core)
        super().__init__({
            **{f"{name}_read": In(read_layout(addr)) for name in self._readers},
            "data": Out(word),
            "neurons_write": In(write_layout(addr, word)),
            "access_write": In(write_layout(addr, word)),
            **({"bias": Out(bias_word_layout(core)),
                "bias_write": In(write_layout(addr, bias_word_layout(core)))}
               if core.widths.bias else {}),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.neurons = memory = Memory(
            shape=neuron_word_layout(self._core), depth=self._core.derived.neurons_per_pe,
            init=[])
        rd, wr = memory.read_port(), memory.write_port()
        m.d.comb += self.data.eq(rd.data)
        requests = [getattr(self, f"{name}_read") for name in self._readers]
        shared(m, [(r.en, [rd.addr.eq(r.addr)]) for r in requests[:-1]],
               [rd.addr.eq(requests[-1].addr)])
        if self._core.widths.bias:
            m.submodules.bias = bias = Memory(
                shape=bias_word_layout(self._core), depth=self._core.derived.neurons_per_pe,
                init=[])
            bias_rd, bias_wr = bias.read_port(), bias.write_port()
            m.d.comb += [
                bias_rd.addr.eq(rd.addr),
                self.bias.eq(bias_rd.data),
                bias_wr.addr.eq(self.bias_write.addr),
                bias_wr.data.eq(self.bias_write.data),
                bias_wr.en.eq(self.bias_write.en),
            ]
        shared(m, [(self.neurons_write.en, [wr.addr.eq(self.neurons_write.addr),
                                            wr.data.eq(self.neurons_write.data), wr.en.eq(1)])],
               [wr.addr.eq(self.access_write.addr), wr.data.eq(self.access_write.data),
                wr.en.eq(self.access_write.en)])
        return m
