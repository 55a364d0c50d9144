# amaranth: UnusedElaboratable=no
"""Tests of ``LIFNeuronUnit``: Amaranth-simulator unit tests against the golden neuron, and
the cocotb regression of its Verilog under Verilator and Icarus (``sim/tb_lif.py``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from amaranth import Shape, signed, unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

from spikeforge.config import CoreConfig
from spikeforge.hdl.lif import LIFNeuronUnit, lif_input_layout, lif_output_layout
from spikeforge.hdl.verilog import to_verilog, write_verilog
from spikeforge.sim.matrix import MatrixEntry, config_matrix, scaled_core
from spikeforge.sim.tb_lif import (
    BACKPRESSURE,
    ENV_CORE,
    ENV_TOKENS,
    TOPLEVEL,
    Token,
    directed_tokens,
    golden_outputs,
    landing_token,
    random_tokens,
)

QUICK = config_matrix(quick=True)
REST = [e for e in config_matrix() if e.label not in {q.label for q in QUICK}]


def _edge_configs() -> list[MatrixEntry]:
    """Corners the matrix does not reach: negative threshold, extreme leak and theta."""
    return [
        # threshold below zero: the subtract reset saturates at v_max
        MatrixEntry("negthreshold-subtract", scaled_core(4, 8, reset_mode="subtract").replace(
            **{"neuron.v_rest": -100, "neuron.v_reset": -60, "neuron.v_th": -20,
               "neuron.w_inh": 127})),
        # widest multiply: 25 x 18, decay_q = 2**17 (no leak); theta decays one LSB a step
        MatrixEntry("m24-mult-qmax-subtract", scaled_core(
            16, 24, leak_mode="multiply", reset_mode="subtract").replace(
            **{"neuron.decay_frac": 17, "neuron.decay_q": 1 << 17,
               "neuron.theta_decay_shift": 31})),
        # decay_q = 0 (the membrane drops to rest at once), rest and reset on the lower rail
        MatrixEntry("m24-mult-q0-restmin", scaled_core(10, 24, leak_mode="multiply").replace(
            **{"neuron.decay_frac": 1, "neuron.decay_q": 0, "neuron.v_rest": -(1 << 23),
               "neuron.v_reset": -(1 << 23), "neuron.v_th": 2000 - (1 << 23)})),
        # shift beyond the word, t_ref 255, no adaptation, no inhibition, one neuron
        MatrixEntry("m8-shift16-tref255-single", scaled_core(7, 8, n_neurons=1, t_ref=255)
                    .replace(**{"neuron.leak_shift": 16, "neuron.theta_plus": 0,
                                "neuron.theta_decay_shift": 0, "neuron.w_inh": 0})),
        # rest near the upper rail, fastest leak, theta decay 1 and a large theta_plus
        MatrixEntry("m12-highrest-fastdecay", scaled_core(8, 12).replace(
            **{"widths.theta": 8, "neuron.v_rest": 1500, "neuron.v_reset": 1600,
               "neuron.v_th": 1700, "neuron.leak_shift": 1, "neuron.theta_decay_shift": 1,
               "neuron.theta_plus": 255})),
    ]


EDGE = _edge_configs()


def _ids(entries: list[MatrixEntry]) -> list[Any]:
    return [pytest.param(e, id=e.label) for e in entries]


# --------------------------------------------------------------------------------------------
# Amaranth simulator


class Run:
    """Outcome of :func:`simulate`: outputs and the edge index of every transfer."""

    def __init__(self) -> None:
        self.outputs: list[Token] = []
        self.in_edges: list[int] = []
        self.out_edges: list[int] = []


def _as_dict(layout: data.StructLayout, value: Any) -> Token:
    return {name: int(getattr(value, name)) for name, _ in layout}


def simulate(core: CoreConfig, tokens: list[Token], *, idle: float = 0.0, stall: float = 0.0,
             seed: int = 0, hold_ready_low: int = 0) -> tuple[LIFNeuronUnit, Run]:
    """Stream ``tokens`` through the unit in Amaranth's simulator.

    The driver idles before a token with probability ``idle``; the sink drops ``ready`` with
    probability ``stall`` and keeps it low for the first ``hold_ready_low`` cycles, checking
    meanwhile that a stalled output holds its payload.
    """
    dut = LIFNeuronUnit(core)
    out_layout = lif_output_layout(core)
    rng_in, rng_out = random.Random(f"{seed}-in"), random.Random(f"{seed}-out")
    run = Run()
    limit = 50 * (len(tokens) + 10) + hold_ready_low

    async def driver(ctx: Any) -> None:
        edge = 0
        for token in tokens:
            while idle and rng_in.random() < idle:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                edge += 1
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, token)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                edge += 1
                if ready:
                    run.in_edges.append(edge - 1)
                    break
        ctx.set(dut.i.valid, 0)

    async def sink(ctx: Any) -> None:
        held = None
        for edge in range(limit):
            if len(run.outputs) == len(tokens):
                return
            ready = edge >= hold_ready_low and rng_out.random() >= stall
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid and not ready:
                if held is not None:
                    assert _as_dict(out_layout, payload) == held, f"payload changed at {edge}"
                held = _as_dict(out_layout, payload)
            if valid and ready:
                run.outputs.append(_as_dict(out_layout, payload))
                run.out_edges.append(edge)
                held = None
        raise AssertionError(f"{len(tokens) - len(run.outputs)} outputs missing after "
                             f"{limit} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(driver)
    sim.add_testbench(sink)
    sim.run()
    return dut, run


def check_against_golden(core: CoreConfig, labelled: list[tuple[str, Token]],
                         outputs: list[Token]) -> None:
    """Token-by-token comparison; the first mismatch names the case and its input."""
    tokens = [token for _, token in labelled]
    want = golden_outputs(core, tokens)
    assert len(outputs) == len(want)
    for k, ((label, token), got, exp) in enumerate(zip(labelled, outputs, want, strict=True)):
        assert got == exp, f"token {k} ({label}): got {got}, expected {exp}; input {token}"


@pytest.mark.parametrize("entry", _ids(QUICK + EDGE))
def test_tokens_match_golden(entry: MatrixEntry) -> None:
    """Directed corners and random tokens, with idle input and stalled output."""
    core = entry.core
    rng = random.Random(f"amaranth-{entry.label}")
    labelled = directed_tokens(core)
    labelled += [(f"random #{i}", t) for i, t in enumerate(random_tokens(core, rng, 300))]
    idle, stall = BACKPRESSURE[0]
    _, run = simulate(core, [t for _, t in labelled], idle=idle, stall=stall, seed=1)
    check_against_golden(core, labelled, run.outputs)


def test_latency_is_exact_and_throughput_one_per_cycle() -> None:
    core = QUICK[1].core
    tokens = random_tokens(core, random.Random(5), 40)
    dut, run = simulate(core, tokens)
    assert dut.latency == 3
    # back to back: token k enters on edge k and leaves on edge k + latency
    assert run.in_edges == list(range(len(tokens)))
    assert [o - i for i, o in zip(run.in_edges, run.out_edges, strict=True)] == \
        [dut.latency] * len(tokens)
    check_against_golden(core, [("random", t) for t in tokens], run.outputs)


def test_single_token_latency() -> None:
    core = QUICK[0].core
    token = directed_tokens(core)[0][1]
    dut, run = simulate(core, [token])
    assert run.out_edges[0] - run.in_edges[0] == dut.latency


def test_stall_holds_pipeline() -> None:
    """Output ready held low for 20 cycles: the pipeline fills, stops, holds, and resumes."""
    core = QUICK[1].core
    tokens = random_tokens(core, random.Random(7), 30)
    dut, run = simulate(core, tokens, hold_ready_low=20)
    # with the output stalled, only the pipeline's registers fill: one token per stage
    assert run.in_edges[:dut.latency] == list(range(dut.latency))
    assert run.in_edges[dut.latency] >= 20
    assert run.out_edges[0] == 20
    check_against_golden(core, [("random", t) for t in tokens], run.outputs)


@pytest.mark.parametrize("idle, stall", BACKPRESSURE)
def test_random_backpressure(idle: float, stall: float) -> None:
    core = QUICK[0].core
    tokens = random_tokens(core, random.Random(f"{idle}-{stall}"), 200)
    _, run = simulate(core, tokens, idle=idle, stall=stall, seed=3)
    check_against_golden(core, [("random", t) for t in tokens], run.outputs)


def test_layouts_follow_config() -> None:
    core = QUICK[0].core
    d = core.derived
    i, o = lif_input_layout(core), lif_output_layout(core)
    assert [(name, Shape.cast(f.shape)) for name, f in i] == [
        ("v", signed(core.widths.membrane)),
        ("refractory", unsigned(d.refractory_bits)),
        ("theta", unsigned(core.widths.theta)),
        ("current", unsigned(d.current_bits)),
        ("inhibition", unsigned(d.inhibition_bits)),
        ("learn", unsigned(1)),
    ]
    assert [name for name, _ in o] == ["v", "refractory", "theta", "spike"]
    assert o["v"].shape == signed(core.widths.membrane)


def test_rejects_non_config() -> None:
    with pytest.raises(TypeError, match="'w8m16'"):
        LIFNeuronUnit("w8m16")  # type: ignore[arg-type]


def test_verilog_ports() -> None:
    core = QUICK[0].core
    text = to_verilog(LIFNeuronUnit(core), TOPLEVEL)
    width = lif_input_layout(core).size
    assert f"input [{width - 1}:0] i__payload;" in text
    assert f"output [{lif_output_layout(core).size - 1}:0] o__payload;" in text
    assert "/home/" not in text and "/work/" not in text


def test_directed_cases_reach_their_targets() -> None:
    """The stimulus itself: landings hit the threshold exactly, the rails are reached."""
    for entry in QUICK + EDGE:
        core = entry.core
        n = core.neuron
        token = landing_token(core, n.v_th, 0, 0)
        if token is not None:
            (out,) = golden_outputs(core, [token])
            assert out["spike"] == 1
        below = landing_token(core, n.v_th - 1, 0, 0)
        if below is not None:
            (out,) = golden_outputs(core, [below])
            assert out["spike"] == 0 and out["v"] == n.v_th - 1
    names = [name for name, _ in directed_tokens(QUICK[0].core)]
    assert any(name.startswith("lands on threshold") for name in names)
    assert any(name.startswith("refractory 3") for name in names)


# --------------------------------------------------------------------------------------------
# cocotb regression (Verilator and Icarus)


def _regress(run_sim: Any, sim_build_dir: Path, entry: MatrixEntry, tokens: int) -> None:
    # the runner empties the build directory on a rebuild, so the Verilog lives beside it
    rtl = write_verilog(LIFNeuronUnit(entry.core), TOPLEVEL,
                        sim_build_dir.with_name(sim_build_dir.name + ".rtl"))
    result = run_sim(
        toplevel=TOPLEVEL,
        sources=[rtl],
        test_module="spikeforge.sim.tb_lif",
        extra_env={ENV_CORE: entry.core.to_json(), ENV_TOKENS: str(tokens)},
        config=entry.label,
    )
    assert result.passed
    assert result.tests == 2 * len(BACKPRESSURE) + 1


@pytest.mark.parametrize("entry", _ids(QUICK))
def test_lif_cocotb(run_sim: Any, sim_build_dir: Path, entry: MatrixEntry) -> None:
    _regress(run_sim, sim_build_dir, entry, tokens=300)


@pytest.mark.slow
@pytest.mark.parametrize("entry", _ids(REST + EDGE))
def test_lif_cocotb_full(run_sim: Any, sim_build_dir: Path, entry: MatrixEntry) -> None:
    _regress(run_sim, sim_build_dir, entry, tokens=3000)
