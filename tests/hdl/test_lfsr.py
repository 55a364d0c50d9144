# amaranth: UnusedElaboratable=no
"""Tests of the generator unit ``LFSR`` and the generator arithmetic of ``hdl/lfsr.py``.

(a) Fast tier, Amaranth's simulator: the pure functions against ``golden.lfsr``, the unit
token by token with and without backpressure, its exact latency, stalls and reset.
(b) cocotb regression (``spikeforge.sim.tb_lfsr``) under Verilator and Icarus over the
configuration matrix.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from amaranth import ClockDomain, Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from spikeforge.config import CoreConfig
from spikeforge.golden.lfsr import KEY_MULTIPLIER, start_states, step
from spikeforge.hdl.lfsr import (
    LFSR,
    lfsr_input_layout,
    lfsr_output_layout,
    reseed,
    restart,
    spread_key,
    xorshift32,
)
from spikeforge.hdl.verilog import to_verilog, write_verilog
from spikeforge.sim.amaranth_streams import run_stream
from spikeforge.sim.matrix import config_matrix
from spikeforge.sim.tb_lfsr import (
    base_for_start,
    lfsr_corner_tokens,
    lfsr_expected,
    random_generator_token,
    unstep,
)

TOPLEVEL = "lfsr"
TB_MODULE = "spikeforge.sim.tb_lfsr"
CORE = config_matrix(quick=True)[0].core
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


def _tokens(n: int, seed: int) -> list[dict[str, int]]:
    rng = random.Random(seed)
    tokens = [random_generator_token(rng) for _ in range(n)]
    return lfsr_corner_tokens(rng) + tokens


@pytest.mark.parametrize(("idle", "stall"), [(0.0, 0.0), (0.3, 0.5), (0.0, 0.8)])
def test_tokens_match_golden(idle: float, stall: float) -> None:
    tokens = _tokens(300, seed=3)
    run = run_stream(LFSR(CORE), tokens, idle=idle, stall=stall, seed=f"{idle}-{stall}")
    for index, (token, got) in enumerate(zip(tokens, run.outputs, strict=True)):
        assert got == lfsr_expected(token), f"token {index}: input {token}"


def test_latency_and_full_throughput() -> None:
    unit = LFSR(CORE)
    tokens = _tokens(50, seed=4)
    run = run_stream(unit, tokens)
    # one token per cycle in and out, each output exactly `latency` cycles after its input
    assert run.in_cycles == list(range(len(tokens)))
    assert [o - i for i, o in zip(run.in_cycles, run.out_cycles, strict=True)] == \
        [unit.latency] * len(tokens)


def test_stall_holds_pipeline() -> None:
    """With the sink stalled the unit takes ``latency`` tokens (one per stage), then holds
    ``i.ready`` low and the head token on ``o``; nothing is lost when the sink resumes."""
    unit = LFSR(CORE)
    tokens = _tokens(12, seed=5)
    accepted = []

    async def bench(ctx):
        ctx.set(unit.o.ready, 0)
        ctx.set(unit.i.valid, 1)
        for cycle in range(10):
            ctx.set(unit.i.payload, lfsr_input_layout(CORE).const(tokens[len(accepted)]))
            if ctx.get(unit.i.ready):
                accepted.append(cycle)
            await ctx.tick()
        # the two stages are full: nothing more goes in while the output waits
        assert len(accepted) == unit.latency
        assert not ctx.get(unit.i.ready)
        head = ctx.get(unit.o.payload)
        assert ctx.get(unit.o.valid)
        assert head.state == lfsr_expected(tokens[0])["state"]
        ctx.set(unit.i.valid, 0)
        ctx.set(unit.o.ready, 1)
        outputs = []
        for _ in range(unit.latency + 3):
            if ctx.get(unit.o.valid):
                outputs.append(ctx.get(unit.o.payload).state)
            await ctx.tick()
        assert outputs == [lfsr_expected(t)["state"] for t in tokens[:unit.latency]]

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_reset_empties_pipeline() -> None:
    unit = LFSR(CORE)
    m = Module()
    m.domains.sync = sync = ClockDomain()
    m.submodules.unit = unit

    async def bench(ctx):
        ctx.set(unit.o.ready, 0)
        ctx.set(unit.i.valid, 1)
        await ctx.tick().repeat(4)
        assert ctx.get(unit.o.valid) and not ctx.get(unit.i.ready)
        ctx.set(unit.i.valid, 0)
        ctx.set(sync.rst, 1)
        await ctx.tick()
        ctx.set(sync.rst, 0)
        ctx.set(unit.o.ready, 1)
        for _ in range(4):  # both stages were emptied, not only the output register
            assert not ctx.get(unit.o.valid)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_verilog_ports() -> None:
    text = to_verilog(LFSR(CORE), TOPLEVEL)
    assert f"module {TOPLEVEL}(" in text
    for port in ("input [64:0] i__payload", "output [31:0] o__payload", "output i__ready"):
        assert port in text


# -- cocotb regression ------------------------------------------------------------------------

QUICK = config_matrix(quick=True)


def _regression_key(core: CoreConfig) -> tuple:
    """What a regression run depends on: the sample-run stimulus (the unit's Verilog does
    not depend on the config at all; ``test_verilog_independent_of_config`` holds it to
    that)."""
    return (core.seed, core.n_inputs, core.n_neurons, core.timesteps)


def _distinct_slow_entries():
    """The rest of the matrix, less entries that would repeat an earlier run exactly."""
    seen = {_regression_key(entry.core) for entry in QUICK}
    quick_labels = {entry.label for entry in QUICK}
    for entry in config_matrix():
        key = _regression_key(entry.core)
        if entry.label not in quick_labels and key not in seen:
            seen.add(key)
            yield entry


def test_verilog_independent_of_config() -> None:
    texts = {to_verilog(LFSR(entry.core), TOPLEVEL) for entry in QUICK}
    texts.add(to_verilog(LFSR(CoreConfig()), TOPLEVEL))
    assert len(texts) == 1


REGRESSION = [pytest.param(entry, id=entry.label) for entry in QUICK] + [
    pytest.param(entry, id=entry.label, marks=pytest.mark.slow)
    for entry in _distinct_slow_entries()
]


@pytest.fixture
def sim_build_dir(request: pytest.FixtureRequest, shared_build_dir) -> Path:
    """One build per simulator and Verilog text, shared by every config that elaborates to
    it (overrides the per-test default of ``tests/conftest.py``)."""
    entry = request.node.callspec.params["entry"]
    return shared_build_dir(TOPLEVEL, to_verilog(LFSR(entry.core), TOPLEVEL))


@pytest.mark.parametrize("entry", REGRESSION)
def test_cocotb_regression(run_sim, entry, tmp_path: Path, request) -> None:
    slow = "slow" in request.node.keywords
    source = write_verilog(LFSR(entry.core), TOPLEVEL, tmp_path)
    result = run_sim(
        toplevel=TOPLEVEL,
        sources=[source],
        test_module=TB_MODULE,
        extra_env={
            "SPIKEFORGE_CORE": entry.core.to_json(),
            "SPIKEFORGE_TOKENS": "3000" if slow else "300",
            "SPIKEFORGE_TIMESTEPS": "" if slow else "40",
        },
        config=entry.label,
    )
    assert result.passed and result.tests == 4
