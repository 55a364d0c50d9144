"""cocotb testbench of the runner smoke design, a saturating up/down counter.

This module runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_smoke")``).
It also holds what
both sides share, so there is one definition of each: :class:`SmokeConfig`, the stream
payload layouts and the Python :func:`model`. ``test_runner.py`` imports them to build the
Amaranth design.

Environment
-----------
``SMOKE_CONFIG``
    :class:`SmokeConfig` as JSON.
``SMOKE_CORRUPT``
    ``1`` corrupts one expected value, so the checker must fail (tests the harness).
"""

from __future__ import annotations

import json
import os
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import cocotb
from amaranth import signed, unsigned
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


@dataclass(frozen=True)
class SmokeConfig:
    """Elaboration parameters of the smoke counter.

    Members
    -------
    width : int
        Counter bits; the count saturates at 0 and ``2**width - 1``.
    step_width : int
        Bits of the signed step in each command.
    commands : int
        Commands each cocotb test sends.
    """

    width: int = 4
    step_width: int = 3
    commands: int = 200

    def to_json(self) -> str:
        """Serialise for ``SMOKE_CONFIG``."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SmokeConfig:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def command_layout(cfg: SmokeConfig) -> data.StructLayout:
    """Input payload: a signed ``step``, or ``clear`` to zero the count."""
    return data.StructLayout({"step": signed(cfg.step_width), "clear": 1})


def output_layout(cfg: SmokeConfig) -> data.StructLayout:
    """Output payload: the new ``count`` and whether this command hit a rail."""
    return data.StructLayout({"count": unsigned(cfg.width), "saturated": 1})


def model(cfg: SmokeConfig, commands: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Expected ``(count, saturated)`` after each ``(step, clear)`` command.

    ``count + step`` is clamped to ``[0, 2**width - 1]``; ``saturated`` is 1 when it was
    clamped. ``clear`` sets the count to 0 (not saturated) and ignores the step.
    """
    top = (1 << cfg.width) - 1
    count = 0
    out = []
    for step, clear in commands:
        if clear:
            count, saturated = 0, 0
        else:
            total = count + step
            saturated = int(total < 0 or total > top)
            count = min(max(total, 0), top)
        out.append((count, saturated))
    return out


class Testbench:
    """Driver, sink with backpressure and in-order checker around the counter.

    Members
    -------
    expected : deque of (int, int)
        Model outputs not yet seen on the output stream.
    errors : int
        Mismatches seen by the checker.
    """

    def __init__(self, dut: Any, cfg: SmokeConfig, rng: random.Random) -> None:
        self.dut = dut
        self.cfg = cfg
        self.rng = rng
        self.cmd_layout = command_layout(cfg)
        self.out_layout = output_layout(cfg)
        self.expected: deque[tuple[int, int]] = deque()
        self.received = 0
        self.errors = 0

    async def start(self) -> None:
        """Start the clock and put the inputs in their idle state."""
        Clock(self.dut.clk, 10, unit="ns").start()
        self.dut.cmd__valid.value = 0
        self.dut.cmd__payload.value = 0
        self.dut.out__ready.value = 0

    async def reset(self, cycles: int = 2) -> None:
        """Hold the synchronous reset for *cycles* clock edges."""
        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def drive(self, commands: Sequence[tuple[int, int]], idle: float) -> None:
        """Send *commands*, idling before each with probability *idle* per cycle."""
        dut = self.dut
        for step, clear in commands:
            while self.rng.random() < idle:
                dut.cmd__valid.value = 0
                await RisingEdge(dut.clk)
            dut.cmd__valid.value = 1
            dut.cmd__payload.value = self.cmd_layout.const({"step": step, "clear": clear}).as_bits()
            while True:
                await ReadOnly()
                accepted = bool(dut.cmd__ready.value)
                await RisingEdge(dut.clk)
                if accepted:
                    break
        dut.cmd__valid.value = 0

    async def sink(self, stall: float) -> None:
        """Accept output tokens, deasserting ready with probability *stall*; check each."""
        dut = self.dut
        while True:
            dut.out__ready.value = int(self.rng.random() >= stall)
            await ReadOnly()
            if dut.out__valid.value and dut.out__ready.value:
                token = self.out_layout.from_bits(int(dut.out__payload.value))
                self.check((int(token.count), int(token.saturated)))
            await RisingEdge(dut.clk)

    def check(self, got: tuple[int, int]) -> None:
        """Compare *got* with the oldest expected output."""
        if not self.expected:
            self.errors += 1
            cocotb.log.error("unexpected output %r", got)
            return
        want = self.expected.popleft()
        if got != want:
            self.errors += 1
            cocotb.log.error("output %d: got %r, expected %r", self.received, got, want)
        self.received += 1


def _commands(cfg: SmokeConfig, rng: random.Random, bias: str) -> list[tuple[int, int]]:
    lo, hi = -(1 << (cfg.step_width - 1)), (1 << (cfg.step_width - 1)) - 1
    if bias == "up":
        lo = 0
    elif bias == "down":
        hi = 0
    commands = []
    for _ in range(cfg.commands):
        clear = int(rng.random() < 0.03)
        commands.append((rng.randint(lo, hi), clear))
    return commands


@cocotb.test()
@cocotb.parametrize(bias=["mixed", "up", "down"], stall=[0.2, 0.6])
async def smoke_stream(dut: Any, bias: str, stall: float) -> None:
    """Random commands with idle input and stalled output against :func:`model`."""
    assert "SMOKE_CONFIG" in os.environ, "pass SMOKE_CONFIG (SmokeConfig.to_json()) in extra_env"
    cfg = SmokeConfig.from_json(os.environ["SMOKE_CONFIG"])
    rng = random.Random(f"{cocotb.RANDOM_SEED}-{bias}-{stall}")
    tb = Testbench(dut, cfg, rng)
    await tb.start()
    await tb.reset()

    commands = _commands(cfg, rng, bias)
    expected = model(cfg, commands)
    if os.environ.get("SMOKE_CORRUPT") == "1":
        count, saturated = expected[len(expected) // 2]
        expected[len(expected) // 2] = (count ^ 1, saturated)
    tb.expected.extend(expected)

    cocotb.start_soon(tb.sink(stall))
    await tb.drive(commands, idle=stall / 2)
    for _ in range(20 * cfg.commands):
        if not tb.expected:
            break
        await RisingEdge(dut.clk)
    assert not tb.expected, f"{len(tb.expected)} outputs missing after the last command"
    assert tb.errors == 0, f"{tb.errors} mismatches in {tb.received} outputs"
    assert tb.received == len(commands)
