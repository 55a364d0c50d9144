# amaranth: UnusedElaboratable=no
"""Tests of ``SnnCore`` running a layer trained elsewhere (issue 16): signed weights, a bias
per neuron, no leak, a subtraction other than the threshold, in Amaranth's simulator against
the golden model (learning off) and its cycle model; the access port's bias target; and a
guard that designs without these features are the same netlists as before."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

from plasticore.config import (
    ConfigError,
    CoreConfig,
    NetworkConfig,
    RuleConfig,
    load_config,
)
from plasticore.golden.network import Network
from plasticore.hdl.core import SnnCore, access_bits, access_layout, check_core, check_network
from plasticore.hdl.core.layouts import pack_words, unpack_words
from plasticore.hdl.cycles import sample_cycles
from plasticore.hdl.generate import generate, lint
from plasticore.hdl.lif import LIFNeuronUnit, lif_input_layout
from plasticore.sim.core_session import (
    AmaranthIO,
    Sample,
    SessionResult,
    compare,
    drive,
)
from plasticore.sim.matrix import config_matrix, scaled_core

SIGNED = {"widths.weight_signed": True}


def _network_of(core: CoreConfig) -> NetworkConfig:
    """``core`` as a one-layer network without a learning rule (``rule.kind = "none"``,
    weights trained elsewhere): what the golden model takes signed weights and a bias in."""
    return NetworkConfig.from_core(core, RuleConfig(kind="none"))


def _imported(weight: int, membrane: int, **kwargs: Any) -> CoreConfig:
    """``scaled_core`` with learning off (a network trained elsewhere), no threshold
    adaptation."""
    return scaled_core(weight, membrane, learn=False, timesteps=24, **kwargs).replace(
        **{"neuron.theta_plus": 0, "neuron.theta_decay_shift": 0})


_CASES: dict[str, CoreConfig] = {
    # signed weights, no leak: the neurons with negative weights fall to v_min and stay
    "w6m12-signed-none-pe2": _imported(6, 12, leak_mode="none").replace(
        n_pe=2, **SIGNED, **{"widths.current_shift": 1, "neuron.v_th": 200}),
    # unsigned weights with a bias in -512..511: some neurons driven up, some held down
    "w8m16-bias10-pe2": _imported(8, 16).replace(n_pe=2, **{"widths.bias": 10,
                                                            "neuron.v_th": 1200}),
    # integrate-and-fire, unsigned weights (the event-driven golden loop)
    "w8m16-none-pe4": _imported(8, 16, leak_mode="none").replace(
        n_pe=4, **{"neuron.v_th": 1500}),
    # subtract a fixed amount (larger than the threshold: the membrane goes below rest)
    "w4m8-subtract-amount-pe2": _imported(4, 8, reset_mode="subtract").replace(
        n_pe=2, **{"neuron.reset_amount": 40, "neuron.w_inh": 3}),
    # everything at once: signed weights with a current shift, a bias as wide as the
    # membrane, no leak, subtract a fixed amount, inhibition, 4 lanes, 2 row banks, 4 encoder
    # lanes
    "mixed-w5m12-signed-bias12-none-amount-pe4-banks2-lanes4": _imported(
        5, 12, leak_mode="none", reset_mode="subtract", t_ref=1).replace(
        n_pe=4, row_banks=2, **SIGNED, **{
            "widths.bias": 12, "widths.current_shift": 2, "neuron.reset_amount": 300,
            "neuron.w_inh": 40, "encoder.lanes": 4}),
    # signed weights and a bias with the multiply leak, direct input
    "w8m16-signed-bias6-mult-direct-pe2": _imported(8, 16, leak_mode="multiply").replace(
        n_pe=2, **SIGNED, **{"widths.bias": 6, "encoder.kind": "direct",
                             "neuron.w_inh": 0, "neuron.v_th": 300}),
}
#: The cases as the RTL takes them (``NetworkConfig.core(0)``: learning off).
CASES = {label: _network_of(core).core(0) for label, core in _CASES.items()}


def _network(core: CoreConfig, seed: int = 0, n_samples: int = 3
             ) -> tuple[Any, Any, Any, list[Sample]]:
    """Random weights over the whole range (in signed cores, neurons ``3m`` with negative
    weights only, ``3m + 1`` positive only), thresholds 0, biases of both signs, and
    ``n_samples`` samples."""
    rng = np.random.default_rng(seed)
    d = core.derived
    weights = rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons), endpoint=True)
    if core.widths.weight_signed:            # inhibited neurons reach v_min, excited spike
        weights[:, ::3] = rng.integers(d.w_min, 0, weights[:, ::3].shape, endpoint=True)
        weights[:, 1::3] = rng.integers(0, d.w_max, weights[:, 1::3].shape, endpoint=True)
    theta = np.zeros(core.n_neurons, np.int64)
    bias = None
    if core.widths.bias:
        # both extremes on neurons 0 and 1, the others within an eighth of the range (a
        # bias as wide as the membrane would drown the synaptic current)
        bias = rng.integers(d.bias_min >> 3, d.bias_max >> 3, core.n_neurons, endpoint=True)
        bias[:2] = d.bias_min, d.bias_max
    if core.encoder.kind == "direct":
        pixels = rng.random((n_samples, core.timesteps, core.n_inputs)) < 0.3
    else:
        pixels = rng.integers(0, (1 << core.encoder.pixel_bits) - 1,
                              (n_samples, core.n_inputs), endpoint=True)
    samples = [Sample(pixels[i], key=300 + i, learn=False) for i in range(n_samples)]
    return weights, theta, bias, samples


def _golden(core: CoreConfig, weights: Any, theta: Any, bias: Any, samples: list[Sample]
            ) -> tuple[SessionResult, list[Any]]:
    """The golden session (learning off) and every sample's final membranes.  The literal
    loop runs it; where the event-driven loop applies, it must agree."""
    network = _network_of(core)
    net = Network(network, weights=weights, theta=theta, bias=bias)
    net.event_driven = False
    fast = Network(network, weights=weights, theta=theta, bias=bias)
    out, v_final = SessionResult(), []
    for s in samples:
        res = net.run_sample(s.pixels, s.key, learn=False, record=True)
        assert res.raster is not None and res.input_raster is not None
        check = fast.run_sample(s.pixels, s.key, learn=False, record=True)
        assert (check.raster == res.raster).all(), "event-driven and literal loops differ"
        out.spikes.append(np.argwhere(res.raster))
        out.counts.append(res.counts.copy())
        predicted = sample_cycles(core, res.input_raster, res.raster, False)
        out.cycles.append(predicted.timesteps)
        out.totals.append(predicted.total)
        v_final.append(res.v_final)
    out.weights, out.theta = net.weights.copy(), net.theta.copy()
    return out, v_final


def _run(core: CoreConfig, weights: Any, theta: Any, bias: Any, samples: list[Sample],
         stall: float = 0.0) -> tuple[SessionResult, Any]:
    """The session on ``SnnCore`` in Amaranth's simulator (``sim.core_session.drive``:
    weights, thresholds and biases written through access, the samples, everything read
    back; signed weights and biases come back as two's complement)."""
    dut = SnnCore(core)
    result: list[SessionResult] = []

    async def bench(ctx: Any) -> None:
        result.append(await drive(AmaranthIO(dut, ctx), core, weights, theta, samples, stall,
                                  bias=bias))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result[0], result[0].bias


@pytest.mark.parametrize("label", list(CASES))
def test_core_matches_golden(label: str) -> None:
    """Spikes, counts and every timestep's cycles bit for bit; weights and biases read
    back as loaded."""
    core = CASES[label]
    check_core(core)
    weights, theta, bias, samples = _network(core)
    expected, v_final = _golden(core, weights, theta, bias, samples)
    assert sum(len(s) for s in expected.spikes) > 0, "the session must spike"
    d = core.derived
    if core.widths.weight_signed and core.neuron.leak_mode == "none":
        assert any((v == d.v_min).any() for v in v_final), "a membrane must reach v_min"
    got, got_bias = _run(core, weights, theta, bias, samples)
    assert compare(core, got, expected) is None, compare(core, got, expected)
    if bias is not None:
        assert (got_bias == bias).all()


def test_bias_moves_the_spikes() -> None:
    """The bias matters: with it zeroed the golden spikes differ (so the test above would
    catch a core that dropped it), and so do the RTL's."""
    core = CASES["w8m16-bias10-pe2"]
    weights, theta, bias, samples = _network(core)
    with_bias, _ = _golden(core, weights, theta, bias, samples)
    without, _ = _golden(core, weights, theta, np.zeros_like(bias), samples[:1])
    assert (with_bias.counts[0] != without.counts[0]).any()
    got, _ = _run(core, weights, theta, np.zeros_like(bias), samples[:1])
    assert (got.counts[0] == without.counts[0]).all()


def test_signed_core_under_backpressure() -> None:
    """Consumers that stall 40% of the time change nothing but the cycles."""
    core = CASES["mixed-w5m12-signed-bias12-none-amount-pe4-banks2-lanes4"]
    weights, theta, bias, samples = _network(core, seed=4, n_samples=2)
    expected, _ = _golden(core, weights, theta, bias, samples)
    got, _ = _run(core, weights, theta, bias, samples, stall=0.4)
    assert compare(core, got, expected, cycles=False) is None


def test_access_round_trip_signed() -> None:
    """Every weight from w_min to w_max and every bias extreme, written and read back."""
    core = CASES["mixed-w5m12-signed-bias12-none-amount-pe4-banks2-lanes4"]
    d = core.derived
    span = np.arange(d.w_min, d.w_max + 1)
    weights = np.resize(span, core.n_inputs * core.n_neurons).reshape(core.n_inputs,
                                                                     core.n_neurons)
    bias = np.resize([d.bias_min, d.bias_max, -1, 0, 1, 77, -78], core.n_neurons)
    theta = np.arange(core.n_neurons) * 3
    got, got_bias = _run(core, weights, theta, bias, [])
    assert (got.weights == weights).all()
    assert (got.theta == theta).all()
    assert (got_bias == bias).all()


def test_pack_words_twos_complement() -> None:
    """Negative fields in two's complement, lane 0 at the LSB (hand-packed); out-of-range
    values refused."""
    assert pack_words([-1, 2, -8, 7], 2, 4) == [0x2F, 0x78]
    assert unpack_words([0x2F, 0x78], 2, 4, signed=True).tolist() == [-1, 2, -8, 7]
    assert unpack_words([0x2F, 0x78], 2, 4).tolist() == [15, 2, 8, 7]
    for bad in ([-9, 0], [16, 0]):
        with pytest.raises(ValueError, match="do not fit 4-bit fields"):
            pack_words(bad, 2, 4)


def test_access_layout_bias_target() -> None:
    """With a bias the access word has a ``bias`` bit at the MSB and room for a bias lane;
    without one the layout is as before."""
    core = CASES["mixed-w5m12-signed-bias12-none-amount-pe4-banks2-lanes4"]
    assert [name for name, _ in access_layout(core)] == ["write", "theta", "addr", "data",
                                                         "bias"]
    assert access_bits(core) == core.n_pe * 12
    plain = CASES["w8m16-none-pe4"]
    assert [name for name, _ in access_layout(plain)] == ["write", "theta", "addr", "data"]
    assert access_bits(plain) == plain.n_pe * max(plain.widths.weight, plain.widths.theta)


def test_support_refuses_what_the_core_does_not_run() -> None:
    """Several layers are still refused (by the one-core commands); learning with signed
    weights, a bias or current input too (a network file cannot ask for it, a CoreConfig
    can).  Current input with learning off runs (``test_core_current.py``)."""
    for core in CASES.values():
        check_core(core)
    check_core(CASES["w8m16-none-pe4"].replace(**{"encoder.kind": "current"}))
    with pytest.raises(ConfigError, match=r"^input.kind = 'current': the RTL core learns"):
        check_core(scaled_core(6, 12).replace(**{"encoder.kind": "current"}))
    learning = scaled_core(6, 12)
    with pytest.raises(ConfigError, match=r"^layers\[0\].widths.weight_signed = true: the "
                                          r"RTL core learns \(stdp.learn\) without signed"):
        check_core(learning.replace(**SIGNED))
    with pytest.raises(ConfigError, match=r"^layers\[0\].widths.bias = 4: "):
        check_core(learning.replace(**{"widths.bias": 4}))
    mlp = load_config("digits-mlp-rate").network    # an imported 64-100-10 network
    assert len(mlp.layers) == 2
    with pytest.raises(ConfigError, match="^layers: 2 layers: the RTL core runs one layer"):
        check_network(mlp)
    check_core(mlp.core(0))                         # its first layer alone runs


# --------------------------------------------------------------------------------------------
# existing designs: unchanged


def _digest(component: Any, name: str) -> str:
    text = rtlil.convert(component, name=name, emit_src=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: RTLIL digests of designs without the new features, generated before signed weights and
#: biases entered the core (the commit before "Core: signed weights, a bias per neuron").
#: A change here means the hardware of existing configurations changed: on purpose, update
#: the digest in the commit that says why.  The two cores with learning off changed on
#: purpose when a core that does not learn stopped building its traces, neuron generators,
#: STDP state and threshold adaptation (``test_core_nolearn.py``).
UNCHANGED = {
    ("lif", "w8m16-default"): "d16650bc3f9ac399",
    ("lif", "w4m8-mult-subtract-floor"): "7809765bbd5f9941",
    ("lif", "w16m24-softbound-nolearn-t1000"): "8f4500743d2732c3",
    ("lif", "w1m8-potonly-u4-t1"): "0295c05922599981",
    ("core", "w8m16-default-pe2"): "810757198791f6d4",
    ("core", "w6m12-nolearn-pe2"): "37d913b5daa8fe60",
    ("core", "w4m12-shift4-nolearn-pe4-banks2-lanes4"): "c146ddbd30f3bcad",
}


def _unchanged_cores() -> dict[str, CoreConfig]:
    return {
        "w8m16-default-pe2": scaled_core(8, 16, timesteps=20).replace(n_pe=2),
        "w6m12-nolearn-pe2": scaled_core(6, 12, learn=False, timesteps=20).replace(n_pe=2),
        "w4m12-shift4-nolearn-pe4-banks2-lanes4": scaled_core(
            4, 12, learn=False, timesteps=20).replace(
            n_pe=4, row_banks=2, **{"widths.current_shift": 4, "encoder.lanes": 4}),
    }


def test_existing_designs_unchanged() -> None:
    """The LIF unit of the quick matrix and three cores elaborate to the same netlists as
    before; their current ports stay unsigned and their access words as wide."""
    got = {("lif", e.label): _digest(LIFNeuronUnit(e.core), "lif_neuron_unit")
           for e in config_matrix(quick=True)}
    for label, core in _unchanged_cores().items():
        got["core", label] = _digest(SnnCore(core), "snn_core")
        assert not lif_input_layout(core)["current"].shape.signed
        assert access_bits(core) == core.n_pe * max(core.widths.weight, core.widths.theta)
    assert got == UNCHANGED


#: RTLIL digests of the shipped STDP configurations' cores (recorded before the cores that
#: do not learn lost their learning hardware): a core that learns is built exactly as
#: before.  mnist-400 and fashion-mnist-400 share their hardware, so their digest.
STDP_UNCHANGED = {
    "digits": "f56434d0bf6d62d5",
    "mnist-400": "da513cb4764e919c",
    "fashion-mnist-400": "da513cb4764e919c",
    "mnist-400-fast": "d2453db1cc3aab59",
    "mnist-400-200t": "23917d2fd13bcf02",
}


@pytest.mark.parametrize("name", [
    "digits", "mnist-400",
    *(pytest.param(name, marks=pytest.mark.slow)     # 7 to 35 s each
      for name in ("fashion-mnist-400", "mnist-400-fast", "mnist-400-200t"))])
def test_stdp_designs_unchanged(name: str) -> None:
    """The core of each shipped STDP configuration (``configs/<name>.toml``) elaborates to
    the same netlist as before."""
    core = load_config(name).network.core(0)
    assert core.stdp.learn
    assert _digest(SnnCore(core), "snn_core") == STDP_UNCHANGED[name]


@pytest.mark.verilator
@pytest.mark.parametrize("label", ["mixed-w5m12-signed-bias12-none-amount-pe4-banks2-lanes4",
                                   "w8m16-signed-bias6-mult-direct-pe2"])
def test_lint_clean(label: str, tmp_path: Path) -> None:
    """The generated Verilog of a signed core with a bias lints clean (the second has no
    inhibition, ``w_inh = 0``, as every imported network: no zero-width signal)."""
    manifest = generate(CASES[label], tmp_path)
    problems = lint(tmp_path / m["file"] for m in manifest["modules"])
    assert problems == [], "\n".join(problems)


# -- the generated Verilog in the co-simulation harness, under Verilator and Icarus -----------

#: CI: the mixed core under backpressure, and the direct-input core with cycles compared
#: (config label, consumer stall probability).
SIM_CASES = {"mixed-w5m12-signed-bias12-none-amount-pe4-banks2-lanes4": 0.3,
             "w8m16-signed-bias6-mult-direct-pe2": 0.0}


@pytest.mark.sim
@pytest.mark.parametrize("label", list(SIM_CASES))
def test_core_signed_cocotb(label: str, run_sim: Any, simulator: str, tmp_path: Any) -> None:
    """The session (weights, biases, samples, readback) in the free-running harness on the
    generated Verilog, compared with the golden model inside the simulator."""
    from plasticore.sim.harness import build_dir
    from plasticore.sim.tb_core import COCOTB_TESTS, ENV_STALL, TOPLEVEL, session_inputs

    core = CASES[label]
    weights, theta, bias, samples = _network(core, seed=5, n_samples=2)
    sources, env = session_inputs(core, weights, theta, samples, tmp_path, bias)
    result = run_sim(toplevel=TOPLEVEL, sources=sources, test_module="plasticore.sim.tb_core",
                     extra_env={**env, ENV_STALL: str(SIM_CASES[label])},
                     build_dir=build_dir(simulator, sources), timing=True, public=False)
    assert result.passed and result.tests == COCOTB_TESTS
