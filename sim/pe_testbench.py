"""A cocotb testbench for one stream-in, stream-out processing element, checked by golden.

The PE testbenches (``tb_lif.py``, ``tb_trace.py``, ``tb_stdp.py``, ``tb_lfsr.py``,
``tb_encoder.py``) build a :class:`PeTestbench` from the PE's payload layouts, its latency and
a function that returns the golden model's output for a list of input tokens.  It wires the
shared :class:`~plasticore.sim.streams.StreamDriver`, :class:`~plasticore.sim.streams.StreamSink`
(backpressure always on) and :class:`~plasticore.sim.streams.Scoreboard` together, labels
every token (``"w = 0, post"``, ``"random #17"``) so the first mismatch names its case, and
checks the exact latency and one-token-per-cycle throughput.

It also holds what every PE testbench reads from its environment: the configuration
(:data:`ENV_CORE`, :func:`core_from_env`) and the random token count (:data:`ENV_TOKENS`,
:func:`token_count`), and the seeding of its random generators (:func:`seeded_rng`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cocotb
from amaranth.lib import data
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge

from ..config import CoreConfig
from .streams import Scoreboard, StreamDriver, StreamSink, reset, start_clock

__all__ = [
    "CLOCK_NS",
    "ENV_CORE",
    "ENV_TOKENS",
    "BACKPRESSURE",
    "SETTLE_CYCLES",
    "Token",
    "Labelled",
    "GoldenFn",
    "core_from_env",
    "token_count",
    "seeded_rng",
    "idle_cycles",
    "PeTestbench",
]

CLOCK_NS = 10
ENV_CORE = "PLASTICORE_CORE"
"""Environment variable holding the :class:`~plasticore.config.CoreConfig` as JSON."""
ENV_TOKENS = "PLASTICORE_TOKENS"
"""Environment variable holding the number of random tokens per random test."""

BACKPRESSURE: list[tuple[float, float]] = [(0.1, 0.2), (0.5, 0.7)]
"""``(idle, stall)`` settings the stream tests run with: light and heavy backpressure."""

SETTLE_CYCLES = 10
"""Cycles :meth:`PeTestbench.run` waits after the last expected output: no further output
may appear in them."""

Token = dict[str, int]
Labelled = Sequence[tuple[str, Token]]
GoldenFn = Callable[[Sequence[Token]], list[Token]]


def core_from_env() -> CoreConfig:
    """The configuration passed in ``PLASTICORE_CORE`` (``CoreConfig.to_json()``)."""
    assert ENV_CORE in os.environ, f"pass {ENV_CORE} (CoreConfig.to_json()) in extra_env"
    return CoreConfig.from_json(os.environ[ENV_CORE])


def token_count(default: int) -> int:
    """Random tokens per random test: ``PLASTICORE_TOKENS``, else ``default``."""
    return int(os.environ.get(ENV_TOKENS, default))


def seeded_rng(test: str, *params: object) -> random.Random:
    """A generator seeded from ``cocotb.RANDOM_SEED``, the test's name and its parameters."""
    return random.Random("-".join(map(str, (cocotb.RANDOM_SEED, test, *params))))


async def idle_cycles(dut: Any, cycles: int) -> None:
    """Let ``cycles`` clock edges pass."""
    for _ in range(cycles):
        await RisingEdge(dut.clk)


class PeTestbench:
    """Driver, backpressuring sink and golden scoreboard around a PE with ports ``i``, ``o``.

    Parameters
    ----------
    dut : cocotb handle
        The toplevel (``clk``, ``rst``, ``i__*``, ``o__*``).
    golden : callable
        Input tokens to the golden model's output tokens (one per input, in order).
    in_layout, out_layout : data.StructLayout
        The PE's payload layouts (the ones its Amaranth signature uses).
    latency : int
        The PE's ``latency``.
    rng : random.Random
        Backpressure pattern.
    idle, stall : float
        Probability that the driver idles before a token, that the sink drops ``ready``.
    name : str
        Scoreboard name, at the start of every mismatch message.

    Members
    -------
    driver : StreamDriver
    sink : StreamSink
    scoreboard : Scoreboard
        Golden outputs in order; the first mismatch names the input token and its label.
    labels : list of str
        Name of every token sent, logged with the first mismatch.
    outputs : list of dict
        Every output token received, in order (closed-loop tests feed states back).
    arrivals_ns : list of float
        Simulation time (ns) at which each output was accepted.
    """

    def __init__(self, dut: Any, golden: GoldenFn, in_layout: data.StructLayout,
                 out_layout: data.StructLayout, latency: int, rng: random.Random,
                 idle: float, stall: float, name: str) -> None:
        self.dut = dut
        self.golden = golden
        self.latency = latency
        self.driver = StreamDriver(dut, "i", in_layout, rng, idle)
        self.sink = StreamSink(dut, "o", out_layout, rng, self._on_token, stall)
        self.scoreboard = Scoreboard(name)
        self.labels: list[str] = []
        self.outputs: list[Token] = []
        self.arrivals_ns: list[float] = []

    async def start(self) -> None:
        """Start the clock, reset the PE, then start the sink."""
        await start_clock(self.dut, CLOCK_NS)
        await reset(self.dut)
        self.sink.start()

    async def reset(self) -> None:
        """Synchronous reset (empties the pipeline)."""
        await reset(self.dut)

    def _on_token(self, got: Token) -> None:
        index = self.scoreboard.checked
        errors = self.scoreboard.errors
        self.arrivals_ns.append(get_sim_time("ns"))
        self.outputs.append(got)
        self.scoreboard.check(got)
        if errors == 0 and self.scoreboard.errors and index < len(self.labels):
            # name the case in the failure message too (Scoreboard.first_error)
            self.scoreboard.first_error = f"{self.scoreboard.first_error} [{self.labels[index]}]"
            cocotb.log.error("first mismatch is token %d: %s", index, self.labels[index])

    def expect(self, labelled: Labelled,
               outputs: Sequence[Mapping[str, int]] | None = None) -> list[Token]:
        """Queue the expected outputs of ``labelled`` tokens (default: their golden outputs);
        return the bare tokens."""
        tokens = [token for _, token in labelled]
        wants = self.golden(tokens) if outputs is None else outputs
        for (label, token), want in zip(labelled, wants, strict=True):
            self.labels.append(label)
            self.scoreboard.expect(want, token)
        return tokens

    async def send(self, labelled: Labelled,
                   outputs: Sequence[Mapping[str, int]] | None = None) -> list[Token]:
        """Queue the expected outputs (see :meth:`expect`), send ``labelled`` tokens and wait
        until every expected output was checked; return the outputs of this call."""
        first = len(self.outputs)
        tokens = self.expect(labelled, outputs)
        await self.driver.send(tokens)
        await self.scoreboard.drained(self.dut, timeout_cycles=100 * (len(tokens) + 10))
        return self.outputs[first:]

    def check(self) -> None:
        """Fail on any mismatch (the first one, with its input and label, is in the message)
        or missing output."""
        self.scoreboard.assert_done()

    async def run(self, labelled: Labelled) -> None:
        """Send ``labelled`` tokens, wait for every output and :data:`SETTLE_CYCLES` more
        (no extra output may trail them), fail on any mismatch."""
        await self.send(labelled)
        await idle_cycles(self.dut, SETTLE_CYCLES)
        self.check()

    async def run_back_to_back(self, labelled: Labelled) -> None:
        """No backpressure (build the testbench with ``idle = stall = 0``): one token per
        cycle; output ``k`` must arrive exactly ``latency + k`` cycles after the first input
        transfer.  Then a reset with tokens in flight must empty the pipeline."""
        dut = self.dut
        tokens = self.expect(labelled)
        dut.i__valid.value = 1
        start_ns = 0.0
        for k, token in enumerate(tokens):
            dut.i__payload.value = self.driver.layout.const(token).as_bits()
            await ReadOnly()
            assert int(dut.i__ready.value) == 1, f"i.ready low at token {k} without backpressure"
            if k == 0:
                start_ns = get_sim_time("ns")
            await RisingEdge(dut.clk)
        dut.i__valid.value = 0
        await self.scoreboard.drained(dut, timeout_cycles=len(tokens) + self.latency + 10)
        self.scoreboard.assert_done()
        cycles = [round((t - start_ns) / CLOCK_NS) for t in self.arrivals_ns]
        assert cycles == [self.latency + k for k in range(len(tokens))], (
            f"outputs arrived at cycles {cycles[:8]}..., expected latency {self.latency} and "
            "one token per cycle")

        # a reset with tokens in flight (none of them at the output yet): nothing comes out
        for token in tokens[:max(1, self.latency - 1)]:
            dut.i__valid.value = 1
            dut.i__payload.value = self.driver.layout.const(token).as_bits()
            await RisingEdge(dut.clk)
        dut.i__valid.value = 0
        await self.reset()
        for _ in range(self.latency + 2):
            await ReadOnly()
            assert int(dut.o__valid.value) == 0, "o.valid set after a reset emptied the pipeline"
            await RisingEdge(dut.clk)
        assert self.scoreboard.errors == 0
