"""The Artix-7 boards plasticore builds for, by the names the command line takes.

Every board is an amaranth-boards platform plus what the top needs to know about it: the
status LEDs it has and the button that resets the design.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.vendor import XilinxPlatform
from amaranth_boards.arty_a7 import ArtyA7_35Platform, ArtyA7_100Platform
from amaranth_boards.cmod_a7 import CmodA7_35Platform
from amaranth_boards.nexys4ddr import Nexys4DDRPlatform

from ..config import BOARD_NAMES, ConfigError
from .nexys_video import NexysVideoPlatform

__all__ = ["Board", "BOARDS", "board_named"]


@dataclass(frozen=True)
class Board:
    """One supported board.

    Members
    -------
    name : str
        Command-line name (``arty_a7_35``).
    title : str
        What the board is called on its box.
    platform : type
        The amaranth-boards platform class.
    leds : int
        Plain LEDs the top drives with status (idle, learning, busy, error, in that order;
        a board with fewer shows idle and busy on them, and learning and error on its first
        RGB LED, green and red).
    reset : tuple of (resource name, number) or None
        The button that resets the design (the platform's ``default_rst`` where it has one).
    """

    name: str
    title: str
    platform: type[XilinxPlatform]
    leds: int
    reset: tuple[str, int] | None

    @property
    def part(self) -> str:
        """Xilinx part, as Vivado spells it (``xc7a35ticsg324-1L``)."""
        p = self.platform
        return f"{p.device}{p.package}-{p.speed}"

    @property
    def oscillator_hz(self) -> int:
        """Frequency of the board's default clock input."""
        return int(self.platform().default_clk_frequency)


BOARDS: dict[str, Board] = {b.name: b for b in (
    Board("arty_a7_35", "Digilent Arty A7-35T", ArtyA7_35Platform, 4, ("rst", 0)),
    Board("arty_a7_100", "Digilent Arty A7-100T", ArtyA7_100Platform, 4, ("rst", 0)),
    Board("nexys_a7_100", "Digilent Nexys A7-100T (Nexys 4 DDR)", Nexys4DDRPlatform, 4,
          ("rst", 0)),
    Board("cmod_a7_35", "Digilent Cmod A7-35T", CmodA7_35Platform, 2, ("button", 0)),
    Board("nexys_video", "Digilent Nexys Video (Artix-7 200T)", NexysVideoPlatform, 4,
          ("rst", 0)),
)}
assert tuple(BOARDS) == BOARD_NAMES


def board_named(name: str) -> Board:
    """The board called ``name``; an unknown name is a :class:`ConfigError` listing them."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ConfigError(f"unknown board {name!r} (known: {', '.join(BOARDS)})") from None
