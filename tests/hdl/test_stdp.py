# amaranth: UnusedElaboratable=no
"""Tests of ``StdpUnit``: Amaranth-simulator unit tests against the golden weight change, and
the cocotb regression of its Verilog under Verilator and Icarus (``sim/tb_stdp.py``)."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import pytest
from amaranth import Shape, unsigned

from plasticore.config import CoreConfig
from plasticore.hdl.stdp import StdpUnit, stdp_input_layout, stdp_output_layout
from plasticore.hdl.verilog import to_verilog
from plasticore.sim.amaranth_streams import numbered, run_checked, run_stream
from plasticore.sim.matrix import MatrixEntry, config_matrix, scaled_core
from plasticore.sim.pe_matrix import distinct, rtl_key_violations
from plasticore.sim.pe_testbench import BACKPRESSURE
from plasticore.sim.tb_stdp import (
    COCOTB_TESTS,
    RAND_MAX,
    TOPLEVEL,
    directed_tokens,
    golden_outputs,
    random_tokens,
)

QUICK = config_matrix(quick=True)


def _edge_configs() -> list[MatrixEntry]:
    """STDP corners the matrix does not reach: no shift at all, the 32-bit shift with 48-bit
    numerators, zero learning rates, shifts beyond 16 with and without soft bound, floor
    rounding with soft bound, potentiation only with soft bound, 1-bit traces."""
    return [
        # stdp_shift 0: R is the identity, every change is large and clipped
        MatrixEntry("shift0", scaled_core(8, 16).replace(
            **{"stdp.eta_shift": 0, "stdp.eta_pre": 3, "stdp.eta_post": 5})),
        # the widest datapath: 16-bit traces and weights, 16-bit etas, shift 16 + 16 = 32
        MatrixEntry("w16t16-soft-shift32", scaled_core(16, 24, trace=16, soft_bound=True)
                    .replace(**{"stdp.eta_shift": 16, "stdp.eta_pre": 0xFFFF,
                                "stdp.eta_post": 0xFFFF})),
        # zero learning rates: nothing ever changes
        MatrixEntry("eta0", scaled_core(6, 16).replace(
            **{"stdp.eta_pre": 0, "stdp.eta_post": 0})),
        # shift 24 without soft bound: r = rand16 << 8
        MatrixEntry("w12t16-shift24", scaled_core(12, 20, trace=16).replace(
            **{"stdp.eta_shift": 24, "stdp.eta_pre": 0xFFFF, "stdp.eta_post": 0xFFFF})),
        # 1-bit weights with soft bound: shift 25
        MatrixEntry("w1t16-soft-shift25", scaled_core(1, 8, trace=16, soft_bound=True)
                    .replace(**{"stdp.eta_shift": 24, "stdp.eta_pre": 0xFFFF,
                                "stdp.eta_post": 0xFFFF})),
        MatrixEntry("w10-soft-floor", scaled_core(10, 24, soft_bound=True, rounding="floor")),
        MatrixEntry("w7-soft-potonly", scaled_core(7, 8, soft_bound=True,
                                                   potentiation_only=True)),
        # 1-bit traces, small shift, depression stronger than potentiation
        MatrixEntry("w5t1-shift3", scaled_core(5, 8, trace=1).replace(
            **{"stdp.eta_shift": 3, "stdp.eta_pre": 50, "stdp.eta_post": 9})),
    ]


EDGE = _edge_configs()


def rtl_key(core: CoreConfig) -> tuple[object, ...]:
    """Everything ``StdpUnit(core)`` depends on: equal keys give equal Verilog
    (``test_rtl_key_determines_verilog`` holds the key to that)."""
    s = core.stdp
    return (core.widths.weight, core.widths.trace, s.eta_pre, s.eta_post, s.eta_shift,
            s.rounding, s.soft_bound, s.potentiation_only)


def _slow_params() -> list[MatrixEntry]:
    """The rest of the matrix and the edge configurations, without those whose StdpUnit is
    identical to one tested before (much of the matrix varies only the neuron)."""
    return distinct(config_matrix() + EDGE, lambda entry: rtl_key(entry.core), done=QUICK)


def _ids(entries: list[MatrixEntry]) -> list[Any]:
    return [pytest.param(e, id=e.label) for e in entries]


# --------------------------------------------------------------------------------------------
# Amaranth simulator


@pytest.mark.parametrize("entry", _ids(QUICK + EDGE))
def test_tokens_match_golden(entry: MatrixEntry) -> None:
    """Directed corners and random tokens, with idle input and stalled output."""
    core = entry.core
    rng = random.Random(f"amaranth-{entry.label}")
    labelled = directed_tokens(core) + numbered(random_tokens(core, rng, 300))
    idle, stall = BACKPRESSURE[0]
    run_checked(StdpUnit(core), labelled, partial(golden_outputs, core), idle=idle,
                stall=stall, seed=1)


@pytest.mark.parametrize("idle, stall", BACKPRESSURE)
def test_random_backpressure(idle: float, stall: float) -> None:
    core = QUICK[0].core
    tokens = random_tokens(core, random.Random(f"{idle}-{stall}"), 300)
    run_checked(StdpUnit(core), numbered(tokens), partial(golden_outputs, core), idle=idle,
                stall=stall, seed=3)


@pytest.mark.parametrize("entry", [QUICK[0], QUICK[2]], ids=lambda e: e.label)
def test_latency_is_exact_and_throughput_one_per_cycle(entry: MatrixEntry) -> None:
    core = entry.core
    dut = StdpUnit(core)
    run = run_checked(dut, numbered(random_tokens(core, random.Random(5), 40)),
                      partial(golden_outputs, core))
    assert dut.latency == (4 if core.stdp.soft_bound else 3)
    # back to back: token k enters in cycle k and leaves in cycle k + latency
    run.assert_full_throughput(dut.latency)


@pytest.mark.parametrize("entry", [QUICK[0], QUICK[2]], ids=lambda e: e.label)
def test_stall_holds_pipeline(entry: MatrixEntry) -> None:
    """``o.ready`` low for 20 cycles: one token per stage enters, the output holds its
    payload, then everything drains in order at one token per cycle."""
    core = entry.core
    dut = StdpUnit(core)
    run = run_checked(dut, numbered(random_tokens(core, random.Random(7), 12)),
                      partial(golden_outputs, core), hold=20)
    run.assert_stalled(dut.latency, hold=20)


def test_hand_example() -> None:
    """A hand-derived update: w 100, x_pre 200, x_post 100, eta_post 40000, eta_pre 3000,
    shift 16, stochastic: pot = (8_000_000 + r) >> 16, dep = (300_000 + r) >> 16."""
    core = QUICK[0].core
    assert (core.stdp.eta_post, core.stdp.eta_pre, core.derived.stdp_shift) == (40000, 3000, 16)
    # r = rand16: 0 -> pot 122, dep 4; 0xFFFF -> pot 123, dep 5
    tokens = [
        {"w": 100, "x_pre": 200, "x_post": 100, "pre": 1, "post": 1, "rand16": 0},
        {"w": 100, "x_pre": 200, "x_post": 100, "pre": 1, "post": 1, "rand16": RAND_MAX},
        {"w": 100, "x_pre": 200, "x_post": 100, "pre": 0, "post": 1, "rand16": 0},
        {"w": 100, "x_pre": 200, "x_post": 100, "pre": 1, "post": 0, "rand16": RAND_MAX},
        {"w": 200, "x_pre": 200, "x_post": 100, "pre": 0, "post": 1, "rand16": 0},
        {"w": 3, "x_pre": 200, "x_post": 100, "pre": 1, "post": 0, "rand16": RAND_MAX},
    ]
    run = run_stream(StdpUnit(core), tokens)
    assert [o["w"] for o in run.outputs] == [218, 218, 222, 95, 255, 0]
    assert [o["w"] for o in golden_outputs(core, tokens)] == [218, 218, 222, 95, 255, 0]


def test_layouts_follow_config() -> None:
    core = EDGE[1].core
    assert [(name, Shape.cast(f.shape)) for name, f in stdp_input_layout(core)] == [
        ("w", unsigned(16)), ("x_pre", unsigned(16)), ("x_post", unsigned(16)),
        ("pre", unsigned(1)), ("post", unsigned(1)), ("rand16", unsigned(16))]
    assert [(name, Shape.cast(f.shape)) for name, f in stdp_output_layout(core)] == [
        ("w", unsigned(16))]


def test_rejects_non_config() -> None:
    with pytest.raises(TypeError, match="'w8m16'"):
        StdpUnit("w8m16")  # type: ignore[arg-type]


def test_verilog_ports() -> None:
    core = QUICK[0].core
    text = to_verilog(StdpUnit(core), TOPLEVEL)
    assert f"input [{stdp_input_layout(core).size - 1}:0] i__payload;" in text
    assert f"output [{core.widths.weight - 1}:0] o__payload;" in text
    assert "/home/" not in text and "/work/" not in text


def test_directed_cases_cover_the_corners() -> None:
    """The stimulus itself: clip bounds hit exactly, rounding edges found, draw extremes."""
    core = QUICK[0].core
    cases = directed_tokens(core)
    labels = [label for label, _ in cases]
    for bound in (-1, 0, 1, 254, 255, 256):
        assert any(label.startswith(f"exact sum {bound} ") for label in labels), bound
    assert any(label.startswith("pot rounding edge (rand16") for label in labels)
    assert any(label.startswith("dep rounding edge (x_post") for label in labels)
    assert {t["rand16"] for _, t in cases} >= {0, RAND_MAX}
    assert any(t["pre"] and t["post"] for _, t in cases)


def test_rtl_key_determines_verilog() -> None:
    """Configurations the slow tier skips as duplicates elaborate to the same netlist."""
    bad = rtl_key_violations(config_matrix() + EDGE, lambda entry: rtl_key(entry.core),
                             lambda entry: StdpUnit(entry.core), TOPLEVEL)
    assert not bad, [[entry.core.stdp for entry in group] for group in bad]


# --------------------------------------------------------------------------------------------
# cocotb regression (Verilator and Icarus)


def _regress(pe_regression: Any, entry: MatrixEntry) -> None:
    pe_regression(StdpUnit(entry.core), toplevel=TOPLEVEL,
                  test_module="plasticore.sim.tb_stdp", tests=COCOTB_TESTS)


@pytest.mark.parametrize("entry", _ids(QUICK))
def test_stdp_cocotb(pe_regression: Any, entry: MatrixEntry) -> None:
    _regress(pe_regression, entry)


@pytest.mark.slow
@pytest.mark.parametrize("entry", _ids(_slow_params()))
def test_stdp_cocotb_full(pe_regression: Any, entry: MatrixEntry) -> None:
    _regress(pe_regression, entry)
