# amaranth: UnusedElaboratable=no
"""Tests of ``LIFNeuronUnit``: Amaranth-simulator unit tests against the golden neuron, and
the cocotb regression of its Verilog under Verilator and Icarus (``sim/tb_lif.py``)."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import pytest
from amaranth import Shape, signed, unsigned

from plasticore.hdl.lif import LIFNeuronUnit, lif_input_layout, lif_output_layout
from plasticore.hdl.verilog import to_verilog
from plasticore.sim.amaranth_streams import numbered, run_checked, run_stream
from plasticore.sim.matrix import MatrixEntry, config_matrix, scaled_core
from plasticore.sim.pe_matrix import distinct
from plasticore.sim.pe_testbench import BACKPRESSURE
from plasticore.sim.tb_lif import (
    COCOTB_TESTS,
    TOPLEVEL,
    directed_tokens,
    golden_outputs,
    landing_token,
    random_tokens,
)

QUICK = config_matrix(quick=True)
REST = distinct(config_matrix(), lambda entry: entry.label, done=QUICK)


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


def _feature_configs() -> list[MatrixEntry]:
    """The features of imported networks (issue 16): signed weights, a bias (so a signed
    current that reaches the lower rail), no leak, and a subtraction other than the
    threshold; each alone and mixed."""
    signed_weights = {"widths.weight_signed": True}
    return [
        MatrixEntry("w6m12-signed-none", scaled_core(6, 12, leak_mode="none").replace(
            **signed_weights)),
        MatrixEntry("w8m16-bias12-shift", scaled_core(8, 16).replace(**{"widths.bias": 12})),
        MatrixEntry("w8m16-none", scaled_core(8, 16, leak_mode="none")),
        MatrixEntry("w4m8-subtract-amount", scaled_core(4, 8, reset_mode="subtract").replace(
            **{"neuron.reset_amount": 37})),
        # a reset_amount at v_max: the subtraction saturates at v_min; a bias as wide as
        # the membrane, signed weights and a current shift: the widest signed current
        MatrixEntry("w4m8-signed-bias8-shift2-mult-subtract-vmax", scaled_core(
            4, 8, leak_mode="multiply", reset_mode="subtract").replace(
            **signed_weights, **{"widths.bias": 8, "widths.current_shift": 2,
                                 "neuron.reset_amount": 127})),
        MatrixEntry("w10m24-signed-bias20-none-subtract-amount", scaled_core(
            10, 24, leak_mode="none", reset_mode="subtract").replace(
            **signed_weights, **{"widths.bias": 20, "neuron.reset_amount": 1 << 20})),
    ]


EDGE = _edge_configs()
FEATURES = _feature_configs()


def _ids(entries: list[MatrixEntry]) -> list[Any]:
    return [pytest.param(e, id=e.label) for e in entries]


# --------------------------------------------------------------------------------------------
# Amaranth simulator


@pytest.mark.parametrize("entry", _ids(QUICK + EDGE + FEATURES))
def test_tokens_match_golden(entry: MatrixEntry) -> None:
    """Directed corners and random tokens, with idle input and stalled output."""
    core = entry.core
    rng = random.Random(f"amaranth-{entry.label}")
    labelled = directed_tokens(core) + numbered(random_tokens(core, rng, 300))
    idle, stall = BACKPRESSURE[0]
    run_checked(LIFNeuronUnit(core), labelled, partial(golden_outputs, core), idle=idle,
                stall=stall, seed=1)


def test_latency_is_exact_and_throughput_one_per_cycle() -> None:
    core = QUICK[1].core
    dut = LIFNeuronUnit(core)
    run = run_checked(dut, numbered(random_tokens(core, random.Random(5), 40)),
                      partial(golden_outputs, core))
    assert dut.latency == 3
    # back to back: token k enters in cycle k and leaves in cycle k + latency
    run.assert_full_throughput(dut.latency)


def test_single_token_latency() -> None:
    core = QUICK[0].core
    token = directed_tokens(core)[0][1]
    dut = LIFNeuronUnit(core)
    run = run_stream(dut, [token])
    assert run.out_cycles[0] - run.in_cycles[0] == dut.latency


def test_stall_holds_pipeline() -> None:
    """Output ready held low for 20 cycles: the pipeline fills, stops, holds, and resumes."""
    core = QUICK[1].core
    dut = LIFNeuronUnit(core)
    run = run_checked(dut, numbered(random_tokens(core, random.Random(7), 30)),
                      partial(golden_outputs, core), hold=20)
    run.assert_stalled(dut.latency, hold=20)


@pytest.mark.parametrize("idle, stall", BACKPRESSURE)
def test_random_backpressure(idle: float, stall: float) -> None:
    core = QUICK[0].core
    tokens = random_tokens(core, random.Random(f"{idle}-{stall}"), 200)
    run_checked(LIFNeuronUnit(core), numbered(tokens), partial(golden_outputs, core),
                idle=idle, stall=stall, seed=3)


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


def test_current_is_signed_only_when_it_can_be_negative() -> None:
    """Unsigned current as before without signed weights or a bias (existing designs keep
    their ports); ``derived.current_bits`` signed with either."""
    for entry in QUICK + EDGE:
        assert lif_input_layout(entry.core)["current"].shape == unsigned(
            entry.core.derived.current_bits)
    for entry in FEATURES:
        d = entry.core.derived
        shape = lif_input_layout(entry.core)["current"].shape
        assert shape == (signed(d.current_bits) if d.current_min < 0
                         else unsigned(d.current_bits))
        assert shape.signed == (entry.core.widths.weight_signed or entry.core.widths.bias > 0)


def test_feature_cases_reach_the_rails() -> None:
    """The stimulus of the new features: a negative current saturates at ``v_min``; leak
    ``none`` keeps the membrane; ``reset_amount`` is what a spike subtracts."""
    for entry in FEATURES:
        core = entry.core
        d, n = core.derived, core.neuron
        names = dict(directed_tokens(core))
        if d.current_min < 0:
            (out,) = golden_outputs(core, [names["v_min + min current"]])
            assert out["v"] == d.v_min and out["spike"] == 0
        if n.leak_mode == "none":
            v = n.v_rest + 1000 if n.v_rest + 1000 < n.v_th else n.v_th - 1
            (out,) = golden_outputs(core, [{**names["v_min, no input"], "v": v}])
            assert out["v"] == v
        if n.reset_amount:
            token = landing_token(core, n.v_th, 0, 0)
            assert token is not None
            (out,) = golden_outputs(core, [token])
            assert out["spike"] == 1 and out["v"] == max(n.v_th - n.reset_amount, d.v_min)


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
    for entry in QUICK + EDGE + FEATURES:
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


def _regress(pe_regression: Any, entry: MatrixEntry) -> None:
    pe_regression(LIFNeuronUnit(entry.core), toplevel=TOPLEVEL,
                  test_module="plasticore.sim.tb_lif", tests=COCOTB_TESTS)


@pytest.mark.parametrize("entry", _ids(QUICK + FEATURES[-1:]))
def test_lif_cocotb(pe_regression: Any, entry: MatrixEntry) -> None:
    _regress(pe_regression, entry)


@pytest.mark.slow
@pytest.mark.parametrize("entry", _ids(REST + EDGE + FEATURES[:-1]))
def test_lif_cocotb_full(pe_regression: Any, entry: MatrixEntry) -> None:
    _regress(pe_regression, entry)
