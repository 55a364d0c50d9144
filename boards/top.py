"""Board top: the host-linked core on an Artix-7 board's pins.

``BoardTop`` adds to :class:`~plasticore.boards.link.LinkedCore` what only a real board
has: the core clock (the oscillator itself, or an MMCM where the configuration asks for
another frequency), a synchronized reset (reset button, MMCM lock), the UART pins and the
status LEDs.  Everything below the pins is simulated by the board testbench; this file is
what only synthesis sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from ..config import Config, ConfigError
from .catalog import Board, board_named
from .link import LinkedCore

__all__ = ["Mmcm", "mmcm_for", "BoardTop"]

# Artix-7 -1 speed grade MMCM limits (DS181, "MMCM Switching Characteristics").
_VCO_HZ = (600e6, 1200e6)
_PFD_HZ = (10e6, 450e6)


@dataclass(frozen=True)
class Mmcm:
    """MMCME2 settings: ``f_out = f_in * mult / (divclk * divide)``."""

    divclk: int
    mult: int
    divide: int
    f_in: int

    @property
    def f_vco(self) -> float:
        return self.f_in * self.mult / self.divclk

    @property
    def f_out(self) -> float:
        return self.f_vco / self.divide


def mmcm_for(f_in: int, f_out: int) -> Mmcm:
    """Integer MMCM settings that make exactly ``f_out`` from ``f_in`` (highest VCO wins:
    least jitter); :class:`ConfigError` when no setting does."""
    best: Mmcm | None = None
    for divclk in range(1, 107):
        if not _PFD_HZ[0] <= f_in / divclk <= _PFD_HZ[1]:
            continue
        for mult in range(2, 65):
            setting = Mmcm(divclk, mult, 1, f_in)
            if not _VCO_HZ[0] <= setting.f_vco <= _VCO_HZ[1]:
                continue
            divide, rest = divmod(f_in * mult, divclk * f_out)
            if rest or not 1 <= divide <= 128:
                continue
            setting = Mmcm(divclk, mult, divide, f_in)
            if best is None or setting.f_vco > best.f_vco:
                best = setting
    if best is None:
        raise ConfigError(f"board.clock_mhz = {f_out / 1e6:g}: no MMCM setting makes it "
                          f"exactly from the {f_in / 1e6:g} MHz oscillator")
    return best


class BoardTop(Elaboratable):
    """The core and its UART host link on ``board`` (default: the config's board).

    Clock: ``config.board.clock_mhz``.  Reset: the board's reset button or MMCM unlock,
    released synchronously.  LEDs, in order: idle (blinks ~1 Hz), learning, busy, error.
    """

    def __init__(self, config: Config, board: Board | str | None = None) -> None:
        self.config = config
        self.board = board_named(board or config.board.name) if not isinstance(
            board, Board) else board
        self.clock_hz = config.board.clock_hz
        self.mmcm = (None if self.clock_hz == self.board.oscillator_hz
                     else mmcm_for(self.board.oscillator_hz, self.clock_hz))

    def elaborate(self, platform) -> Module:
        m = Module()
        m.domains.sync = ClockDomain("sync")
        self._clocking(m, platform)

        m.submodules.linked = linked = LinkedCore(self.config)

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.d.comb += [linked.rx.eq(uart_rx.i), uart_tx.o.eq(linked.tx)]

        status = [linked.status.idle, linked.status.learning, linked.status.busy,
                  linked.status.error]
        # The idle LED blinks (a design that is alive), the others follow their flag.
        blink = Signal(range(self.clock_hz // 2))
        blink_on = Signal()
        with m.If(blink == self.clock_hz // 2 - 1):
            m.d.sync += [blink.eq(0), blink_on.eq(~blink_on)]
        with m.Else():
            m.d.sync += blink.eq(blink + 1)
        shown = [status[0] & blink_on, *status[1:]]
        outputs = [platform.request("led", i, dir="-") for i in range(self.board.leds)]
        if self.board.leds < 4:
            # plain LEDs: idle, busy; the RGB LED: green learning, red error
            rgb = platform.request("rgb_led", 0, dir="-")
            shown = [shown[0], shown[2]][:self.board.leds] + [shown[1], shown[3]]
            outputs += [rgb.g, rgb.r]
        for i, (port, value) in enumerate(zip(outputs, shown, strict=True)):
            m.submodules[f"led_{i}"] = led = io.Buffer("o", port)
            m.d.comb += led.o.eq(value)
        return m

    def _clocking(self, m: Module, platform) -> None:
        clk_pin = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_pin)
        locked = Signal(init=1)
        if self.mmcm is None:
            m.submodules.bufg = Instance("BUFG", i_I=clk_buf.i, o_O=ClockSignal("sync"))
        else:
            s = self.mmcm
            feedback, clk_out = Signal(), Signal()
            locked = Signal()
            m.submodules.mmcm = Instance(
                "MMCME2_BASE",
                p_CLKIN1_PERIOD=1e9 / s.f_in, p_DIVCLK_DIVIDE=s.divclk,
                p_CLKFBOUT_MULT_F=float(s.mult), p_CLKOUT0_DIVIDE_F=float(s.divide),
                i_CLKIN1=clk_buf.i, i_CLKFBIN=feedback, o_CLKFBOUT=feedback,
                o_CLKOUT0=clk_out, o_LOCKED=locked, i_PWRDWN=0, i_RST=0)
            m.submodules.bufg = Instance("BUFG", i_I=clk_out, o_O=ClockSignal("sync"))
            platform.add_clock_constraint(clk_out, s.f_out)
        reset = ~locked
        if self.board.reset is not None:
            m.submodules.reset_button = button = io.Buffer(
                "i", platform.request(*self.board.reset, dir="-"))
            reset = reset | button.i
        m.submodules.reset_sync = ResetSynchronizer(reset, domain="sync")
