"""cocotb testbench of the generator unit ``LFSR`` (``hdl/lfsr.py``), and the generator
stimulus and golden-model glue shared with ``tb_encoder``.

Runs inside the simulator (``run_cocotb(test_module="spikeforge.sim.tb_lfsr")``).  Every
expected output comes from the golden model, ``spikeforge.golden.lfsr`` (``start_states``,
``step``, ``JumpTable``); nothing here restates the generator rule.  Stimulus helpers such
as :func:`unstep` only *construct* inputs (a state whose successor has chosen bits) and
check themselves against ``golden.lfsr.step``.

Environment
-----------
``SPIKEFORGE_CORE``
    The :class:`~spikeforge.config.CoreConfig` as JSON (``CoreConfig.to_json()``).
``SPIKEFORGE_TOKENS``
    Random tokens per stream test (default 3000; the quick tier passes a few hundred).
``SPIKEFORGE_TIMESTEPS``
    Cap on the timesteps of the whole-sample run (default: ``core.timesteps``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import cocotb
import numpy as np
from amaranth.lib import data
from cocotb.triggers import RisingEdge

from ..config import CoreConfig
from ..golden.lfsr import (
    KEY_MULTIPLIER,
    STREAM_INPUT,
    STREAM_NEURON,
    XORSHIFT_SHIFTS,
    base_states,
    jump_table,
    start_states,
    step,
)
from ..hdl.lfsr import lfsr_input_layout, lfsr_output_layout
from .streams import Scoreboard, StreamDriver, StreamSink, reset, start_clock

__all__ = [
    "ENV_CORE",
    "ENV_TOKENS",
    "ENV_TIMESTEPS",
    "FLOWS",
    "MASK32",
    "core_from_env",
    "token_count",
    "timestep_cap",
    "flow_rng",
    "generator_step",
    "unstep",
    "base_for_start",
    "lfsr_expected",
    "lfsr_corner_tokens",
    "random_generator_token",
    "idle_cycles",
    "Testbench",
]

ENV_CORE = "SPIKEFORGE_CORE"
ENV_TOKENS = "SPIKEFORGE_TOKENS"
ENV_TIMESTEPS = "SPIKEFORGE_TIMESTEPS"

#: Backpressure settings every stream test runs under: (driver idle, sink stall) probability.
FLOWS: dict[str, tuple[float, float]] = {"light": (0.1, 0.2), "heavy": (0.5, 0.6)}

MASK32 = (1 << 32) - 1
Token = dict[str, int]


# -- configuration from the environment ----------------------------------------------------


def core_from_env() -> CoreConfig:
    """The configuration passed in ``SPIKEFORGE_CORE``."""
    assert ENV_CORE in os.environ, f"pass {ENV_CORE} (CoreConfig.to_json()) in extra_env"
    return CoreConfig.from_json(os.environ[ENV_CORE])


def token_count(default: int = 3000) -> int:
    """Random tokens per stream test (``SPIKEFORGE_TOKENS``)."""
    return int(os.environ.get(ENV_TOKENS, default))


def timestep_cap(core: CoreConfig) -> int:
    """Timesteps of the whole-sample run: ``core.timesteps``, capped by
    ``SPIKEFORGE_TIMESTEPS``."""
    cap = os.environ.get(ENV_TIMESTEPS)
    return core.timesteps if not cap else max(1, min(core.timesteps, int(cap)))


def flow_rng(test: str, flow: str) -> random.Random:
    """A generator seeded from ``cocotb.RANDOM_SEED``, the test and the flow setting."""
    return random.Random(f"{cocotb.RANDOM_SEED}-{test}-{flow}")


# -- golden glue and stimulus construction ----------------------------------------------------


def generator_step(state: int, key: int, reseed: int) -> int:
    """Golden next state of one generator token: ``step(start_states(state, key))`` on a
    reseed, ``step(state)`` otherwise (``spikeforge.golden.lfsr``)."""
    x = np.array([state], dtype=np.uint32)
    if reseed:
        x = start_states(x, key)
    return int(step(x)[0])


def unstep(target: int) -> int:
    """The state whose xorshift32 successor is ``target`` (stimulus construction).

    Undoes the three xorshifts in reverse order by fixed-point iteration; the result is
    checked with ``golden.lfsr.step``.
    """
    left, right, last = XORSHIFT_SHIFTS
    x = target
    for shift, towards_msb in ((last, True), (right, False), (left, True)):
        y = x
        for _ in range(32 // shift + 1):
            x = y ^ (((x << shift) & MASK32) if towards_msb else (x >> shift))
    assert generator_step(x, 0, 0) == target, f"unstep({target:#010x}) = {x:#010x} is wrong"
    return x


def base_for_start(start: int, key: int) -> int:
    """A base state that a reseed with ``key`` turns into ``start`` (before the 0 -> 1 rule):
    ``(start - key * KEY_MULTIPLIER) mod 2**32``."""
    return (start - key * KEY_MULTIPLIER) & MASK32


def lfsr_expected(token: Mapping[str, int]) -> Token:
    """Golden output token of the generator unit for input ``token``."""
    return {"state": generator_step(token["state"], token["key"], token["reseed"])}


def lfsr_corner_tokens(rng: random.Random) -> list[Token]:
    """Directed cases: the reseed-to-zero rule, key and state extremes, a sum that wraps,
    and successors with extreme halves (rounding draws 0 and 0xFFFF, spike draws 0 and
    0xFFFF)."""
    key = rng.getrandbits(32)
    tokens = [
        # base + key * K == 0 mod 2**32: the start state becomes 1
        {"state": base_for_start(0, key), "key": key, "reseed": 1},
        {"state": base_for_start(0, MASK32), "key": MASK32, "reseed": 1},
        {"state": 0, "key": 0, "reseed": 1},
        # key 0 keeps the base; the largest base and key wrap the sum
        {"state": 0x12345678, "key": 0, "reseed": 1},
        {"state": MASK32, "key": MASK32, "reseed": 1},
        {"state": base_for_start(1, key), "key": key, "reseed": 1},
        {"state": base_for_start(MASK32, key), "key": key, "reseed": 1},
        # state extremes without reseed (the key must be ignored)
        {"state": 1, "key": MASK32, "reseed": 0},
        {"state": MASK32, "key": key, "reseed": 0},
        {"state": 0x80000000, "key": 0, "reseed": 0},
        {"state": 0, "key": key, "reseed": 0},
    ]
    for target in (0x0000FFFF, 0xFFFF0000, 0x00000001, 0xFFFFFFFF, 0x80000000, 0x00010000):
        tokens.append({"state": unstep(target), "key": rng.getrandbits(32), "reseed": 0})
        k = rng.getrandbits(32)
        tokens.append({"state": base_for_start(unstep(target), k), "key": k, "reseed": 1})
    return tokens


def random_generator_token(rng: random.Random) -> Token:
    """A random state and key, reseeding a quarter of the time."""
    return {"state": rng.getrandbits(32), "key": rng.getrandbits(32),
            "reseed": int(rng.random() < 0.25)}


# -- the testbench ------------------------------------------------------------------------------


class Testbench:
    """Clock, reset, stream driver, backpressuring sink and golden scoreboard around a PE.

    Members
    -------
    scoreboard : Scoreboard
        In-order checker fed with the golden model's output of every input token.
    outputs : list of dict
        Every output token received, in order (the closed-loop tests read states back).
    """

    def __init__(self, dut: Any, name: str, in_layout: data.StructLayout,
                 out_layout: data.StructLayout, rng: random.Random, idle: float,
                 stall: float) -> None:
        self.dut = dut
        self.driver = StreamDriver(dut, "i", in_layout, rng, idle=idle)
        self.scoreboard = Scoreboard(name)
        self.outputs: list[Token] = []
        self.sink = StreamSink(dut, "o", out_layout, rng, self._received, stall=stall)

    def _received(self, token: Token) -> None:
        self.outputs.append(token)
        self.scoreboard.check(token)

    async def start(self) -> None:
        """Start the clock and the sink, then reset the PE."""
        await start_clock(self.dut)
        self.sink.start()
        await self.reset()

    async def reset(self) -> None:
        """Synchronous reset (empties the pipeline)."""
        await reset(self.dut)

    async def run(self, tokens: Sequence[Token], expected: Iterable[Mapping[str, int]],
                  stimulus: Sequence[Mapping[str, int]] | None = None) -> list[Token]:
        """Send ``tokens``, queue ``expected`` (one per token; ``stimulus`` is what a
        mismatch reports, default the tokens) and wait until all outputs were checked.

        Returns the output tokens of this call.
        """
        first = len(self.outputs)
        for index, want in enumerate(expected):
            self.scoreboard.expect(want, (stimulus or tokens)[index])
        await self.driver.send(tokens)
        await self.scoreboard.drained(self.dut, timeout_cycles=1000 + 100 * len(tokens))
        return self.outputs[first:]

    async def check_tokens(self, tokens: Sequence[Token],
                           expect: Callable[[Mapping[str, int]], Token]) -> None:
        """Run ``tokens`` against the golden ``expect`` of each, then make sure no extra
        output trails them, and fail on any mismatch."""
        await self.run(tokens, [expect(token) for token in tokens])
        await idle_cycles(self.dut, 10)
        self.done()
        assert self.scoreboard.checked == len(tokens), (
            f"{self.scoreboard.checked} outputs for {len(tokens)} tokens")

    def done(self) -> None:
        """Fail on any mismatch (the first one, with its input, is in the message) or
        missing output."""
        self.scoreboard.assert_done()


async def idle_cycles(dut: Any, cycles: int) -> None:
    """Let ``cycles`` clock edges pass."""
    for _ in range(cycles):
        await RisingEdge(dut.clk)


# -- cocotb tests -----------------------------------------------------------------------------


def _tb(dut: Any, core: CoreConfig, test: str, flow: str) -> Testbench:
    idle, stall = FLOWS[flow]
    return Testbench(dut, f"lfsr/{test}/{flow}", lfsr_input_layout(core),
                     lfsr_output_layout(core), flow_rng(test, flow), idle, stall)


@cocotb.test()
@cocotb.parametrize(flow=list(FLOWS))
async def lfsr_tokens(dut: Any, flow: str) -> None:
    """Random states, keys and reseeds with the directed corner tokens mixed in."""
    core = core_from_env()
    tb = _tb(dut, core, "tokens", flow)
    await tb.start()
    rng = flow_rng("tokens-stimulus", flow)
    tokens = [random_generator_token(rng) for _ in range(token_count())]
    for corner in lfsr_corner_tokens(rng):
        tokens.insert(rng.randrange(len(tokens) + 1), corner)
    await tb.check_tokens(tokens, lfsr_expected)


@cocotb.test()
@cocotb.parametrize(flow=list(FLOWS))
async def lfsr_sample(dut: Any, flow: str) -> None:
    """A whole sample, closed loop: every input and neuron generator of the config starts
    from its base state (``reseed`` on the first timestep) and is fed its own output back on
    every later timestep; every state is compared with ``golden.lfsr.JumpTable``."""
    core = core_from_env()
    tb = _tb(dut, core, "sample", flow)
    await tb.start()
    rng = flow_rng("sample-stimulus", flow)
    bases = np.concatenate([base_states(core.seed, STREAM_INPUT, core.n_inputs),
                            base_states(core.seed, STREAM_NEURON, core.n_neurons)])
    key = rng.getrandbits(32)
    timesteps = timestep_cap(core)
    golden = jump_table(timesteps).run(start_states(bases, key))  # (timesteps, generators)
    states = [int(b) for b in bases]
    for t in range(timesteps):
        tokens = [{"state": s, "key": key, "reseed": int(t == 0)} for s in states]
        stimulus = [{"timestep": t, "generator": j, **tok} for j, tok in enumerate(tokens)]
        outputs = await tb.run(tokens, [{"state": int(g)} for g in golden[t]], stimulus)
        states = [out["state"] for out in outputs]
        if tb.scoreboard.errors:
            break
    tb.done()
