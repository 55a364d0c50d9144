# amaranth: UnusedElaboratable=no
"""Tests of ``NetworkCore`` (a core per layer, chained by ``SpikeRaster``) in Amaranth's
simulator: every layer's spikes per timestep, the last layer's counts and the cycles of
every layer's timesteps, against the golden model (one ``Network`` per layer, held equal
to the multi-layer ``Network``) and the pipeline's cycle model."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from plasticore.config import ConfigError, LayerConfig, NetworkConfig, RuleConfig
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network
from plasticore.hdl.core import check_network, pack_words, unpack_words
from plasticore.hdl.cycles import network_sample_cycles
from plasticore.hdl.network import NetworkCore
from plasticore.sim.matrix import scaled_core

Array = Any


def _network(sizes: list[int], pes: list[int], banks: list[int] | None = None,
             lanes: int = 1, timesteps: int = 12, v_th: int = 700, seed: int = 1,
             current_shift: int = 0, **options: Any) -> NetworkConfig:
    """A rate-input network of ``sizes`` (inputs, then each layer's neurons), 8-bit unsigned
    weights and 16-bit membranes, thresholds low enough for random weights to spike;
    ``options`` replace core fields of every layer (``**{"widths.bias": 6}``)."""
    core = scaled_core(8, 16, timesteps=timesteps, learn=False, n_inputs=sizes[0],
                       n_neurons=sizes[1], seed=seed)
    core = core.replace(**{"neuron.v_th": v_th, "neuron.theta_plus": max(1, v_th >> 4),
                           "neuron.w_inh": max(1, v_th >> 4), "neuron.v_rest": 0,
                           "neuron.v_reset": 0, "neuron.t_ref": 1, "encoder.lanes": lanes,
                           "widths.current_shift": current_shift})
    one = NetworkConfig.from_core(core)
    core = core.replace(**options)
    banks = banks or [1] * len(pes)
    layers = tuple(LayerConfig(n_neurons=n, n_pe=p, row_banks=b, widths=core.widths,
                               neuron=core.neuron)
                   for n, p, b in zip(sizes[1:], pes, banks, strict=True))
    return dataclasses.replace(one, layers=layers, rule=RuleConfig(kind="none"))


@dataclass
class Golden:
    """The golden model's sample: every layer's raster, the last layer's counts, and the
    cycle model's prediction."""

    rasters: list[Array]
    counts: Array
    step_ends: Array
    total: int
    idle: int


def _golden(network: NetworkConfig, weights: list[Array], theta: list[Array],
            pixels: Array, key: int, bias: list[Array] | None = None) -> Golden:
    """Each layer on its own (a one-layer ``Network`` on the previous layer's raster), held
    equal to the multi-layer ``Network``; the cycle model on the rasters."""
    cores = network.cores
    source, rasters = pixels, []
    bias = bias or [None] * len(cores)
    for index, (w, th, b) in enumerate(zip(weights, theta, bias, strict=True)):
        layer = network.layers[index]
        alone = dataclasses.replace(network, layers=(layer,), input=network.input if index == 0
                                    else dataclasses.replace(
                                        network.input, n_inputs=network.layer_inputs(index),
                                        kind="direct", lanes=layer.row_banks))
        assert alone.core(0) == cores[index]
        result = Network(alone, weights=[w], theta=[th], bias=[b]).run_sample(
            source, key, learn=False, record=True)
        if not rasters:
            input_raster = result.input_raster
        rasters.append(result.raster)
        source = result.raster
    whole = Network(network, weights=weights, theta=theta, bias=bias).run_sample(
        pixels, key, learn=False, record=True)
    assert (whole.raster == rasters[-1]).all()
    for count, raster in zip(whole.layer_counts, rasters, strict=True):
        assert (count == raster.sum(axis=0)).all()
    model = network_sample_cycles(cores, input_raster, rasters, pixels=pixels)
    return Golden(rasters, whole.counts, model.step_ends, model.total, model.idle)


@dataclass
class Measured:
    """What the RTL did in one sample (cycles counted from its command's)."""

    rasters: list[Array]
    counts: Array
    step_ends: Array
    total: int
    idle: int


@dataclass
class Session:
    samples: list[Measured] = field(default_factory=list)
    weights: list[Array] = field(default_factory=list)
    theta: list[Array] = field(default_factory=list)
    bias: list[Array | None] = field(default_factory=list)


def run_network(network: NetworkConfig, weights: list[Array], theta: list[Array],
                samples: list[tuple[Array, int]], stall: float = 0.0,
                seed: int = 0, bias: list[Array | None] | None = None) -> Session:
    """Load every layer through the access port, run the samples (pixels presented at
    once, output consumers stalled with probability ``stall``), read every layer back
    (signed weights and biases as two's complement)."""
    from amaranth.sim import Simulator

    dut = NetworkCore(network)
    cores = network.cores
    L, T = len(cores), network.timesteps
    rng = random.Random(seed)
    out = Session()

    async def bench(ctx) -> None:
        cycle = 0

        async def tick() -> None:
            nonlocal cycle
            cycle += 1
            assert cycle < 1_000_000, "the network did not finish"
            await ctx.tick()

        async def transfer(port, payload) -> int:
            ctx.set(port.valid, 1)
            ctx.set(port.payload, payload)
            while True:
                taken, at = ctx.get(port.ready), cycle
                await tick()
                if taken:
                    ctx.set(port.valid, 0)
                    return at

        biased = any(core.widths.bias for core in cores)

        async def access(layer: int, write: bool, theta_: bool, addr: int,
                         data: int = 0, is_bias: bool = False) -> int:
            request = {"write": int(write), "theta": int(theta_), "addr": addr,
                       "data": data, "layer": layer}
            await transfer(dut.access, {**request, "bias": int(is_bias)} if biased
                           else request)
            if write:
                return 0
            ctx.set(dut.readback.ready, 1)
            while True:
                valid, value = ctx.get(dut.readback.valid), ctx.get(dut.readback.payload)
                await tick()
                if valid:
                    ctx.set(dut.readback.ready, 0)
                    return int(value)

        for layer, core in enumerate(cores):
            P = core.n_pe
            for addr, word in enumerate(pack_words(weights[layer], P, core.widths.weight)):
                await access(layer, True, False, addr, word)
            for addr, word in enumerate(pack_words(theta[layer], P, core.widths.theta)):
                await access(layer, True, True, addr, word)
            if bias is not None and bias[layer] is not None:
                for addr, word in enumerate(pack_words(bias[layer], P, core.widths.bias)):
                    await access(layer, True, False, addr, word, is_bias=True)

        first, last = cores[0], cores[-1]
        for pixels, key in samples:
            c0 = await transfer(dut.command, {"key": key, "learn": 1})
            pending = pack_words(pixels, first.encoder.lanes, first.encoder.pixel_bits)
            rasters = [np.zeros((T, core.n_neurons), bool) for core in cores]
            seen = [0] * (L - 1)                # raster tokens between layers so far
            counts = np.zeros(last.n_neurons, np.int64)
            ends: list[list[int]] = [[] for _ in cores]
            finished, end = False, 0
            while not finished:
                ctx.set(dut.pixels.valid, int(bool(pending)))
                if pending:
                    ctx.set(dut.pixels.payload.as_value(), pending[0])
                spike_ready, count_ready = rng.random() >= stall, rng.random() >= stall
                ctx.set(dut.spikes.ready, int(spike_ready))
                ctx.set(dut.counts.ready, int(count_ready))
                if pending and ctx.get(dut.pixels.ready):
                    pending.pop(0)
                done = ctx.get(dut.timestep_done)
                for layer in range(L):
                    if done >> layer & 1:
                        ends[layer].append(cycle - c0)
                for layer, conv in enumerate(dut.rasters):
                    if ctx.get(conv.raster.valid) and ctx.get(conv.raster.ready):
                        word = int(ctx.get(conv.raster.payload))
                        rasters[layer][seen[layer]] = [word >> i & 1
                                                       for i in range(cores[layer].n_neurons)]
                        seen[layer] += 1
                if spike_ready and ctx.get(dut.spikes.valid):
                    token = ctx.get(dut.spikes.payload)
                    for p in range(last.n_pe):
                        if int(token.mask) >> p & 1:
                            rasters[-1][int(token.timestep), int(token.word) * last.n_pe + p] = 1
                if count_ready and ctx.get(dut.counts.valid):
                    token = ctx.get(dut.counts.payload)
                    counts[int(token.neuron)] = int(token.count)
                    finished, end = bool(token.last), cycle
                await tick()
            ctx.set(dut.counts.ready, 0)
            ctx.set(dut.spikes.ready, 1)        # spikes still queued (only after stalls)
            while ctx.get(dut.busy) or ctx.get(dut.spikes.valid):
                if ctx.get(dut.spikes.valid):
                    token = ctx.get(dut.spikes.payload)
                    for p in range(last.n_pe):
                        if int(token.mask) >> p & 1:
                            rasters[-1][int(token.timestep), int(token.word) * last.n_pe + p] = 1
                await tick()
            idle = cycle - c0
            ctx.set(dut.spikes.ready, 0)
            assert seen == [T] * (L - 1), seen
            out.samples.append(Measured(rasters, counts, np.array(ends, dtype=np.int64),
                                        end - c0 + 1, idle))

        for layer, core in enumerate(cores):
            P, W = core.n_pe, core.derived.neurons_per_pe
            words = [await access(layer, False, False, a) for a in range(core.n_inputs * W)]
            out.weights.append(unpack_words(words, P, core.widths.weight,
                                            signed=core.widths.weight_signed).reshape(
                core.n_inputs, core.n_neurons))
            words = [await access(layer, False, True, a) for a in range(W)]
            out.theta.append(unpack_words(words, P, core.widths.theta))
            if core.widths.bias:
                words = [await access(layer, False, False, a, is_bias=True)
                         for a in range(W)]
                out.bias.append(unpack_words(words, P, core.widths.bias, signed=True))
            else:
                out.bias.append(None)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


def compare(network: NetworkConfig, got: Session, expected: list[Golden],
            cycles: bool = True) -> str | None:
    """The first difference (sample, layer, timestep, neuron; counts; cycles), or None."""
    for n, (g, e) in enumerate(zip(got.samples, expected, strict=True)):
        for layer, (gr, er) in enumerate(zip(g.rasters, e.rasters, strict=True)):
            if (gr != er).any():
                t, i = (int(x) for x in np.argwhere(gr != er)[0])
                return (f"sample {n}, layer {layer}: timestep {t}, neuron {i}: RTL "
                        f"{int(gr[t, i])}, golden {int(er[t, i])}")
        if (g.counts != e.counts).any():
            i = int(np.flatnonzero(g.counts != e.counts)[0])
            return f"sample {n}: count of neuron {i}: RTL {g.counts[i]}, golden {e.counts[i]}"
        if not cycles:
            continue
        if g.step_ends.shape != e.step_ends.shape or (g.step_ends != e.step_ends).any():
            if g.step_ends.shape != e.step_ends.shape:
                return f"sample {n}: timestep ends {g.step_ends.shape}, {e.step_ends.shape}"
            layer, t = (int(x) for x in np.argwhere(g.step_ends != e.step_ends)[0])
            return (f"sample {n}, layer {layer}: timestep {t} ended at cycle "
                    f"{g.step_ends[layer, t]}, the cycle model predicts "
                    f"{e.step_ends[layer, t]}")
        if (g.total, g.idle) != (e.total, e.idle):
            return (f"sample {n}: {g.total} cycles to the last count, idle at {g.idle}; "
                    f"the cycle model predicts {e.total}, {e.idle}")
    return None


def _session(network: NetworkConfig, n_samples: int = 2, seed: int = 0,
             digits: bool = False, zeros: float = 0.0):
    """Random weights and thresholds; ``n_samples`` random images (a share ``zeros`` of
    their pixels zero) or digits images."""
    rng = np.random.default_rng(seed)
    cores = network.cores
    weights = [rng.integers(c.derived.w_min, c.derived.w_max, (c.n_inputs, c.n_neurons),
                            endpoint=True) for c in cores]
    for w, c in zip(weights, cores, strict=True):
        if c.widths.weight_signed:      # some neurons mostly inhibited, some mostly excited
            w[:, 1::3] = np.minimum(np.abs(w[:, 1::3]), c.derived.w_max)
    theta = [rng.integers(0, c.neuron.theta_plus, c.n_neurons, endpoint=True) for c in cores]
    if digits:
        images = load_dataset("digits", None, cores[0].encoder.pixel_bits)[0].images
    else:
        images = rng.integers(0, (1 << cores[0].encoder.pixel_bits) - 1,
                              (n_samples, cores[0].n_inputs), endpoint=True)
        images[rng.random(images.shape) < zeros] = 0
    samples = [(np.asarray(images[i]), 100 + i) for i in range(n_samples)]
    return weights, theta, samples


def _biases(network: NetworkConfig, seed: int = 0) -> list[Array | None]:
    """Per layer with a bias, biases of both signs within an eighth of the range (the
    extremes on neurons 0 and 1); ``None`` for a layer without."""
    rng = np.random.default_rng([seed, 1])
    out: list[Array | None] = []
    for core in network.cores:
        d = core.derived
        if not core.widths.bias:
            out.append(None)
            continue
        bias = rng.integers(d.bias_min >> 3, d.bias_max >> 3, core.n_neurons, endpoint=True)
        bias[:2] = d.bias_min, d.bias_max
        out.append(bias)
    return out


def _check(network: NetworkConfig, n_samples: int = 2, seed: int = 0, stall: float = 0.0,
           digits: bool = False, zeros: float = 0.0) -> None:
    weights, theta, samples = _session(network, n_samples, seed, digits, zeros)
    bias = _biases(network, seed)
    expected = [_golden(network, weights, theta, pixels, key, bias)
                for pixels, key in samples]
    for layer in range(len(network.layers)):
        assert sum(int(e.rasters[layer].sum()) for e in expected) > 0, \
            f"layer {layer} must spike"
    got = run_network(network, weights, theta, samples, stall=stall, seed=seed, bias=bias)
    difference = compare(network, got, expected, cycles=stall == 0)
    assert difference is None, difference
    for layer in range(len(network.layers)):
        assert (got.weights[layer] == weights[layer]).all()
        assert (got.theta[layer] == theta[layer]).all()
        if bias[layer] is not None:
            assert (got.bias[layer] == bias[layer]).all()


# (sizes, n_pe per layer, row_banks per layer, encoder lanes)
CASES = {
    "16-12-4-pe1": ([16, 12, 4], [1, 1], None, 1),
    "16-12-8-4-pe2": ([16, 12, 8, 4], [2, 2, 2], None, 1),
    "16-8-8-4-pe4-banks2": ([16, 8, 8, 4], [2, 4, 2], [1, 2, 2], 2),
    "16-12-8-4-pe-mixed-lanes4": ([16, 12, 8, 4], [4, 1, 4], None, 4),
}


@pytest.mark.parametrize("label", list(CASES))
def test_network_matches_golden(label: str) -> None:
    """Every layer's spikes and the last layer's counts bit for bit; every layer's
    timestep ends, the last count and the idle cycle as the cycle model."""
    sizes, pes, banks, lanes = CASES[label]
    _check(_network(sizes, pes, banks, lanes))


def test_network_under_backpressure() -> None:
    """Output consumers that stall 40% of the time change nothing but the cycles."""
    sizes, pes, banks, lanes = CASES["16-12-8-4-pe2"]
    _check(_network(sizes, pes, banks, lanes), seed=3, stall=0.4)


def test_network_digits_shape() -> None:
    """The digits-sized 64-32-10 network on digits images, cycles as the model."""
    _check(_network([64, 32, 10], [4, 2], timesteps=20, v_th=2000), digits=True)


def test_network_signed_bias() -> None:
    """Layers trained elsewhere (as ``configs/digits-mlp-rate.toml``): signed weights, a
    bias per neuron written and read through the ``bias`` access target, the multiply leak
    and a reset by subtraction of its own amount; everything, cycles included."""
    _check(_network([16, 12, 8, 4], [2, 4, 2], v_th=900, timesteps=15,
                    **{"widths.weight_signed": True, "widths.bias": 10,
                       "neuron.leak_mode": "multiply", "neuron.reset_mode": "subtract",
                       "neuron.reset_amount": 1000, "neuron.theta_plus": 0}), seed=4)


def _current(network: NetworkConfig, pixel_bits: int = 3) -> NetworkConfig:
    """``network`` with current input (the pixels, of ``pixel_bits``, a constant current
    into layer 0)."""
    return dataclasses.replace(network, input=dataclasses.replace(
        network.input, kind="current", pixel_bits=pixel_bits))


#: current input with row banks in layer 0 (its current pass reads a row of each per cycle)
CURRENT_CASES = {"16-8-4-banks2-lanes4": ([16, 8, 4], [2, 2], [2, 2], 4)}

SIGNED_BIAS = {"widths.weight_signed": True, "widths.bias": 10,
               "neuron.leak_mode": "multiply", "neuron.reset_mode": "subtract",
               "neuron.reset_amount": 1000, "neuron.theta_plus": 0}


@pytest.mark.parametrize("label", ["16-12-8-4-pe2", "16-8-8-4-pe4-banks2",
                                   "16-12-8-4-pe-mixed-lanes4", "16-8-4-banks2-lanes4"])
def test_network_current_input(label: str) -> None:
    """Current input into layer 0 (its current pass, then neuron passes without rows) of a
    network trained elsewhere (signed weights, biases, the multiply leak, a reset by
    subtraction of its own amount), half the pixels zero: every layer's spikes, the counts
    and every timestep end as the golden model and the cycle model."""
    sizes, pes, banks, lanes = CURRENT_CASES.get(label) or CASES[label]
    network = _current(_network(sizes, pes, banks, lanes, v_th=900, timesteps=10,
                                **SIGNED_BIAS))
    assert network.cores[0].encoder.kind == "current"
    _check(network, seed=5, zeros=0.5)


def test_network_current_input_under_backpressure() -> None:
    """Current input with output consumers that stall 40 % of the time: the same spikes and
    counts."""
    sizes, pes, banks, lanes = CASES["16-12-8-4-pe2"]
    network = _current(_network(sizes, pes, banks, lanes, v_th=900, timesteps=10,
                                **SIGNED_BIAS))
    _check(network, seed=6, zeros=0.5, stall=0.4)


@pytest.mark.slow
@pytest.mark.parametrize("stall", [0.0, 0.3])
def test_network_digits_mlp_shape(stall: float) -> None:
    """The 64-100-10 shape of ``configs/digits-mlp-rate.toml`` (unsigned weights) on four
    digits images; with stalled outputs, everything but the cycles."""
    _check(_network([64, 100, 10], [4, 2], timesteps=25, v_th=3000), n_samples=4,
           digits=True, stall=stall, seed=int(stall * 10))


def test_silent_sample_by_hand() -> None:
    """16-8-4, two neurons per word (n_pe = 2), 3 timesteps, no input spike.  Layer 0: pixels 1..16,
    encode 16 + 6, main 4 * 1 + 7 + 2 = 13: timestep ends at 17 + 22 + 13 = 52, then every
    23 (the encode pass outlasts the main sequence: 1 + 22).  Layer 1 (direct, 8 inputs):
    the raster closes at layer 0's end and is valid the next cycle, taken at once, encode
    1 + 8 + 6, main 2 * 1 + 7 + 2: its timesteps end 1 + 15 + 11 = 27 after layer 0's.
    The counts: 2 * (1 + 2) after layer 1's last end, the last one's cycle included."""
    network = _network([16, 8, 4], [2, 2], timesteps=3)
    zeros = np.zeros(16, np.int64)
    expected = _golden(network, *_session(network)[:2], zeros, 5)
    assert expected.step_ends.tolist() == [[52, 75, 98], [79, 102, 125]]
    assert (expected.total, expected.idle) == (125 + 6 + 1, 125 + 6 + 1)
    got = run_network(network, *_session(network)[:2], [(zeros, 5)])
    assert compare(network, got, [expected]) is None


def test_compare_names_first_difference() -> None:
    """The comparison catches a hidden layer's spike, a count, a timestep end and the
    sample's cycles (faults injected into a copy of the golden result)."""
    network = _network([16, 12, 4], [1, 1])
    weights, theta, samples = _session(network, n_samples=1)
    good = _golden(network, weights, theta, *samples[0])
    ok = Measured(good.rasters, good.counts, good.step_ends, good.total, good.idle)
    assert compare(network, Session([ok]), [good]) is None
    hidden = [r.copy() for r in good.rasters]
    hidden[0][3, 5] ^= True
    bad = dataclasses.replace(ok, rasters=hidden)
    assert "layer 0: timestep 3, neuron 5" in str(compare(network, Session([bad]), [good]))
    counts = good.counts.copy()
    counts[2] += 1
    bad = dataclasses.replace(ok, counts=counts)
    assert "count of neuron 2" in str(compare(network, Session([bad]), [good]))
    ends = good.step_ends.copy()
    ends[1, 4] += 1
    bad = dataclasses.replace(ok, step_ends=ends)
    assert "layer 1: timestep 4 ended" in str(compare(network, Session([bad]), [good]))
    assert compare(network, Session([bad]), [good], cycles=False) is None
    bad = dataclasses.replace(ok, total=good.total + 1)
    assert "cycles to the last count" in str(compare(network, Session([bad]), [good]))


@pytest.mark.slow
def test_imported_digits_mlp_rate() -> None:
    """The trained 64-100-10 network of ``configs/digits-mlp-rate.toml`` (signed weights, a
    bias, as ``plasticore nir import`` writes it from ``examples/nir/digits-mlp-rate.nir``)
    on four digits test images: every layer's spikes, the counts (so the class) and the
    cycles as the golden model's and the cycle model's."""
    from pathlib import Path

    nir = pytest.importorskip("nir")
    from plasticore.interchange.graph import network_of
    from plasticore.interchange.quantize import ImportOptions, quantize

    root = Path(__file__).resolve().parents[2]
    source = network_of(nir.read(str(root / "examples" / "nir" / "digits-mlp-rate.nir")),
                        1e-4)
    imported = quantize(source, ImportOptions(dataset="digits", timesteps=25,
                                              encoder="rate"))
    network = imported.config.network
    images = load_dataset("digits", None, network.input.pixel_bits)[1].images[:4]
    samples = [(np.asarray(image), n) for n, image in enumerate(images)]
    expected = [_golden(network, imported.weights, imported.theta, pixels, key,
                        imported.bias) for pixels, key in samples]
    got = run_network(network, imported.weights, imported.theta, samples,
                      bias=imported.bias)
    difference = compare(network, got, expected)
    assert difference is None, difference


def _imported_digits_mlp(n_images: int) -> None:
    """``configs/digits-mlp-snntorch.toml`` (current input, as ``plasticore nir import`` writes it
    from ``examples/nir/digits-mlp.nir``) with its trained weights on the first digits
    test images: every layer's spikes, the counts and the cycles as the golden and the
    cycle model's."""
    from pathlib import Path

    nir = pytest.importorskip("nir")
    from plasticore.config import load_config
    from plasticore.interchange.graph import network_of
    from plasticore.interchange.quantize import ImportOptions, quantize

    root = Path(__file__).resolve().parents[2]
    source = network_of(nir.read(str(root / "examples" / "nir" / "digits-mlp.nir")), 1e-4)
    imported = quantize(source, ImportOptions(dataset="digits", timesteps=25))
    network = imported.config.network
    assert network == load_config("digits-mlp-snntorch").network
    assert network.input.kind == "current"
    images = load_dataset("digits", None, network.input.pixel_bits)[1].images[:n_images]
    samples = [(np.asarray(image), n) for n, image in enumerate(images)]
    expected = [_golden(network, imported.weights, imported.theta, pixels, key,
                        imported.bias) for pixels, key in samples]
    assert all(e.rasters[0].any() and e.counts.any() for e in expected)
    got = run_network(network, imported.weights, imported.theta, samples,
                      bias=imported.bias)
    difference = compare(network, got, expected)
    assert difference is None, difference


def mnist_mlp_banked(network: NetworkConfig) -> NetworkConfig:
    """``configs/mnist-5k-mlp.toml``'s network (784-128-10) with hardware for the issue's
    latency goal, the same arithmetic: 8 pixels per token, layer 0's weights in 8 row
    banks (its current pass multiplies a row of each per cycle), layer 1 in 5 lanes and 4
    row banks (``docs/results.md``)."""
    first, second = network.layers
    return dataclasses.replace(
        network, input=dataclasses.replace(network.input, lanes=8),
        layers=(dataclasses.replace(first, row_banks=8),
                dataclasses.replace(second, n_pe=5, row_banks=4)))


@pytest.mark.slow
def test_imported_mnist_mlp_banked() -> None:
    """The trained 784-128-10 network of ``configs/mnist-5k-mlp.toml`` (current input) on
    the banked hardware of :func:`mnist_mlp_banked`, on one mnist-5k test image: every
    layer's spikes, the counts and the cycles as the golden and the cycle model's."""
    from pathlib import Path

    nir = pytest.importorskip("nir")
    from plasticore.interchange.graph import network_of
    from plasticore.interchange.quantize import ImportOptions, quantize

    root = Path(__file__).resolve().parents[2]
    source = network_of(nir.read(str(root / "examples" / "nir" / "mnist-5k-mlp.nir")), 1e-4)
    imported = quantize(source, ImportOptions(dataset="mnist-5k", timesteps=25))
    network = mnist_mlp_banked(imported.config.network)
    images = load_dataset("mnist-5k", None, network.input.pixel_bits)[1].images[:1]
    samples = [(np.asarray(image), n) for n, image in enumerate(images)]
    expected = [_golden(network, imported.weights, imported.theta, pixels, key,
                        imported.bias) for pixels, key in samples]
    assert all(e.counts.any() for e in expected)
    got = run_network(network, imported.weights, imported.theta, samples,
                      bias=imported.bias)
    difference = compare(network, got, expected)
    assert difference is None, difference


def test_imported_digits_mlp() -> None:
    """The trained current-input 64-100-10 network on one digits test image."""
    _imported_digits_mlp(1)


@pytest.mark.slow
def test_imported_digits_mlp_images() -> None:
    """The trained current-input 64-100-10 network on five digits test images."""
    _imported_digits_mlp(5)


def test_check_network_allows_layers() -> None:
    """Several layers without a rule pass for ``NetworkCore`` (``layers=True``), not for
    the callers that drive one ``SnnCore``; current input into layer 0 passes too."""
    network = _network([16, 12, 4], [1, 1])
    check_network(network, layers=True)
    with pytest.raises(ConfigError, match="^layers: 2 layers: the RTL core runs one layer"):
        check_network(network)
    check_network(_current(network), layers=True)       # current input in layer 0


# -- Verilog and synthesis of a layered network --------------------------------------------


def test_generate_network(tmp_path) -> None:
    """``network_core.v`` and its manifest: the network's ports, every layer's derived
    widths, byte-identical when generated again."""
    from plasticore.hdl.generate import MANIFEST_NAME, generate_network

    network = _network([16, 12, 4], [2, 2])
    manifest = generate_network(network, tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [MANIFEST_NAME,
                                                                  "network_core.v"]
    assert manifest["config"] == network.to_dict()
    assert [d["neurons_per_pe"] for d in manifest["derived"]] == [6, 2]
    (module,) = manifest["modules"]
    ports = {p["name"]: p for p in module["ports"]}
    assert ports["timestep_done"]["width"] == 2
    assert ports["access__payload"]["fields"][-1]["name"] == "layer"
    generate_network(network, tmp_path / "b")
    for name in ("network_core.v", MANIFEST_NAME):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


@pytest.mark.verilator
def test_generated_network_lints_clean(tmp_path) -> None:
    """The network core's Verilog lints clean with the waivers of ``LINT_WAIVERS``."""
    from plasticore.hdl.generate import generate_network, lint

    generate_network(_network([16, 12, 8, 4], [2, 2, 2]), tmp_path)
    problems = lint([tmp_path / "network_core.v"])
    assert problems == [], "\n".join(problems)


def test_synth_design_of_a_layered_network() -> None:
    """``--design core`` of a layered network is the network core, under its own digest."""
    from plasticore.boards.catalog import board_named
    from plasticore.boards.synth import _config_digest, design_rtlil
    from plasticore.config import Config

    network = _network([16, 12, 4], [2, 2])
    config = Config.from_network(network)
    top, text = design_rtlil(config, board_named("arty_a7_35"), "core")
    assert top == "network_core" and "module \\network_core" in text
    other = Config.from_network(_network([16, 12, 4], [2, 1]))
    assert _config_digest(config, "core") != _config_digest(other, "core")


def test_bench_core_of_a_layered_network() -> None:
    """``plasticore bench core`` of a layered network: a row per layer and one for the
    network, whose bound per timestep is at least each layer's, from the same rasters the
    multi-layer golden ``Network`` gives."""
    from plasticore.bench.corecycles import format_table, layer_rasters, measure

    network = _network([16, 12, 4], [2, 2])
    weights, theta, samples = _session(network, n_samples=1)
    pixels, key = samples[0]
    _, rasters = layer_rasters(network, weights, theta, [None, None], pixels, key)
    whole = Network(network, weights=weights, theta=theta).run_sample(pixels, key,
                                                                       learn=False, record=True)
    assert (rasters[-1] == whole.raster).all()
    result = measure("digits-mlp-rate", test_samples=2, clock_mhz=60)
    assert [r["mode"] for r in result["rows"]] == [
        "inference, layer 0", "inference, layer 1", "inference, network"]
    layer0, layer1, both = result["rows"]
    assert both["bound_per_timestep"] >= max(layer0["bound_per_timestep"],
                                             layer1["bound_per_timestep"])
    assert both["cycles_per_timestep"] == layer1["cycles_per_timestep"]
    assert "100-10 neurons, n_pe = 4, 2" in format_table(result)


def test_bench_core_of_a_current_input_network() -> None:
    """``plasticore bench core`` of ``configs/digits-mlp-snntorch.toml`` (current input): no input
    raster, layer 1 takes layer 0's spikes, and a sample's cycles are the cycle model's of
    its pixels (the current pass over its non-zero pixels) and rasters."""
    from plasticore.bench.corecycles import layer_rasters, measure
    from plasticore.config import load_config
    from plasticore.golden.network import initial_weights

    network = load_config("digits-mlp-snntorch").network
    cores = network.cores
    pixels = load_dataset("digits", None, 8)[1].images[0]
    weights = [initial_weights(core) for core in cores]
    theta = [np.zeros(core.n_neurons, np.int64) for core in cores]
    input_raster, rasters = layer_rasters(network, weights, theta, [None, None], pixels, 0)
    assert input_raster is None and [r.shape for r in rasters] == [(25, 100), (25, 10)]
    result = measure("digits-mlp-snntorch", test_samples=1, clock_mhz=60)
    total = network_sample_cycles(cores, None, rasters, pixels=pixels).total
    assert result["rows"][-1]["cycles_per_sample"] == total


def test_a_converter_that_closes_on_timestep_done_alone_fails(monkeypatch) -> None:
    """Fault injected on purpose: a converter that closes a timestep at its
    ``timestep_done`` and takes every token as it comes (no timestep check) puts the
    spikes still queued at the pulse (the last word's, or those held by backpressure)
    into the next timestep; the comparison names the first one."""
    from amaranth import Module, Signal

    from plasticore.hdl import network as network_module
    from plasticore.hdl.core.raster import SpikeRaster

    class Naive(SpikeRaster):
        def elaborate(self, platform):
            m = Module()
            P, T = self.core.n_pe, self.core.timesteps
            collect = Signal(self.core.n_neurons)
            pending = Signal(range(T + 1))
            token = self.spikes.payload
            close = Signal()
            m.d.comb += [
                self.spikes.ready.eq(~close),
                close.eq(((pending != 0) | self.timestep_done)
                         & (~self.raster.valid | self.raster.ready)),
            ]
            with m.If(self.raster.ready):
                m.d.sync += self.raster.valid.eq(0)
            with m.If(close):
                m.d.sync += [self.raster.payload.eq(collect), self.raster.valid.eq(1),
                             collect.eq(0), pending.eq(pending + self.timestep_done - 1)]
            with m.Else():
                m.d.sync += pending.eq(pending + self.timestep_done)
                with m.If(self.spikes.valid):
                    part = collect.word_select(token.word, P)
                    m.d.sync += part.eq(part | token.mask)
            return m

    monkeypatch.setattr(network_module, "SpikeRaster", Naive)
    sizes, pes, banks, lanes = CASES["16-12-8-4-pe-mixed-lanes4"]
    network = _network(sizes, pes, banks, lanes)
    weights, theta, samples = _session(network)
    expected = [_golden(network, weights, theta, pixels, key) for pixels, key in samples]
    got = run_network(network, weights, theta, samples)
    assert "layer 0: timestep" in str(compare(network, got, expected))
