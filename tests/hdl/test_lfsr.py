# amaranth: UnusedElaboratable=no
"""Tests of the generator unit ``LFSR`` and the generator arithmetic of ``hdl/lfsr.py``.

(a) Fast tier, Amaranth's simulator: the pure functions against ``golden.lfsr``, the unit
token by token with and without backpressure, its exact latency, stalls and reset.
(b) cocotb regression (``plasticore.sim.tb_lfsr``) under Verilator and Icarus over the
configuration matrix.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from amaranth import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from plasticore.config import CoreConfig
from plasticore.golden.lfsr import KEY_MULTIPLIER, start_states, step
from plasticore.hdl.lfsr import (
    LFSR,
    lfsr_input_layout,
    lfsr_output_layout,
    reseed,
    restart,
    spread_key,
    xorshift32,
)
from plasticore.hdl.verilog import to_verilog
from plasticore.sim.amaranth_streams import (
    check_reset_empties,
    numbered,
    run_checked,
    run_stream,
)
from plasticore.sim.matrix import MatrixEntry, config_matrix
from plasticore.sim.pe_matrix import distinct
from plasticore.sim.tb_lfsr import (
    COCOTB_TESTS,
    ENV_TIMESTEPS,
    base_for_start,
    lfsr_corner_tokens,
    lfsr_expected,
    random_generator_token,
    unstep,
)

TOPLEVEL = "lfsr"
TB_MODULE = "plasticore.sim.tb_lfsr"
QUICK = config_matrix(quick=True)
CORE = QUICK[0].core
MASK32 = (1 << 32) - 1


def _evaluate(build, inputs: dict[str, list[int]], width: int = 32) -> list[int]:
    """Values of the combinational expression ``build(*signals)`` for each input row."""
    signals = {name: Signal(unsigned(32), name=name) for name in inputs}
    result = Signal(unsigned(width))
    m = Module()
    m.d.comb += result.eq(build(**signals))
    out: list[int] = []

    async def bench(ctx):
        for row in zip(*inputs.values(), strict=True):
            for signal, value in zip(signals.values(), row, strict=True):
                ctx.set(signal, value)
            out.append(ctx.get(result))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return out


def _random_words(rng: np.random.Generator, n: int) -> list[int]:
    extremes = [0, 1, 2, MASK32, MASK32 - 1, 0x80000000, 0x7FFFFFFF, 0xFFFF, 0xFFFF0000]
    return extremes + [int(x) for x in rng.integers(0, 1 << 32, n, dtype=np.uint64)]


# -- pure functions ---------------------------------------------------------------------------


def test_xorshift32_matches_golden_step() -> None:
    words = _random_words(np.random.default_rng(1), 2000)
    got = _evaluate(lambda x: xorshift32(x), {"x": words})
    assert got == [int(v) for v in step(np.array(words, dtype=np.uint32))]


def test_reseed_matches_golden_start_states() -> None:
    rng = np.random.default_rng(2)
    keys = _random_words(rng, 1000)
    bases = _random_words(rng, 1000)
    # base + key * K == 0 mod 2**32: the start state becomes 1
    bases[:4] = [base_for_start(0, k) for k in keys[:4]]
    got = _evaluate(lambda base, key: reseed(base, key), {"base": bases, "key": keys})
    want = [int(start_states(np.array([b], dtype=np.uint32), k)[0])
            for b, k in zip(bases, keys, strict=True)]
    assert got == want
    assert got[:4] == [1, 1, 1, 1]
    # the split form the pipelines use is the same function
    spreads = _evaluate(lambda key: spread_key(key), {"key": keys})
    assert spreads == [(k * KEY_MULTIPLIER) & MASK32 for k in keys]
    assert _evaluate(lambda base, s: restart(base, s), {"base": bases, "s": spreads}) == want


def test_pure_functions_zero_extend_narrow_values() -> None:
    got = _evaluate(lambda x: xorshift32(x[:8]), {"x": [0xFFFFFF05, 0x80]})
    assert got == [int(v) for v in step(np.array([0x05, 0x80], dtype=np.uint32))]


@pytest.mark.parametrize("shape", [signed(32), unsigned(33), signed(8)])
def test_pure_functions_reject_signed_or_wide_values(shape) -> None:
    value = Signal(shape)
    with pytest.raises(ValueError, match="unsigned and at most 32 bits"):
        xorshift32(value)
    with pytest.raises(ValueError, match="sample key"):
        spread_key(value)
    with pytest.raises(ValueError, match="base state"):
        reseed(value, Signal(32))


def test_unstep_builds_predecessors() -> None:
    for target in (1, MASK32, 0xFFFF, 0xFFFF0000, 0x12345678):
        assert int(step(np.array([unstep(target)], dtype=np.uint32))[0]) == target


# -- the unit ---------------------------------------------------------------------------------


def test_constructor_and_signature() -> None:
    with pytest.raises(TypeError, match="CoreConfig"):
        LFSR({"seed": 1})
    unit = LFSR(CORE)
    assert unit.core is CORE
    assert unit.latency == 2
    assert unit.i.payload.shape() == lfsr_input_layout(CORE)
    assert unit.o.payload.shape() == lfsr_output_layout(CORE)
    assert lfsr_input_layout(CORE).size == 65 and lfsr_output_layout(CORE).size == 32
    with pytest.raises(AttributeError):
        unit.latency = 3  # read-only


def _golden(tokens: list[dict[str, int]]) -> list[dict[str, int]]:
    return [lfsr_expected(token) for token in tokens]


def _tokens(n: int, seed: int) -> list[dict[str, int]]:
    rng = random.Random(seed)
    tokens = [random_generator_token(rng) for _ in range(n)]
    return lfsr_corner_tokens(rng) + tokens


@pytest.mark.parametrize(("idle", "stall"), [(0.0, 0.0), (0.3, 0.5), (0.0, 0.8)])
def test_tokens_match_golden(idle: float, stall: float) -> None:
    run_checked(LFSR(CORE), numbered(_tokens(300, seed=3), "token"), _golden, idle=idle,
                stall=stall, seed=f"{idle}-{stall}")


def test_latency_and_full_throughput() -> None:
    unit = LFSR(CORE)
    run = run_stream(unit, _tokens(50, seed=4))
    # one token per cycle in and out, each output exactly `latency` cycles after its input
    run.assert_full_throughput(unit.latency)


def test_stall_holds_pipeline() -> None:
    """With the sink stalled the unit takes ``latency`` tokens (one per stage), then holds
    ``i.ready`` low and the head token on ``o``; nothing is lost when the sink resumes."""
    unit = LFSR(CORE)
    run = run_checked(unit, numbered(_tokens(12, seed=5), "token"), _golden, hold=10)
    run.assert_stalled(unit.latency, hold=10)


def test_reset_empties_pipeline() -> None:
    check_reset_empties(LFSR(CORE), _tokens(8, seed=6))


def test_verilog_ports() -> None:
    text = to_verilog(LFSR(CORE), TOPLEVEL)
    assert f"module {TOPLEVEL}(" in text
    for port in ("input [64:0] i__payload", "output [31:0] o__payload", "output i__ready"):
        assert port in text


# -- cocotb regression ------------------------------------------------------------------------


def _regression_key(entry: MatrixEntry) -> tuple[int, ...]:
    """What a regression run depends on: the sample-run stimulus (the unit's Verilog does
    not depend on the config at all; ``test_verilog_independent_of_config`` holds it to
    that)."""
    core = entry.core
    return (core.seed, core.n_inputs, core.n_neurons, core.timesteps)


def test_verilog_independent_of_config() -> None:
    texts = {to_verilog(LFSR(entry.core), TOPLEVEL) for entry in QUICK}
    texts.add(to_verilog(LFSR(CoreConfig()), TOPLEVEL))
    assert len(texts) == 1


REGRESSION = [pytest.param(entry, id=entry.label) for entry in QUICK] + [
    pytest.param(entry, id=entry.label, marks=pytest.mark.slow)
    for entry in distinct(config_matrix(), _regression_key, done=QUICK)
]


@pytest.mark.parametrize("entry", REGRESSION)
def test_cocotb_regression(pe_regression: Any, entry: MatrixEntry) -> None:
    pe_regression(LFSR(entry.core), toplevel=TOPLEVEL, test_module=TB_MODULE, tests=COCOTB_TESTS,
                  extra_env={ENV_TIMESTEPS: "" if pe_regression.slow else "40"})
