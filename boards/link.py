"""The host link: the network core behind a framed UART protocol (work in progress)."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import Config
from ..hdl.core import SnnCore

__all__ = ["status_layout", "LinkedCore"]

#: Status flags the board shows on its LEDs.
status_layout = data.StructLayout({"idle": 1, "learning": 1, "busy": 1, "error": 1})


class LinkedCore(wiring.Component):
    """``SnnCore`` with a UART host link; ``rx``/``tx`` are the line levels (idle high)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "status": Out(status_layout)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = core = SnnCore(self.config.core)
        m.d.comb += [self.tx.eq(1), self.status.busy.eq(core.busy),
                     self.status.idle.eq(~core.busy)]
        return m
