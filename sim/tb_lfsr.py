# amaranth: UnusedElaboratable=no
"""cocotb testbench of the generator unit ``LFSR`` (``hdl/lfsr.py``), and the generator
stimulus and golden-model glue shared with ``tb_encoder``.

Runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_lfsr")``).  Every
expected output comes from the golden model, ``plasticore.golden.lfsr`` (``start_states``,
``step``, ``JumpTable``); nothing here restates the generator rule.  Stimulus helpers such
as :func:`unstep` only *construct* inputs (a state whose successor has chosen bits) and
check themselves against ``golden.lfsr.step``.

Environment
-----------
``PLASTICORE_CORE``
    The :class:`~plasticore.config.CoreConfig` as JSON (``CoreConfig.to_json()``).
``PLASTICORE_TOKENS``
    Random tokens per stream test (default 3000; the quick tier passes a few hundred).
``PLASTICORE_TIMESTEPS``
    Cap on the timesteps of the whole-sample run (default: ``core.timesteps``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cocotb
import numpy as np
from amaranth.lib import wiring

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
from ..hdl.lfsr import LFSR
from .pe_testbench import PeTestbench, Token, core_from_env, seeded_rng, token_count

__all__ = [
    "ENV_TIMESTEPS",
    "FLOWS",
    "MASK32",
    "COCOTB_TESTS",
    "timestep_cap",
    "generator_step",
    "unstep",
    "base_for_start",
    "lfsr_expected",
    "lfsr_corner_tokens",
    "random_generator_token",
    "with_corners",
    "flow_testbench",
]

ENV_TIMESTEPS = "PLASTICORE_TIMESTEPS"
DEFAULT_TOKENS = 3000

#: Backpressure settings every stream test runs under: (driver idle, sink stall) probability.
FLOWS: dict[str, tuple[float, float]] = {"light": (0.1, 0.2), "heavy": (0.5, 0.6)}

#: cocotb tests this module (and ``tb_encoder``) runs: two, once per flow setting.
COCOTB_TESTS = 2 * len(FLOWS)

MASK32 = (1 << 32) - 1


# -- configuration from the environment ----------------------------------------------------


def timestep_cap(core: CoreConfig) -> int:
    """Timesteps of the whole-sample run: ``core.timesteps``, capped by
    ``PLASTICORE_TIMESTEPS``."""
    cap = os.environ.get(ENV_TIMESTEPS)
    return core.timesteps if not cap else max(1, min(core.timesteps, int(cap)))


# -- golden glue and stimulus construction ----------------------------------------------------


def generator_step(state: int, key: int, reseed: int) -> int:
    """Golden next state of one generator token: ``step(start_states(state, key))`` on a
    reseed, ``step(state)`` otherwise (``plasticore.golden.lfsr``)."""
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


def with_corners(rng: random.Random, tokens: Sequence[Token],
                 corners: Sequence[Token]) -> list[tuple[str, Token]]:
    """``tokens`` (labelled ``random #i``) with every one of ``corners`` (``corner #k``)
    inserted at a random position."""
    labelled = [(f"random #{i}", token) for i, token in enumerate(tokens)]
    for k, corner in enumerate(corners):
        labelled.insert(rng.randrange(len(labelled) + 1), (f"corner #{k}", corner))
    return labelled


def flow_testbench(dut: Any, unit: wiring.Component,
                   expected: Callable[[Mapping[str, int]], Token], name: str, test: str,
                   flow: str) -> PeTestbench:
    """A :class:`~plasticore.sim.pe_testbench.PeTestbench` around the Verilog of ``unit``
    (its payload layouts and latency), checked with the golden output ``expected`` of each
    token, under the backpressure of ``flow`` (:data:`FLOWS`)."""
    idle, stall = FLOWS[flow]
    return PeTestbench(dut, lambda tokens: [expected(token) for token in tokens],
                       unit.i.payload.shape(), unit.o.payload.shape(), unit.latency,
                       seeded_rng(test, flow), idle, stall, f"{name}/{test}/{flow}")


# -- cocotb tests -----------------------------------------------------------------------------


@cocotb.test()
@cocotb.parametrize(flow=list(FLOWS))
async def lfsr_tokens(dut: Any, flow: str) -> None:
    """Random states, keys and reseeds with the directed corner tokens mixed in."""
    core = core_from_env()
    tb = flow_testbench(dut, LFSR(core), lfsr_expected, "lfsr", "tokens", flow)
    await tb.start()
    rng = seeded_rng("tokens-stimulus", flow)
    tokens = [random_generator_token(rng) for _ in range(token_count(DEFAULT_TOKENS))]
    await tb.run(with_corners(rng, tokens, lfsr_corner_tokens(rng)))


@cocotb.test()
@cocotb.parametrize(flow=list(FLOWS))
async def lfsr_sample(dut: Any, flow: str) -> None:
    """A whole sample, closed loop: every input and neuron generator of the config starts
    from its base state (``reseed`` on the first timestep) and is fed its own output back on
    every later timestep; every state is compared with ``golden.lfsr.JumpTable``."""
    core = core_from_env()
    tb = flow_testbench(dut, LFSR(core), lfsr_expected, "lfsr", "sample", flow)
    await tb.start()
    rng = seeded_rng("sample-stimulus", flow)
    bases = np.concatenate([base_states(core.seed, STREAM_INPUT, core.n_inputs),
                            base_states(core.seed, STREAM_NEURON, core.n_neurons)])
    key = rng.getrandbits(32)
    timesteps = timestep_cap(core)
    golden = jump_table(timesteps).run(start_states(bases, key))  # (timesteps, generators)
    states = [int(b) for b in bases]
    for t in range(timesteps):
        labelled = [(f"timestep {t}, generator {j}", {"state": s, "key": key,
                                                      "reseed": int(t == 0)})
                    for j, s in enumerate(states)]
        outputs = await tb.send(labelled, [{"state": int(g)} for g in golden[t]])
        states = [out["state"] for out in outputs]
        if tb.scoreboard.errors:
            break
    tb.check()
