"""cocotb side of ``amaranth.lib.stream`` ports: driver, sink with backpressure, checker.

Amaranth's Verilog backend flattens a stream port ``name`` into ``name__valid``,
``name__ready`` and ``name__payload`` (one flat vector, struct fields packed from the LSB in
declaration order).  Payloads are packed and unpacked with the Amaranth layout itself
(``layout.const({...}).as_bits()`` / ``layout.from_bits(v)``), so testbench and RTL share
one bit layout.

Backpressure is always on: the driver idles before a token with probability ``idle``, the
sink drops ``ready`` with probability ``stall``, both drawn from a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import cocotb
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = ["start_clock", "reset", "StreamDriver", "StreamSink", "Scoreboard", "unpack"]

Token = Mapping[str, int]


async def start_clock(dut: Any, period_ns: int = 10) -> None:
    """Start ``dut.clk``."""
    Clock(dut.clk, period_ns, unit="ns").start()


async def reset(dut: Any, cycles: int = 2) -> None:
    """Hold the synchronous reset ``dut.rst`` for ``cycles`` rising edges."""
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


def unpack(layout: data.StructLayout, bits: int) -> dict[str, int]:
    """Payload bits to ``{field: int}``; signed fields come back negative when they are."""
    view = layout.from_bits(bits)
    return {name: int(getattr(view, name)) for name, _ in layout}


class _StreamPort:
    """The ``valid``, ``ready`` and ``payload`` handles of stream port ``name`` of ``dut``."""

    def __init__(self, dut: Any, name: str, layout: data.StructLayout,
                 rng: random.Random) -> None:
        self.dut = dut
        self.layout = layout
        self.rng = rng
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")


class StreamDriver(_StreamPort):
    """Drives tokens into the stream sink port ``name`` of ``dut``."""

    def __init__(self, dut: Any, name: str, layout: data.StructLayout, rng: random.Random,
                 idle: float = 0.0) -> None:
        super().__init__(dut, name, layout, rng)
        self.idle = idle
        self.valid.value = 0
        self.payload.value = 0
        self.sent = 0

    async def send(self, tokens: Iterable[Token]) -> None:
        """Send every token in order; returns after the last one is accepted."""
        clk = self.dut.clk
        for token in tokens:
            while self.idle and self.rng.random() < self.idle:
                self.valid.value = 0
                await RisingEdge(clk)
            self.valid.value = 1
            self.payload.value = self.layout.const(dict(token)).as_bits()
            while True:
                await ReadOnly()
                accepted = bool(self.ready.value)
                await RisingEdge(clk)
                if accepted:
                    break
            self.sent += 1
        self.valid.value = 0


class StreamSink(_StreamPort):
    """Accepts tokens from the stream source port ``name``, calling ``on_token`` for each."""

    def __init__(self, dut: Any, name: str, layout: data.StructLayout, rng: random.Random,
                 on_token: Callable[[dict[str, int]], None], stall: float = 0.0) -> None:
        super().__init__(dut, name, layout, rng)
        self.stall = stall
        self.on_token = on_token
        self.ready.value = 0
        self.received = 0

    async def run(self) -> None:
        """Forever: choose ``ready``, and on a transfer hand the token to ``on_token``."""
        clk = self.dut.clk
        while True:
            self.ready.value = int(self.rng.random() >= self.stall)
            await ReadOnly()
            if self.valid.value and self.ready.value:
                self.received += 1
                self.on_token(unpack(self.layout, int(self.payload.value)))
            await RisingEdge(clk)

    def start(self) -> Any:
        return cocotb.start_soon(self.run())


class Scoreboard:
    """In-order checker: expected tokens in a deque, every output compared field by field.

    The first mismatch is logged with the input token that produced it; ``errors`` counts
    all mismatches, ``assert_done()`` fails the test on any error or missing output.
    """

    def __init__(self, name: str, max_logged: int = 10) -> None:
        self.name = name
        self.expected: deque[tuple[dict[str, int], Token]] = deque()
        self.errors = 0
        self.checked = 0
        self.first_error: str | None = None
        self.max_logged = max_logged

    def expect(self, output: Mapping[str, int], stimulus: Token) -> None:
        """Queue the golden ``output`` of input token ``stimulus``."""
        self.expected.append((dict(output), stimulus))

    def check(self, got: dict[str, int]) -> None:
        if not self.expected:
            self._error(f"{self.name}: unexpected output {got}")
            return
        want, stimulus = self.expected.popleft()
        diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        if diff:
            detail = ", ".join(f"{k}: got {g}, expected {w}" for k, (g, w) in diff.items())
            self._error(f"{self.name}: token {self.checked}: {detail}; input {dict(stimulus)}")
        self.checked += 1

    def _error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message
        if self.errors <= self.max_logged:
            cocotb.log.error(message)

    def assert_done(self) -> None:
        assert self.errors == 0, (f"{self.errors} mismatches in {self.checked} tokens; "
                                  f"first: {self.first_error}")
        assert not self.expected, f"{self.name}: {len(self.expected)} outputs never arrived"

    async def drained(self, dut: Any, timeout_cycles: int = 100_000) -> None:
        """Wait until every expected token was checked (or fail after ``timeout_cycles``)."""
        for _ in range(timeout_cycles):
            if not self.expected:
                return
            await RisingEdge(dut.clk)
        raise AssertionError(f"{self.name}: {len(self.expected)} outputs missing after "
                             f"{timeout_cycles} cycles")
