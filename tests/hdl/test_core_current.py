# amaranth: UnusedElaboratable=no
"""Tests of ``SnnCore`` with current input (``encoder.kind = "current"``, issue 16): the
current pass computes every neuron's pixel current once per sample and the neuron pass
integrates it at every timestep, bit for bit as the golden model (learning off) and cycle
for cycle as ``hdl.cycles.sample_cycles``, in Amaranth's simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from amaranth.sim import Simulator

from plasticore.config import ConfigError, CoreConfig, NetworkConfig, RuleConfig
from plasticore.golden.network import Network
from plasticore.hdl.core import SnnCore, check_core
from plasticore.hdl.cycles import current_cycles, pass_depths, sample_cycles
from plasticore.hdl.generate import generate, lint
from plasticore.sim.core_session import AmaranthIO, Sample, SessionResult, compare, drive
from plasticore.sim.matrix import scaled_core

CURRENT = {"encoder.kind": "current", "neuron.theta_plus": 0, "neuron.theta_decay_shift": 0}


def _core(weight: int, membrane: int, pixel_bits: int = 4, **kwargs: Any) -> CoreConfig:
    """A current-input core as the RTL takes it (``NetworkConfig.core(0)``: learning off)."""
    core = scaled_core(weight, membrane, learn=False, timesteps=12, pixel_bits=pixel_bits,
                       **kwargs)
    return core.replace(**CURRENT)


def _rtl(core: CoreConfig) -> CoreConfig:
    return NetworkConfig.from_core(core, RuleConfig(kind="none")).core(0)


CASES: dict[str, CoreConfig] = {k: _rtl(v) for k, v in {
    # signed weights and a bias, snnTorch's leak (multiply) and reset (subtract an amount)
    "w8m20-signed-bias12-mult-amount-pe4": _core(
        8, 20, leak_mode="multiply", reset_mode="subtract", t_ref=0).replace(
        n_pe=4, **{"widths.weight_signed": True, "widths.bias": 12,
                   "neuron.reset_amount": 18000, "neuron.w_inh": 0, "neuron.v_th": 15000}),
    # unsigned weights, no bias: an unsigned current; the shift leak, reset to v_reset,
    # refractory time and inhibition
    "w6m16-shift-pe2": _core(6, 16).replace(n_pe=2, **{"neuron.v_th": 3000,
                                                        "neuron.w_inh": 500}),
    # signed weights with a current shift, no leak, 4 encoder lanes and 2 row banks (one
    # row per cycle still), a bias: the row list settles two cycles
    "w5m16-signed-shift2-none-bias8-pe4-banks2-lanes4": _core(
        5, 16, leak_mode="none", reset_mode="subtract", t_ref=1).replace(
        n_pe=4, row_banks=2, **{"widths.weight_signed": True, "widths.current_shift": 2,
                                "widths.bias": 8, "encoder.lanes": 4,
                                "neuron.v_th": 4000, "neuron.w_inh": 300}),
}.items()}


def _network(core: CoreConfig, seed: int = 0, n_samples: int = 3
             ) -> tuple[Any, Any, Any, list[Sample]]:
    """Random weights (signed cores: neurons ``3m`` negative only, ``3m + 1`` positive
    only), biases of both signs, and samples: sparse pixels (about half zero), the last one
    all zero (the pass's one token per word)."""
    rng = np.random.default_rng(seed)
    d = core.derived
    weights = rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons), endpoint=True)
    if core.widths.weight_signed:
        weights[:, ::3] = rng.integers(d.w_min, 0, weights[:, ::3].shape, endpoint=True)
        weights[:, 1::3] = rng.integers(0, d.w_max, weights[:, 1::3].shape, endpoint=True)
    theta = np.zeros(core.n_neurons, np.int64)
    bias = None
    if core.widths.bias:
        bias = rng.integers(d.bias_min >> 2, d.bias_max >> 2, core.n_neurons, endpoint=True)
        bias[:2] = d.bias_min, d.bias_max
    top = (1 << core.encoder.pixel_bits) - 1
    pixels = rng.integers(1, top, (n_samples, core.n_inputs), endpoint=True)
    pixels[rng.random(pixels.shape) < 0.5] = 0
    pixels[0, :3] = top                     # the largest products
    pixels[-1] = 0
    samples = [Sample(pixels[i], key=300 + i, learn=False) for i in range(n_samples)]
    return weights, theta, bias, samples


def _golden(core: CoreConfig, weights: Any, theta: Any, bias: Any, samples: list[Sample]
            ) -> SessionResult:
    """The golden session (learning off) with the cycle model's cycles."""
    net = Network(NetworkConfig.from_core(core, RuleConfig(kind="none")), weights=weights,
                  theta=theta, bias=bias)
    out = SessionResult()
    for s in samples:
        res = net.run_sample(s.pixels, s.key, learn=False, record=True)
        assert res.raster is not None and res.input_raster is None
        out.spikes.append(np.argwhere(res.raster))
        out.counts.append(res.counts.copy())
        predicted = sample_cycles(core, None, res.raster, False, pixels=s.pixels)
        out.cycles.append(predicted.timesteps)
        out.totals.append(predicted.total)
    out.weights, out.theta = net.weights.copy(), net.theta.copy()
    out.bias = None if bias is None else np.asarray(bias)
    return out


def _run(core: CoreConfig, weights: Any, theta: Any, bias: Any, samples: list[Sample],
         stall: float = 0.0) -> SessionResult:
    """The session on ``SnnCore`` in Amaranth's simulator (``sim.core_session.drive``:
    the pixels go in on the ``pixels`` stream as for the rate encoder)."""
    dut = SnnCore(core)
    result: list[SessionResult] = []

    async def bench(ctx: Any) -> None:
        result.append(await drive(AmaranthIO(dut, ctx), core, weights, theta, samples, stall,
                                  bias=bias))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result[0]


@pytest.mark.parametrize("label", list(CASES))
def test_current_core_matches_golden(label: str) -> None:
    """Spikes, counts, every timestep's cycles and each sample's total bit for bit and
    cycle for cycle; weights and biases read back as loaded."""
    core = CASES[label]
    check_core(core)
    weights, theta, bias, samples = _network(core)
    expected = _golden(core, weights, theta, bias, samples)
    counts = np.concatenate(expected.counts)
    assert counts.sum() > 0 and (counts == 0).any(), "some neurons must spike, some not"
    got = _run(core, weights, theta, bias, samples)
    assert compare(core, got, expected) is None, compare(core, got, expected)


def _random_core(seed: int) -> CoreConfig:
    """A random small current-input core (learning off): sizes, lanes, row banks, signed or
    unsigned weights, a bias or none, a current shift, the leak and reset modes, a
    refractory time and inhibition; the threshold at a few times a typical current."""
    rng = np.random.default_rng([seed, 16])
    while True:
        pe, words = int(rng.choice([1, 2, 4])), int(rng.choice([2, 4]))
        lanes = int(rng.choice([1, 2, 4]))
        banks = int(rng.choice([b for b in (1, 2) if lanes % b == 0]))
        weight, membrane = int(rng.integers(3, 9)), int(rng.integers(14, 21))
        pixel_bits = int(rng.integers(1, 6))
        leak = str(rng.choice(["shift", "multiply", "none"]))
        reset = str(rng.choice(["to_reset", "subtract"]))
        core = _core(weight, membrane, pixel_bits, leak_mode=leak, reset_mode=reset,
                     t_ref=int(rng.integers(0, 3)),
                     n_inputs=int(rng.choice([8, 12, 16, 24])), n_neurons=pe * words)
        shift = int(rng.integers(0, min(4, membrane - weight)))
        signed = bool(rng.integers(0, 2))
        bias = int(rng.choice([0, 0, 6, membrane - 4]))
        typical = (core.n_inputs * (1 << weight) * (1 << pixel_bits) >> 3) << shift
        v_th = int(min(max(typical, 8), (1 << (membrane - 1)) - 1))
        try:
            return _rtl(core.replace(n_pe=pe, row_banks=banks, **{
                "encoder.lanes": lanes, "widths.weight_signed": signed,
                "widths.bias": bias, "widths.current_shift": shift, "neuron.v_th": v_th,
                "neuron.v_reset": 0, "neuron.v_rest": 0,
                "neuron.reset_amount": int(rng.choice([0, v_th + v_th // 3])) if
                reset == "subtract" else 0,
                "neuron.w_inh": int(rng.choice([0, v_th >> 3]))}))
        except ConfigError:
            continue


@pytest.mark.parametrize("seed", range(8))
def test_random_current_cores(seed: int) -> None:
    """Random small current-input cores: spikes, counts and cycles as the golden and cycle
    models."""
    core = _random_core(seed)
    weights, theta, bias, samples = _network(core, seed=seed)
    expected = _golden(core, weights, theta, bias, samples)
    assert sum(len(s) for s in expected.spikes) > 0, core
    got = _run(core, weights, theta, bias, samples)
    assert compare(core, got, expected) is None, (compare(core, got, expected), core)


def test_current_pass_cycles_by_hand() -> None:
    """The current pass of the 4-lane, 2-bank case: 16 inputs, 8 neurons in 4 lanes
    (W = 2), 10 non-zero pixels, 4 in bank 0 (even inputs) and 6 in bank 1: 2 (the lists
    of 2 lanes settling) + 2 * 6 + 4 (the drain) = 18 cycles; all zero pixels still one
    token per word: 2 + 2 + 4 = 8.  Timestep 0 waits for it, later timesteps
    do not (no encode pass)."""
    core = CASES["w5m16-signed-shift2-none-bias8-pe4-banks2-lanes4"]
    assert (core.n_inputs, core.derived.neurons_per_pe, core.row_banks) == (16, 2, 2)
    pixels = np.zeros(core.n_inputs, np.int64)
    pixels[[0, 3, 5, 6, 7, 9, 10, 11, 12, 15]] = 1
    depth = pass_depths(core)
    assert (depth["settle"], depth["current"]) == (2, 4)
    assert current_cycles(core, pixels) == 2 + 2 * 6 + 4
    assert current_cycles(core, np.zeros_like(pixels)) == 2 + 2 + 4
    one_bank = core.replace(row_banks=1)
    assert current_cycles(one_bank, pixels) == 2 + 2 * 10 + 4
    raster = np.zeros((core.timesteps, core.n_neurons), bool)
    cycles = sample_cycles(core, None, raster, False, pixels=pixels)
    main = 2 * 1 + pass_depths(core)["neurons"] + 2     # W tokens, drain, decide, end
    assert cycles.timesteps[0] == 18 + 1 + main
    assert (cycles.timesteps[1:] == 1 + main).all()
    assert cycles.load == 1 + core.derived.input_words
    with pytest.raises(ValueError, match="needs the sample's pixels"):
        sample_cycles(core, None, raster, False)


def test_current_core_under_backpressure() -> None:
    """Consumers that stall 40 % of the time change nothing but the cycles."""
    core = CASES["w8m20-signed-bias12-mult-amount-pe4"]
    weights, theta, bias, samples = _network(core, seed=3, n_samples=2)
    expected = _golden(core, weights, theta, bias, samples)
    got = _run(core, weights, theta, bias, samples, stall=0.4)
    assert compare(core, got, expected, cycles=False) is None


def test_pixel_current_matters() -> None:
    """A fault on purpose: the golden session of other pixels (the first pixel changed)
    differs from the RTL's, and ``compare`` says so (the comparison can fail)."""
    core = CASES["w6m16-shift-pe2"]
    weights, theta, bias, samples = _network(core, seed=1, n_samples=2)
    samples = samples[:1]
    got = _run(core, weights, theta, bias, samples)
    assert got.counts[0].sum() > 0
    changed = samples[0].pixels.copy()
    changed[np.argmax(changed)] = 0
    other = _golden(core, weights, theta, bias, [Sample(changed, key=samples[0].key,
                                                        learn=False)])
    assert compare(core, got, other) is not None


def test_current_input_refuses_learning() -> None:
    """STDP follows input spikes: a core with current input and learning is refused."""
    learning = scaled_core(6, 12).replace(**{"encoder.kind": "current"})
    with pytest.raises(ConfigError, match=r"^input.kind = 'current': the RTL core learns"):
        check_core(learning)


def _current_pass(core: CoreConfig, weights: Any, pixels: Any, stall: float = 0.0
                  ) -> tuple[Any, int]:
    """``CurrentPass`` beside a ``WeightStore`` (loaded through its access write) in
    Amaranth's simulator: the pixel words in (the producer idle with probability
    ``stall``), then every word of currents read back; and the cycles from the last pixel
    word taken to ``busy`` low."""
    import random

    from amaranth import Module

    from plasticore.hdl.core.current import CurrentPass
    from plasticore.hdl.core.layouts import pack_words, unpack_words
    from plasticore.hdl.core.weights import WeightStore

    m = Module()
    m.submodules.current = dut = CurrentPass(core)
    m.submodules.weights = store = WeightStore(core, ())
    m.d.comb += [store.rows.eq(dut.weights_rows), dut.weights.eq(store.bank_data)]
    P, W = core.n_pe, core.derived.neurons_per_pe
    words = pack_words(np.asarray(weights), P, core.widths.weight)
    tokens = pack_words(np.asarray(pixels), core.encoder.lanes, core.encoder.pixel_bits)
    out: list[Any] = []
    rng = random.Random(7)

    async def bench(ctx: Any) -> None:
        for addr, word in enumerate(words):
            ctx.set(store.access_write.en, 1)
            ctx.set(store.access_write.addr, addr)
            ctx.set(store.access_write.data.as_value(), word)
            await ctx.tick()
        ctx.set(store.access_write.en, 0)
        ctx.set(dut.load, 1)
        await ctx.tick()
        ctx.set(dut.load, 0)
        pending, last = list(tokens), 0
        cycle = 0
        while pending or ctx.get(dut.busy):
            offered = bool(pending) and rng.random() >= stall
            ctx.set(dut.pixels.valid, int(offered))
            if offered:
                ctx.set(dut.pixels.payload.as_value(), pending[0])
            if offered and ctx.get(dut.pixels.ready):
                pending.pop(0)
                last = cycle
            await ctx.tick()
            cycle += 1
        ctx.set(dut.pixels.valid, 0)
        currents = []
        for k in range(W):
            ctx.set(dut.constant_addr, k)
            await ctx.tick()
            currents.append(int(ctx.get(dut.constant.as_value())))
        out.append(unpack_words(currents, P, core.derived.current_bits,
                                signed=core.derived.current_min < 0))
        out.append(cycle - last - 1)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out[0], out[1]


@pytest.mark.parametrize("label", list(CASES))
def test_current_pass_matches_golden_pixel_current(label: str) -> None:
    """The pass alone: its stored currents are the golden layer's pixel current without
    the bias (``Layer.pixel_current``), for every neuron, and it takes the cycles of
    ``current_cycles`` after the last pixel word (also when the pixels come with gaps)."""
    core = CASES[label]
    weights, theta, _, samples = _network(core, seed=11)
    layer = Network(NetworkConfig.from_core(core, RuleConfig(kind="none")), weights=weights,
                    theta=theta).layers[0]
    for stall, sample in zip((0.0, 0.5, 0.0), samples, strict=True):
        expected = layer.pixel_current(sample.pixels)
        got, cycles = _current_pass(core, weights, sample.pixels, stall)
        assert (got == expected).all(), (got, expected)
        assert cycles == current_cycles(core, sample.pixels)
    assert np.abs(expected).max() == 0          # the last sample: all pixels zero


@pytest.mark.verilator
@pytest.mark.parametrize("label", ["w6m16-shift-pe2",
                                   "w5m16-signed-shift2-none-bias8-pe4-banks2-lanes4"])
def test_lint_clean(label: str, tmp_path: Path) -> None:
    """The generated Verilog of a current-input core lints clean (no constant comparison
    of the row masks the neuron pass does not build)."""
    manifest = generate(CASES[label], tmp_path)
    problems = lint(tmp_path / m["file"] for m in manifest["modules"])
    assert problems == [], "\n".join(problems)
