# amaranth: UnusedElaboratable=no
"""Tests of ``SnnCore`` in Amaranth's simulator: every spike, count, learned weight and
threshold, and the cycles of every timestep, against the golden model and its cycle model."""

from __future__ import annotations

import numpy as np
import pytest

from plasticore.config import CoreConfig, load_config
from plasticore.golden.network import initial_weights
from plasticore.hdl.core import pack_words, unpack_words
from plasticore.sim.core_session import (
    Sample,
    SessionResult,
    compare,
    golden_session,
    run_amaranth,
)
from plasticore.sim.matrix import scaled_core


def _digits_small() -> CoreConfig:
    """The digits config cut to 6 neurons and 30 timesteps, thresholds lowered to spike."""
    return load_config("digits").core.replace(
        n_neurons=6, n_pe=2, timesteps=30,
        **{"neuron.v_th": 600, "neuron.v_reset": 100, "neuron.t_ref": 2,
           "neuron.w_inh": 300})


def _excitable(core: CoreConfig, v_th: int) -> CoreConfig:
    """``core`` with a threshold low enough to spike within a few timesteps of random
    pixels (adaptive threshold and inhibition scaled with it)."""
    return core.replace(**{"neuron.v_th": v_th, "neuron.theta_plus": max(1, v_th >> 4),
                           "neuron.w_inh": max(1, v_th >> 2)})


CASES = {
    "digits-small-norm": _digits_small(),
    "digits-small-norm-stochastic": _digits_small().replace(
        **{"stdp.norm_rounding": "stochastic"}),
    "digits-small-norm-stochastic-lanes4": _digits_small().replace(
        **{"stdp.norm_rounding": "stochastic", "encoder.lanes": 4}),
    "w8m16-pe2": _excitable(scaled_core(8, 16, timesteps=20).replace(n_pe=2), 700),
    "w4m8-mult-subtract-floor-add-pe4": scaled_core(
        4, 8, leak_mode="multiply", reset_mode="subtract", rounding="floor",
        trace_mode="add", timesteps=20).replace(n_pe=4),
    "w12m20-softbound-pe1": _excitable(scaled_core(12, 20, soft_bound=True, timesteps=15),
                                       9000),
    "w1m8-potonly-tref0-pe8": _excitable(scaled_core(
        1, 8, potentiation_only=True, t_ref=0, trace=4, timesteps=20).replace(
            n_pe=8, **{"stdp.norm": 12}), 2),
    "w6m12-nolearn-pe2": scaled_core(6, 12, learn=False, timesteps=20).replace(n_pe=2),
    # one weight LSB = 16 membrane LSBs (widths.current_shift)
    "w4m12-shift4-pe2": _excitable(scaled_core(4, 12, timesteps=20).replace(
        n_pe=2, **{"widths.current_shift": 4}), 300),
    # every neuron spikes almost every timestep: a word of spikes per cycle into the queue
    # (W = 2 caught a queue that took only one write in two consecutive cycles)
    "burst-pe4": _excitable(scaled_core(8, 16, t_ref=0, timesteps=12), 1).replace(n_pe=4,
        **{"neuron.v_rest": 0, "neuron.v_reset": 0, "neuron.theta_plus": 0,
           "neuron.w_inh": 0}),
    "w8m12-u3-pe2": _excitable(scaled_core(8, 12, update_every=3, timesteps=20).replace(
        n_pe=2), 300),
    "w5m10-u8-potonly-pe4": _excitable(scaled_core(
        5, 10, update_every=8, potentiation_only=True, timesteps=20).replace(n_pe=4), 60),
    # encoder lanes: E inputs per encode cycle, up to E of them into the row list at once
    "digits-small-norm-lanes8": _digits_small().replace(**{"encoder.lanes": 8}),
    "w8m12-u3-pe2-lanes4": _excitable(scaled_core(8, 12, update_every=3, timesteps=20).replace(
        n_pe=2, **{"encoder.lanes": 4}), 300),
    # one encode word holds every input (E = n_inputs)
    "w6m12-nolearn-pe2-lanes16": scaled_core(6, 12, learn=False, timesteps=20).replace(
        n_pe=2, **{"encoder.lanes": 16}),
    # row banks: R spiking rows (one per weight bank) per neuron-pass cycle; learning,
    # normalization (with its draws) and access reach each weight in its bank
    "digits-small-norm-stochastic-banks2-lanes4": _digits_small().replace(
        n_neurons=8, n_pe=4, row_banks=2,
        **{"stdp.norm_rounding": "stochastic", "encoder.lanes": 4}),
    # one lane per bank (E = R), one word per row (W = 1)
    "w8m16-pe8-banks4-lanes4": _excitable(scaled_core(8, 16, timesteps=20).replace(
        n_pe=8, row_banks=4, **{"encoder.lanes": 4}), 700),
    # interval STDP reads the learn row list, the neuron pass the bank lists
    "w8m12-u3-pe2-banks2-lanes8": _excitable(scaled_core(8, 12, update_every=3, timesteps=20)
        .replace(n_pe=2, row_banks=2, **{"encoder.lanes": 8}), 300),
    "w6m12-nolearn-pe4-banks8-lanes16": scaled_core(6, 12, learn=False, timesteps=20).replace(
        n_pe=4, row_banks=8, **{"encoder.lanes": 16}),
    # the normalization in groups of lanes: one divider and multiplier for 2 lanes, with
    # stochastic rounding draws; two for 4 lanes, with row banks
    "digits-small-norm-stochastic-groups2": _digits_small().replace(
        norm_groups=2, **{"stdp.norm_rounding": "stochastic"}),
    "digits-small-norm-groups2-banks2-lanes4": _digits_small().replace(
        n_neurons=8, n_pe=4, row_banks=2, norm_groups=2, **{"encoder.lanes": 4}),
}


def _session(core: CoreConfig, n_learn: int = 3, n_infer: int = 1,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[Sample]]:
    rng = np.random.default_rng(seed)
    pixel_max = (1 << core.encoder.pixel_bits) - 1
    if core.encoder.kind == "direct":       # random rasters, 30% of the inputs spike
        images = rng.random((n_learn + n_infer, core.timesteps, core.n_inputs)) < 0.3
    elif core.n_inputs == 64:
        from plasticore.golden.datasets import load_dataset

        images = load_dataset("digits", None, core.encoder.pixel_bits)[0].images
    else:
        images = rng.integers(0, pixel_max, (n_learn + n_infer, core.n_inputs),
                              endpoint=True)
    samples = [Sample(images[i], key=100 + i, learn=i < n_learn)
               for i in range(n_learn + n_infer)]
    if core.n_inputs == 64 and core.encoder.kind == "rate":
        return initial_weights(core), np.zeros(core.n_neurons, np.int64), samples
    # random weights over the whole range, so every width spikes within a few timesteps
    weights = rng.integers(0, core.derived.w_max, (core.n_inputs, core.n_neurons),
                           endpoint=True)
    theta = rng.integers(0, core.neuron.theta_plus, core.n_neurons, endpoint=True)
    return weights, theta, samples


@pytest.mark.parametrize("label", list(CASES))
def test_core_matches_golden(label: str) -> None:
    """Spikes, counts, weights and thresholds bit for bit; cycles as the cycle model."""
    core = CASES[label]
    weights, theta, samples = _session(core)
    expected = golden_session(core, weights, theta, samples)
    assert sum(len(s) for s in expected.spikes) > 0, "the session must spike"
    if core.stdp.learn:
        assert (expected.weights != weights).any(), "the session must learn"
    got = run_amaranth(core, weights, theta, samples)
    assert compare(core, got, expected) is None, compare(core, got, expected)


def test_core_under_backpressure() -> None:
    """Consumers that stall 40% of the time change nothing but the cycles."""
    core = CASES["w8m16-pe2"]
    weights, theta, samples = _session(core, n_learn=2, n_infer=1, seed=3)
    expected = golden_session(core, weights, theta, samples)
    got = run_amaranth(core, weights, theta, samples, stall=0.4, seed=5)
    assert compare(core, got, expected, cycles=False) is None


def test_access_round_trip() -> None:
    """Words written through the access port read back unchanged; no sample runs."""
    core = CASES["w4m8-mult-subtract-floor-add-pe4"]
    rng = np.random.default_rng(7)
    weights = rng.integers(0, core.derived.w_max, (core.n_inputs, core.n_neurons),
                           endpoint=True)
    theta = rng.integers(0, core.derived.theta_max, core.n_neurons, endpoint=True)
    got = run_amaranth(core, weights, theta, [])
    assert (got.weights == weights).all()
    assert (got.theta == theta).all()


def test_pack_words_layout() -> None:
    """Lane 0 at the LSB, row-major words (hand-packed)."""
    values = np.array([[1, 2, 3, 0], [15, 0, 0, 1]])
    assert pack_words(values, 2, 4) == [0x21, 0x03, 0x0F, 0x10]
    assert unpack_words([0x21, 0x03, 0x0F, 0x10], 2, 4).tolist() == [1, 2, 3, 0, 15, 0, 0, 1]


def test_compare_names_first_difference() -> None:
    """The comparison catches a missing spike, a count, a weight, a theta, a timestep's
    cycles and a sample's cycles."""
    core = CASES["w8m16-pe2"]
    spikes = [np.array([[0, 1], [3, 2]])]
    base = dict(counts=[np.array([0, 1, 1, 0, 0, 0, 0, 0])],
                cycles=[np.array([10, 12])], totals=[40],
                weights=np.zeros((16, 8), np.int64), theta=np.zeros(8, np.int64))
    good = SessionResult(spikes=spikes, **base)
    assert compare(core, good, good) is None
    bad = SessionResult(spikes=[np.array([[0, 1]])], **base)
    assert "timestep 3, neuron 2: golden only" in str(compare(core, bad, good))
    w = base["weights"].copy()
    w[5, 6] = 9
    bad = SessionResult(spikes=spikes, **{**base, "weights": w})
    assert "input 5 to neuron 6: RTL 9, golden 0" in str(compare(core, bad, good))
    bad = SessionResult(spikes=spikes, **{**base, "cycles": [np.array([10, 13])]})
    assert "timestep 1 took 13 cycles" in str(compare(core, bad, good))
    bad = SessionResult(spikes=spikes, **{**base, "totals": [41]})
    assert "sample 0 took 41 cycles from its command to its last count" in str(
        compare(core, bad, good))


@pytest.mark.parametrize(("lanes", "banks"), [(1, 1), (4, 1), (4, 2)])
def test_core_direct_input(lanes: int, banks: int) -> None:
    """Direct spike input: a raster word per timestep instead of pixels (``lanes`` bits of it
    per encode cycle, into ``banks`` row banks); the generators still draw the stochastic
    rounding."""
    core = CASES["w8m16-pe2"].replace(row_banks=banks,
                                      **{"encoder.kind": "direct", "encoder.lanes": lanes})
    weights, theta, samples = _session(core, seed=11)
    expected = golden_session(core, weights, theta, samples)
    assert sum(len(s) for s in expected.spikes) > 0 and (expected.weights != weights).any()
    got = run_amaranth(core, weights, theta, samples)
    assert compare(core, got, expected) is None, compare(core, got, expected)


# --------------------------------------------------------------------------------------------
# cocotb regression of the core's Verilog, under Verilator and Icarus


# (config, consumer stall probability, learning samples, inference samples)
SIM_CASES = {
    # CI: real digits images, 20 learning samples then 5 inference samples
    "digits-small-norm-20": (CASES["digits-small-norm"], 0.0, 20, 5),
    # a current shift, stochastic normalization and two encoder lanes (rate input), under
    # backpressure, learning on then off
    "w4m8-mult-subtract-floor-add-shift2-stochnorm-lanes2-pe4-stall": (
        CASES["w4m8-mult-subtract-floor-add-pe4"].replace(
            **{"widths.current_shift": 2, "stdp.norm_rounding": "stochastic",
               "encoder.lanes": 2}),
        0.3, 3, 1),
    # four encoder lanes with direct input, learning on then off, cycles compared
    "w8m16-direct-pe2-lanes4": (CASES["w8m16-pe2"].replace(
        **{"encoder.kind": "direct", "encoder.lanes": 4}), 0.0, 3, 1),
    # row banks (two rows per neuron-pass cycle) with normalization and its stochastic
    # draws in two groups of lanes, under backpressure
    "digits-small-norm-stochastic-banks2-groups2-lanes4-stall": (
        CASES["digits-small-norm-stochastic-banks2-lanes4"].replace(norm_groups=2),
        0.3, 3, 1),
}
# make sim: more lanes, widths, timesteps, leak and reset modes, FSpiNN options
SLOW_SIM_CASES = {
    "digits-pe10-t100": (load_config("digits").core.replace(
        n_neurons=20, n_pe=10, timesteps=100, **{"neuron.v_th": 1500}), 0.0, 20, 5),
    **{label: (core, 0.0, 8, 2) for label, core in CASES.items()
       if label != "digits-small-norm"},
    "w16m24-softbound-potonly-pe4": (_excitable(scaled_core(
        16, 24, soft_bound=True, potentiation_only=True, trace=12, timesteps=30).replace(
            n_pe=4), 1 << 17), 0.2, 8, 2),
    "w2m10-subtract-floor-tref0-pe2": (_excitable(scaled_core(
        2, 10, reset_mode="subtract", rounding="floor", t_ref=0, timesteps=40).replace(
            n_pe=2), 6), 0.0, 8, 2),
}


def _core_cocotb(label: str, cases, run_sim, simulator: str, tmp_path) -> None:
    """The session in the free-running harness (``plasticore.sim.harness``); one build per
    generated Verilog, shared by every test and CLI call that generates it."""
    from plasticore.sim.harness import build_dir
    from plasticore.sim.tb_core import COCOTB_TESTS, ENV_STALL, TOPLEVEL, session_inputs

    core, stall, n_learn, n_infer = cases[label]
    weights, theta, samples = _session(core, n_learn, n_infer)
    sources, env = session_inputs(core, weights, theta, samples, tmp_path)
    result = run_sim(toplevel=TOPLEVEL, sources=sources, test_module="plasticore.sim.tb_core",
                     extra_env={**env, ENV_STALL: str(stall)},
                     build_dir=build_dir(simulator, sources), timing=True, public=False)
    assert result.passed and result.tests == COCOTB_TESTS


@pytest.mark.sim
@pytest.mark.parametrize("label", list(SIM_CASES))
def test_core_cocotb(label: str, run_sim, simulator, tmp_path) -> None:
    """The whole session on the generated Verilog, compared inside the simulator."""
    _core_cocotb(label, SIM_CASES, run_sim, simulator, tmp_path)


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize("label", list(SLOW_SIM_CASES))
def test_core_cocotb_matrix(label: str, run_sim, simulator, tmp_path) -> None:
    """The full set of core configurations (``make sim``)."""
    _core_cocotb(label, SLOW_SIM_CASES, run_sim, simulator, tmp_path)


# the soak: every digits training image (200 before the free-running harness)
SOAK_SAMPLES = 1200


@pytest.mark.sim
@pytest.mark.slow
def test_core_soak_digits(tmp_path, request) -> None:
    """Soak (``make sim``, not CI): the default digits core learns the whole digits training
    set (:data:`SOAK_SAMPLES` images) under Verilator; every spike, count, weight,
    threshold and timestep's cycles stay equal to the golden model.  Verilator only: Icarus
    runs the digits core at about a thousand cycles per second, so the same session would
    take most of a day, and the quick and full regressions already run the core under both
    simulators."""
    from plasticore.golden.datasets import load_digits
    from plasticore.sim import runner
    from plasticore.sim.harness import build_dir
    from plasticore.sim.tb_core import TOPLEVEL, session_inputs

    core = load_config("digits").core
    images = load_digits(core.encoder.pixel_bits)[0].images[:SOAK_SAMPLES]
    samples = [Sample(images[n], key=n, learn=True) for n in range(len(images))]
    sources, env = session_inputs(core, initial_weights(core),
                                  np.zeros(core.n_neurons, np.int64), samples, tmp_path)
    test_name = f"{request.node.path.name}::{request.node.originalname}"
    try:
        result = runner.run_cocotb(
            toplevel=TOPLEVEL, sources=sources, test_module="plasticore.sim.tb_core",
            simulator="verilator", build_dir=build_dir("verilator", sources), extra_env=env,
            timing=True, public=False)
    except runner.SimFailure as exc:
        runner.record_result(exc.result, test_name, f"digits-{SOAK_SAMPLES}-learning")
        raise
    runner.record_result(result, test_name, f"digits-{SOAK_SAMPLES}-learning")
    assert result.passed
