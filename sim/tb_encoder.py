# amaranth: UnusedElaboratable=no
"""cocotb testbench of the rate encoder ``RateEncoder`` (``hdl/encoder.py``).

Runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_encoder")``).  Every
expected output comes from the golden model: the generator step from
``plasticore.golden.lfsr`` (through :func:`~plasticore.sim.tb_lfsr.generator_step` and
``JumpTable``), the spike from ``golden.encoder.spikes_from_states(rate_threshold(...))`` and
the rounding draw from ``golden.encoder.rounding_bits``.

Environment: ``PLASTICORE_CORE``, ``PLASTICORE_TOKENS``, ``PLASTICORE_TIMESTEPS`` as in
:mod:`plasticore.sim.tb_lfsr`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import cocotb
import numpy as np

from ..config import CoreConfig
from ..golden.encoder import rate_threshold, rounding_bits, spikes_from_states
from ..golden.lfsr import STREAM_INPUT, base_states, jump_table, start_states
from ..hdl.encoder import RateEncoder
from .pe_testbench import PeTestbench, Token, core_from_env, seeded_rng, token_count
from .tb_lfsr import (
    DEFAULT_TOKENS,
    FLOWS,
    MASK32,
    base_for_start,
    flow_testbench,
    generator_step,
    lfsr_corner_tokens,
    random_generator_token,
    timestep_cap,
    unstep,
    with_corners,
)

__all__ = ["encoder_expected", "encoder_corner_tokens", "random_encoder_token"]


def encoder_expected(core: CoreConfig, token: Mapping[str, int]) -> Token:
    """Golden output token of the rate encoder for input ``token``."""
    state = generator_step(token["state"], token["key"], token["reseed"])
    word = np.uint32(state)
    threshold = rate_threshold(core, token["pixel"])
    return {
        "spike": int(spikes_from_states(threshold, word)),
        "state": state,
        "rand_hi": int(rounding_bits(word)),
    }


def _threshold(core: CoreConfig, pixel: int) -> int:
    return int(rate_threshold(core, pixel))


def _with_successor(target: int, pixel: int, rng: random.Random, reseed: bool) -> Token:
    """A token whose generator steps to ``target`` (directly, or through a reseed)."""
    key = rng.getrandbits(32)
    state = unstep(target)
    if reseed:
        state = base_for_start(state, key)
    return {"pixel": pixel, "state": state, "key": key, "reseed": int(reseed)}


def encoder_corner_tokens(core: CoreConfig, rng: random.Random) -> list[Token]:
    """Directed cases.

    Pixel 0 (never spikes, even with a zero draw) and full scale; draws exactly at the
    threshold (no spike) and one below it (spike) for the full-scale, smallest and random
    pixels; the largest draw; rounding draws 0 and 0xFFFF; the reseed-to-zero rule
    (``base + key * K == 0 mod 2**32``); and the generator corner tokens of ``tb_lfsr``
    with random pixels.
    """
    top = (1 << core.encoder.pixel_bits) - 1
    pixels = sorted({0, 1, top, top - 1 if top > 1 else top, rng.randint(0, top),
                     rng.randint(0, top)})
    tokens: list[Token] = []
    for pixel in pixels:
        threshold = _threshold(core, pixel)
        draws = {0, 0xFFFF, min(threshold, 0xFFFF), max(threshold - 1, 0),
                 min(threshold + 1, 0xFFFF)}
        for draw in sorted(draws):
            for rounding in (0x0000, 0xFFFF, rng.getrandbits(16)):
                target = (rounding << 16) | draw
                if target == 0:
                    continue  # a generator never reaches 0
                tokens.append(_with_successor(target, pixel, rng, reseed=rng.random() < 0.5))
    for pixel in (0, top, rng.randint(0, top)):
        key = rng.getrandbits(32)
        tokens.append({"pixel": pixel, "state": base_for_start(0, key), "key": key,
                       "reseed": 1})
    for token in lfsr_corner_tokens(rng):
        tokens.append({"pixel": rng.randint(0, top), **token})
    return tokens


def random_encoder_token(core: CoreConfig, rng: random.Random) -> Token:
    """A random pixel (a third of them 0 or full scale), state and key; a quarter reseed."""
    top = (1 << core.encoder.pixel_bits) - 1
    roll = rng.random()
    pixel = 0 if roll < 1 / 6 else top if roll < 1 / 3 else rng.randint(0, top)
    return {"pixel": pixel, **random_generator_token(rng)}


def _tb(dut: Any, core: CoreConfig, test: str, flow: str) -> PeTestbench:
    return flow_testbench(dut, RateEncoder(core), lambda token: encoder_expected(core, token),
                          "encoder", test, flow)


@cocotb.test()
@cocotb.parametrize(flow=list(FLOWS))
async def encoder_tokens(dut: Any, flow: str) -> None:
    """Random pixels, states, keys and reseeds with the directed corner tokens mixed in."""
    core = core_from_env()
    tb = _tb(dut, core, "tokens", flow)
    await tb.start()
    rng = seeded_rng("tokens-stimulus", flow)
    tokens = [random_encoder_token(core, rng) for _ in range(token_count(DEFAULT_TOKENS))]
    await tb.run(with_corners(rng, tokens, encoder_corner_tokens(core, rng)))


@cocotb.test()
@cocotb.parametrize(flow=list(FLOWS))
async def encoder_sample(dut: Any, flow: str) -> None:
    """A whole sample, closed loop: every input's generator starts from its base state
    (``reseed`` on the first timestep) and is fed its own output state back on every later
    timestep.  Spikes, states and rounding draws are compared with ``golden.lfsr.JumpTable``
    and ``golden.encoder.spikes_from_states`` / ``rounding_bits``."""
    core = core_from_env()
    tb = _tb(dut, core, "sample", flow)
    await tb.start()
    rng = seeded_rng("sample-stimulus", flow)
    top = (1 << core.encoder.pixel_bits) - 1
    pixels = [rng.choice((0, top, rng.randint(0, top))) for _ in range(core.n_inputs)]
    bases = base_states(core.seed, STREAM_INPUT, core.n_inputs)
    # training keys are sample indices (small); any 32-bit key must work as well
    key = rng.randrange(1 << 16) if flow == "light" else rng.getrandbits(32)
    timesteps = timestep_cap(core)
    states = jump_table(timesteps).run(start_states(bases, key))  # (timesteps, inputs)
    spikes = spikes_from_states(rate_threshold(core, pixels)[None, :], states)
    draws = rounding_bits(states)
    current = [int(b) for b in bases]
    for t in range(timesteps):
        labelled = [(f"timestep {t}, input {j}", {"pixel": p, "state": s, "key": key,
                                                  "reseed": int(t == 0)})
                    for j, (p, s) in enumerate(zip(pixels, current, strict=True))]
        expected = [{"spike": int(spikes[t, j]), "state": int(states[t, j]),
                     "rand_hi": int(draws[t, j])} for j in range(core.n_inputs)]
        outputs = await tb.send(labelled, expected)
        current = [out["state"] & MASK32 for out in outputs]
        if tb.scoreboard.errors:
            break
    tb.check()
