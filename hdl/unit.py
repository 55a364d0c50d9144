"""What every processing element shares: a pipelined datapath from stream ``i`` to stream ``o``.

:class:`StreamUnit` declares the two stream members, keeps the configuration, and gives the
global stall every unit uses (:meth:`StreamUnit.advance`).  A unit's latency is the one the
cycle model states (``plasticore.hdl.cycles``); the Amaranth-simulator tests measure each
unit's actual latency against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import CoreConfig

__all__ = ["StreamUnit"]


class StreamUnit(wiring.Component):
    """A processing element: one token per clock cycle from ``i`` to ``o``, in order.

    Parameters
    ----------
    core : CoreConfig
        The configuration the unit is built for.
    input_layout, output_layout : function of the configuration
        The payload layouts of ``i`` and ``o`` (e.g. ``lif_input_layout``).

    Members
    -------
    i : In(stream.Signature(input_layout(core)))
    o : Out(stream.Signature(output_layout(core)))
    """

    def __init__(self, core: CoreConfig, input_layout: Callable[[CoreConfig], Any],
                 output_layout: Callable[[CoreConfig], Any]) -> None:
        if not isinstance(core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {core!r}")
        self._core = core
        super().__init__({
            "i": In(stream.Signature(input_layout(core))),
            "o": Out(stream.Signature(output_layout(core))),
        })

    @property
    def core(self) -> CoreConfig:
        """The configuration the unit was built for."""
        return self._core

    @property
    def latency(self) -> int:
        """Clock cycles from an input transfer to its output being valid, with no stalls.

        A token accepted on the rising edge that ends cycle ``c`` (``i.valid & i.ready``
        during cycle ``c``) is on ``o`` with ``o.valid`` during cycle ``c + latency``.
        """
        raise NotImplementedError

    def advance(self, m: Module) -> Signal:
        """The global stall: a signal, high when the whole pipeline moves one step, which is
        when the output register is empty or being read (``~o.valid | o.ready``); it is
        also ``i.ready``."""
        advance = Signal()
        m.d.comb += [
            advance.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(advance),
        ]
        return advance
