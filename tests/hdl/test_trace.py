# amaranth: UnusedElaboratable=no
"""Tests of ``TraceUnit``: Amaranth-simulator unit tests against the golden trace step, and
the cocotb regression of its Verilog under Verilator and Icarus (``sim/tb_trace.py``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from amaranth import Shape, unsigned
from amaranth.back import rtlil
from amaranth.sim import Simulator

from spikeforge.config import CoreConfig
from spikeforge.hdl.trace import TRACE_KINDS, TraceUnit, trace_input_layout, trace_output_layout
from spikeforge.hdl.verilog import to_verilog, write_verilog
from spikeforge.sim.amaranth_streams import run_stream
from spikeforge.sim.matrix import MatrixEntry, config_matrix, scaled_core
from spikeforge.sim.tb_trace import (
    BACKPRESSURE,
    ENV_CORE,
    ENV_KIND,
    ENV_TOKENS,
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
    seen = {rtl_key(entry.core, kind) for entry, kind in _quick_params()}
    params = []
    for entry in config_matrix() + EDGE:
        for kind in TRACE_KINDS:
            key = rtl_key(entry.core, kind)
            if key not in seen:
                seen.add(key)
                params.append((entry, kind))
    return params


def _ids(params: list[tuple[MatrixEntry, str]]) -> list[Any]:
    return [pytest.param(entry, kind, id=f"{entry.label}-{kind}") for entry, kind in params]


def check_against_golden(core: CoreConfig, kind: str, labelled: list[tuple[str, dict]],
                         outputs: list[dict]) -> None:
    """Token-by-token comparison; the first mismatch names the case and its input."""
    tokens = [token for _, token in labelled]
    want = golden_outputs(core, kind, tokens)
    assert len(outputs) == len(want)
    for k, ((label, token), got, exp) in enumerate(zip(labelled, outputs, want, strict=True)):
        assert got == exp, f"token {k} ({label}): got {got}, expected {exp}; input {token}"


# --------------------------------------------------------------------------------------------
# Amaranth simulator


@pytest.mark.parametrize("kind", TRACE_KINDS)
@pytest.mark.parametrize("entry", [pytest.param(e, id=e.label) for e in QUICK + EDGE])
def test_tokens_match_golden(entry: MatrixEntry, kind: str) -> None:
    """Directed corners and random tokens, with idle input and stalled output."""
    core = entry.core
    labelled = directed_tokens(core, kind)
    rng = random.Random(f"amaranth-{entry.label}-{kind}")
    labelled += [(f"random #{i}", t) for i, t in enumerate(random_tokens(core, kind, rng, 300))]
    idle, stall = BACKPRESSURE[0]
    run = run_stream(TraceUnit(core, kind), [t for _, t in labelled], idle=idle, stall=stall,
                     seed=1)
    check_against_golden(core, kind, labelled, run.outputs)


@pytest.mark.parametrize("idle, stall", BACKPRESSURE)
def test_random_backpressure(idle: float, stall: float) -> None:
    core = QUICK[1].core
    tokens = random_tokens(core, "post", random.Random(f"{idle}-{stall}"), 300)
    run = run_stream(TraceUnit(core, "post"), tokens, idle=idle, stall=stall, seed=3)
    check_against_golden(core, "post", [("random", t) for t in tokens], run.outputs)


@pytest.mark.parametrize("entry", [QUICK[0], QUICK[1]], ids=lambda e: e.label)
def test_latency_is_exact_and_throughput_one_per_cycle(entry: MatrixEntry) -> None:
    core = entry.core
    tokens = random_tokens(core, "pre", random.Random(5), 40)
    dut = TraceUnit(core, "pre")
    run = run_stream(dut, tokens)
    assert dut.latency == 2
    # back to back: token k enters in cycle k and leaves in cycle k + latency
    assert run.in_cycles == list(range(len(tokens)))
    assert run.out_cycles == [c + dut.latency for c in run.in_cycles]
    check_against_golden(core, "pre", [("random", t) for t in tokens], run.outputs)


def test_stall_holds_pipeline() -> None:
    """``o.ready`` low for 20 cycles: one token per stage enters, the output holds its
    payload, then everything drains in order at one token per cycle."""
    core = QUICK[1].core
    tokens = random_tokens(core, "post", random.Random(7), 12)
    dut = TraceUnit(core, "post")
    in_layout = trace_input_layout(core)
    hold = 20
    accepted: list[int] = []
    outputs: list[tuple[int, int]] = []

    async def bench(ctx: Any) -> None:
        pending = list(tokens)
        for cycle in range(hold + 3 * len(tokens) + 10):
            ctx.set(dut.i.valid, int(bool(pending)))
            if pending:
                ctx.set(dut.i.payload, in_layout.const(pending[0]))
            ctx.set(dut.o.ready, int(cycle >= hold))
            if ctx.get(dut.i.valid) and ctx.get(dut.i.ready):
                accepted.append(cycle)
                pending.pop(0)
            if ctx.get(dut.o.valid):
                x = int(ctx.get(dut.o.payload).x)
                if cycle < hold:
                    outputs.append((cycle, x))  # held token, seen every stalled cycle
                elif ctx.get(dut.o.ready):
                    outputs.append((cycle, x))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = [o["x"] for o in golden_outputs(core, "post", tokens)]
    # the pipeline fills (one token per register stage), then stalls until ready rises
    assert accepted[:dut.latency] == list(range(dut.latency))
    assert accepted[dut.latency] == hold
    stalled = [x for cycle, x in outputs if cycle < hold]
    assert stalled == [want[0]] * (hold - dut.latency)
    drained = [(cycle, x) for cycle, x in outputs if cycle >= hold]
    assert [x for _, x in drained] == want
    assert [cycle for cycle, _ in drained] == list(range(hold, hold + len(tokens)))


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
    groups: dict[tuple[object, ...], list[tuple[CoreConfig, str]]] = {}
    for entry in config_matrix() + EDGE:
        for kind in TRACE_KINDS:
            groups.setdefault(rtl_key(entry.core, kind), []).append((entry.core, kind))
    for members in (m for m in groups.values() if len(m) > 1):
        netlists = {rtlil.convert(TraceUnit(core, kind), name=TOPLEVEL, emit_src=False)
                    for core, kind in members}
        assert len(netlists) == 1, [(core.widths, kind) for core, kind in members]


# --------------------------------------------------------------------------------------------
# cocotb regression (Verilator and Icarus)


def _regress(run_sim: Any, sim_build_dir: Path, entry: MatrixEntry, kind: str,
             tokens: int) -> None:
    # the runner empties the build directory on a rebuild, so the Verilog lives beside it
    rtl = write_verilog(TraceUnit(entry.core, kind), TOPLEVEL,
                        sim_build_dir.with_name(sim_build_dir.name + ".rtl"))
    result = run_sim(
        toplevel=TOPLEVEL,
        sources=[rtl],
        test_module="spikeforge.sim.tb_trace",
        extra_env={ENV_CORE: entry.core.to_json(), ENV_KIND: kind, ENV_TOKENS: str(tokens)},
        config=f"{entry.label}-{kind}",
    )
    assert result.passed
    assert result.tests == 2 * len(BACKPRESSURE) + 1


@pytest.mark.parametrize("entry, kind", _ids(_quick_params()))
def test_trace_cocotb(run_sim: Any, sim_build_dir: Path, entry: MatrixEntry, kind: str) -> None:
    _regress(run_sim, sim_build_dir, entry, kind, tokens=300)


@pytest.mark.slow
@pytest.mark.parametrize("entry, kind", _ids(_slow_params()))
def test_trace_cocotb_full(run_sim: Any, sim_build_dir: Path, entry: MatrixEntry,
                           kind: str) -> None:
    _regress(run_sim, sim_build_dir, entry, kind, tokens=3000)
