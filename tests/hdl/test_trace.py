# amaranth: UnusedElaboratable=no
"""Tests of ``TraceUnit``: Amaranth-simulator unit tests against the golden trace step, and
the cocotb regression of its Verilog under Verilator and Icarus (``sim/tb_trace.py``)."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import pytest
from amaranth import Shape, unsigned

from plasticore.config import CoreConfig
from plasticore.hdl.trace import TRACE_KINDS, TraceUnit, trace_input_layout, trace_output_layout
from plasticore.hdl.verilog import to_verilog
from plasticore.sim.amaranth_streams import numbered, run_checked
from plasticore.sim.matrix import MatrixEntry, config_matrix, scaled_core
from plasticore.sim.pe_matrix import distinct, rtl_key_violations
from plasticore.sim.pe_testbench import BACKPRESSURE
from plasticore.sim.tb_trace import (
    COCOTB_TESTS,
    ENV_KIND,
    TOPLEVEL,
    directed_tokens,
    golden_outputs,
    random_tokens,
)

QUICK = config_matrix(quick=True)


def _edge_configs() -> list[MatrixEntry]:
    """Trace corners the matrix does not reach: 1- and 16-bit traces, shifts 1 and 16 (also
    wider than the trace), trace_add 1 and trace_max."""
    return [
        MatrixEntry("t1-tau1-tau16-set", scaled_core(8, 16, trace=1).replace(
            **{"stdp.tau_pre_shift": 1, "stdp.tau_post_shift": 16})),
        MatrixEntry("t16-tau16-tau15-add1", scaled_core(8, 16, trace=16, trace_mode="add")
                    .replace(**{"stdp.tau_pre_shift": 16, "stdp.tau_post_shift": 15,
                                "stdp.trace_add": 1})),
        MatrixEntry("t4-tau16-tau1-addmax", scaled_core(4, 8, trace=4, trace_mode="add")
                    .replace(**{"stdp.tau_pre_shift": 16, "stdp.tau_post_shift": 1,
                                "stdp.trace_add": 15})),
        MatrixEntry("t12-tau7-tau2-add1000", scaled_core(8, 16, trace=12, trace_mode="add")
                    .replace(**{"stdp.tau_pre_shift": 7, "stdp.tau_post_shift": 2,
                                "stdp.trace_add": 1000})),
    ]


EDGE = _edge_configs()


def rtl_key(core: CoreConfig, kind: str) -> tuple[object, ...]:
    """Everything ``TraceUnit(core, kind)`` depends on: equal keys give equal Verilog
    (``test_rtl_key_determines_verilog`` holds the key to that)."""
    s = core.stdp
    shift = s.tau_pre_shift if kind == "pre" else s.tau_post_shift
    return (core.widths.trace, shift, s.trace_mode, s.trace_add if s.trace_mode == "add" else 0)


def _quick_params() -> list[tuple[MatrixEntry, str]]:
    """CI: every quick configuration once (one simulator build each), kinds alternating."""
    return [(entry, TRACE_KINDS[n % 2]) for n, entry in enumerate(QUICK)]


def _slow_params() -> list[tuple[MatrixEntry, str]]:
    """The rest of the matrix and the edge configurations, both kinds, without the pairs
    whose TraceUnit is identical to one tested before (most of the matrix varies only the
    neuron)."""
    return distinct([(entry, kind) for entry in config_matrix() + EDGE for kind in TRACE_KINDS],
                    lambda pair: rtl_key(pair[0].core, pair[1]), done=_quick_params())


def _ids(params: list[tuple[MatrixEntry, str]]) -> list[Any]:
    return [pytest.param(entry, kind, id=f"{entry.label}-{kind}") for entry, kind in params]


# --------------------------------------------------------------------------------------------
# Amaranth simulator


@pytest.mark.parametrize("kind", TRACE_KINDS)
@pytest.mark.parametrize("entry", [pytest.param(e, id=e.label) for e in QUICK + EDGE])
def test_tokens_match_golden(entry: MatrixEntry, kind: str) -> None:
    """Directed corners and random tokens, with idle input and stalled output."""
    core = entry.core
    rng = random.Random(f"amaranth-{entry.label}-{kind}")
    labelled = directed_tokens(core, kind) + numbered(random_tokens(core, kind, rng, 300))
    idle, stall = BACKPRESSURE[0]
    run_checked(TraceUnit(core, kind), labelled, partial(golden_outputs, core, kind),
                idle=idle, stall=stall, seed=1)


@pytest.mark.parametrize("idle, stall", BACKPRESSURE)
def test_random_backpressure(idle: float, stall: float) -> None:
    core = QUICK[1].core
    tokens = random_tokens(core, "post", random.Random(f"{idle}-{stall}"), 300)
    run_checked(TraceUnit(core, "post"), numbered(tokens), partial(golden_outputs, core, "post"),
                idle=idle, stall=stall, seed=3)


@pytest.mark.parametrize("entry", [QUICK[0], QUICK[1]], ids=lambda e: e.label)
def test_latency_is_exact_and_throughput_one_per_cycle(entry: MatrixEntry) -> None:
    core = entry.core
    dut = TraceUnit(core, "pre")
    run = run_checked(dut, numbered(random_tokens(core, "pre", random.Random(5), 40)),
                      partial(golden_outputs, core, "pre"))
    assert dut.latency == 2
    # back to back: token k enters in cycle k and leaves in cycle k + latency
    run.assert_full_throughput(dut.latency)


def test_stall_holds_pipeline() -> None:
    """``o.ready`` low for 20 cycles: one token per stage enters, the output holds its
    payload, then everything drains in order at one token per cycle."""
    core = QUICK[1].core
    dut = TraceUnit(core, "post")
    run = run_checked(dut, numbered(random_tokens(core, "post", random.Random(7), 12)),
                      partial(golden_outputs, core, "post"), hold=20)
    run.assert_stalled(dut.latency, hold=20)


def test_layouts_follow_config() -> None:
    core = EDGE[1].core
    assert [(name, Shape.cast(f.shape)) for name, f in trace_input_layout(core)] == [
        ("x", unsigned(16)), ("spike", unsigned(1))]
    assert [(name, Shape.cast(f.shape)) for name, f in trace_output_layout(core)] == [
        ("x", unsigned(16))]


def test_kind_selects_shift() -> None:
    core = EDGE[0].core
    assert TraceUnit(core, "pre").tau_shift == 1
    assert TraceUnit(core, "post").tau_shift == 16
    assert TraceUnit(core, "post").kind == "post"


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="'both'"):
        TraceUnit(QUICK[0].core, "both")
    with pytest.raises(TypeError, match="'w8m16'"):
        TraceUnit("w8m16", "pre")  # type: ignore[arg-type]


def test_verilog_ports() -> None:
    core = QUICK[0].core
    text = to_verilog(TraceUnit(core, "pre"), TOPLEVEL)
    assert f"input [{trace_input_layout(core).size - 1}:0] i__payload;" in text
    assert f"output [{core.widths.trace - 1}:0] o__payload;" in text
    assert "/home/" not in text and "/work/" not in text


def test_directed_cases_cover_the_corners() -> None:
    """The stimulus itself: add-mode cases reach the rail exactly, decays reach zero."""
    core = QUICK[1].core  # add mode
    labels = [label for label, _ in directed_tokens(core, "pre")]
    assert any(label.endswith(f"= {core.derived.trace_max} (trace_max "
                              f"{core.derived.trace_max}), spike") for label in labels)
    assert any(label.startswith("smallest saturated bump") for label in labels)
    cases = directed_tokens(core, "pre")
    decays = [t["x"] for label, t in cases if label.startswith("decay from trace_max")]
    assert decays[0] == core.derived.trace_max and decays[-1] == 1


def test_rtl_key_determines_verilog() -> None:
    """Configurations the slow tier skips as duplicates elaborate to the same netlist."""
    pairs = [(entry, kind) for entry in config_matrix() + EDGE for kind in TRACE_KINDS]
    bad = rtl_key_violations(pairs, lambda pair: rtl_key(pair[0].core, pair[1]),
                             lambda pair: TraceUnit(pair[0].core, pair[1]), TOPLEVEL)
    assert not bad, [[(entry.core.widths, kind) for entry, kind in group] for group in bad]


# --------------------------------------------------------------------------------------------
# cocotb regression (Verilator and Icarus)


def _regress(pe_regression: Any, entry: MatrixEntry, kind: str) -> None:
    pe_regression(TraceUnit(entry.core, kind), toplevel=TOPLEVEL,
                  test_module="plasticore.sim.tb_trace", tests=COCOTB_TESTS,
                  extra_env={ENV_KIND: kind})


@pytest.mark.parametrize("entry, kind", _ids(_quick_params()))
def test_trace_cocotb(pe_regression: Any, entry: MatrixEntry, kind: str) -> None:
    _regress(pe_regression, entry, kind)


@pytest.mark.slow
@pytest.mark.parametrize("entry, kind", _ids(_slow_params()))
def test_trace_cocotb_full(pe_regression: Any, entry: MatrixEntry, kind: str) -> None:
    _regress(pe_regression, entry, kind)
