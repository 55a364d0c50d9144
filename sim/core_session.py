"""Drive the core (``SnnCore``) or a network of cores (``NetworkCore``) through a session and
compare it with the golden model.

A session loads weights and thresholds (and biases) through the access port, runs samples (a
command, the pixels, then the core's spikes and counts), and reads every weight and
threshold back; a network's session does so for every layer (the access word's ``layer``
field) and gets the last layer's spikes and counts.  :func:`drive` runs a single core's
session cycle by cycle on any simulator behind a small :class:`CoreIO` adapter
(:class:`AmaranthIO` here, for Amaranth's simulator); under cocotb the generated harness of
``sim/harness.py`` plays the same session inside the simulator, cycle for cycle as
:func:`drive` would (``sim/tb_core.py``), for a core or a network.  :func:`golden_session`
(a sample at a time: :func:`golden_samples`) computes what the design must produce with
``plasticore.golden`` and the cycle models; :func:`compare` names the first difference
(sample, layer, timestep, neuron, value).

What the design is (a core, or a network of several layers) is a :class:`.target.Target`;
per-layer values (weights, thresholds, biases) are one array for a core, a list with one
entry per layer for a network.

Word packing (``hdl/core/layouts.py``: ``access_layout``, ``pack_words``): weight word
``j * W + k`` holds the weights of input ``j`` to neurons ``k * P + p``, lane ``p`` at bits
``p * weight ..``;
threshold word ``k`` the thresholds of neurons ``k * P + p``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from amaranth.lib import data

from ..config import CoreConfig, NetworkConfig
from ..golden.network import Network
from ..golden.train import layer_key
from ..hdl.cycles import network_sample_cycles, sample_cycles
from .target import AccessRequest, Target

__all__ = [
    "Sample",
    "SessionResult",
    "golden_session",
    "golden_samples",
    "write_session",
    "read_session",
    "layer_rasters",
    "CoreIO",
    "drive",
    "AmaranthIO",
    "run_amaranth",
    "compare_sample",
    "compare",
]

Array = Any


@dataclass(frozen=True)
class Sample:
    """One sample of a session: pixels ``(n_inputs,)`` (or, with direct input, the spike
    raster ``(timesteps, n_inputs)``), its key and the learn flag."""

    pixels: Array
    key: int
    learn: bool


@dataclass
class SessionResult:
    """What a session produced (the core's or the golden model's).

    Members
    -------
    spikes : list of (n_spikes, 2) int arrays
        Per sample, ``(timestep, neuron)`` of every output spike in timestep then neuron
        order.
    counts : list of (n_neurons,) int arrays
        Per sample, the spike counts.
    membranes : list of (n_neurons,) int arrays
        With a membrane readout only (else empty): per sample, the last layer's membrane
        readout (the golden ``v_max`` or ``v_final``).
    cycles : list of (timesteps,) int arrays
        Per sample, clock cycles of every timestep (a network: of the last layer, the first
        counted from the command).
    totals : list of int
        Per sample, clock cycles from accepting its command to its last count (the
        pixels, the timesteps, the normalization and the counts).
    step_ends : list of lists of (timesteps,) int arrays
        A network only (empty for a single core): per sample, per layer, the cycle of each
        timestep's ``timestep_done``, counted from the command's (cycle 0).
    weights : (n_inputs, n_neurons) int array
        Every weight after the session (a network: a list, one array per layer; so are
        ``theta`` and ``bias``).
    theta : (n_neurons,) int array
        Every adaptive threshold after the session.
    bias : (n_neurons,) int array or None
        Every bias after the session (``None`` for a core without a bias).
    """

    spikes: list[Array] = field(default_factory=list)
    counts: list[Array] = field(default_factory=list)
    membranes: list[Array] = field(default_factory=list)
    cycles: list[Array] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    step_ends: list[list[Array]] = field(default_factory=list)
    weights: Array = None
    theta: Array = None
    bias: Array = None


def _membrane_of(target: Target, result: Any) -> Array | None:
    """The golden membrane readout of a sample result (``v_max`` or ``v_final``), or
    ``None`` without a membrane readout."""
    if target.membrane is None:
        return None
    v = result.v_max if target.membrane == "max" else result.v_final
    return np.asarray(v, dtype=np.int64).copy()


def golden_samples(config: CoreConfig | NetworkConfig | Target, weights: Array, theta: Array,
                   samples: list[Sample], bias: Array = None) -> Iterator[SessionResult]:
    """The golden session a sample at a time: after each sample, the result so far (the
    same object, grown by that sample); after the last, with the final weights, thresholds
    and biases filled in (yielded once more).  A network (several layers:
    :func:`golden_network_samples`) takes a list per layer of each."""
    target = Target.of(config)
    if target.layered:
        yield from golden_network_samples(target, weights, theta, samples, bias)
        return
    core = target.first
    net = Network(core, weights=weights, theta=theta, bias=bias)
    # the literal loop records the membranes (the event-driven one, held equal, does not)
    net.event_driven = target.membrane is None
    out = SessionResult()
    for n, s in enumerate(samples):
        res = net.run_sample(s.pixels, s.key, learn=s.learn, record=True)
        assert res.raster is not None
        out.spikes.append(np.argwhere(res.raster))
        out.counts.append(res.counts.copy())
        membranes = _membrane_of(target, res)
        if membranes is not None:
            out.membranes.append(membranes)
        # the session writes the weights before its first sample: a LUT core builds first
        predicted = sample_cycles(core, res.input_raster, res.raster, s.learn,
                                  pixels=s.pixels, membrane=target.membrane, build=n == 0)
        out.cycles.append(predicted.timesteps)
        out.totals.append(predicted.total)
        yield out
    out.weights, out.theta = net.weights.copy(), net.theta.copy()
    if core.widths.bias:
        layer_bias = net.layers[0].bias
        out.bias = (np.zeros(core.n_neurons, np.int64) if layer_bias is None
                    else layer_bias.copy())
    yield out


def layer_rasters(network: NetworkConfig, weights: Sequence[Array], theta: Sequence[Array],
                  bias: Sequence[Array | None], sample: Array,
                  key: int) -> tuple[Array | None, list[Array]]:
    """The input raster (``None`` with current input) and every layer's output raster of
    ``sample`` with learning off: each layer run as a one-layer golden ``Network`` on the
    previous layer's raster (:meth:`~.target.Target.layer_alone`; the multi-layer
    ``Network`` records only the last layer's)."""
    target = Target(network)
    source, rasters, input_raster = sample, [], None
    for index in range(len(network.layers)):
        result = Network(target.layer_alone(index), weights=[weights[index]],
                         theta=[theta[index]], bias=[bias[index]]).run_sample(
            source, key, learn=False, record=True)
        if index == 0:
            input_raster = result.input_raster
        rasters.append(result.raster)
        source = result.raster
    return input_raster, rasters


def golden_network_samples(target: Target, weights: list[Array], theta: list[Array],
                           samples: list[Sample], bias: list[Array] | None = None
                           ) -> Iterator[SessionResult]:
    """:func:`golden_samples` of a network (``NetworkCore``, learning off): per sample the
    last layer's spikes and counts from the multi-layer golden ``Network`` (the
    specification), and every layer's timestep ends, the last layer's timesteps and the
    sample's total from ``network_sample_cycles`` on every layer's raster
    (:func:`layer_rasters`, held equal to the ``Network``'s last layer); at the end every
    layer's weights, thresholds and biases (zeros for a layer with a bias and none
    given; ``None`` for a layer without)."""
    network = target.config
    assert isinstance(network, NetworkConfig)
    w, th = target.per_layer(weights, "weights"), target.per_layer(theta, "theta")
    b = target.per_layer(bias, "bias")
    net = Network(network, weights=w, theta=th, bias=b)
    out = SessionResult()
    for n, s in enumerate(samples):
        res = net.run_sample(s.pixels, s.key, learn=False, record=True)
        input_raster, rasters = layer_rasters(network, w, th, b, s.pixels, s.key)
        assert res.raster is not None
        if not (rasters[-1] == res.raster).all():
            raise RuntimeError(f"golden model: sample {n}: the layers run one by one "
                               "differ from the network run whole")
        out.spikes.append(np.argwhere(res.raster))
        out.counts.append(res.counts.copy())
        membranes = _membrane_of(target, res)
        if membranes is not None:
            out.membranes.append(membranes)
        predicted = network_sample_cycles(target.cores, input_raster, rasters,
                                          pixels=s.pixels, membrane=target.membrane,
                                          build=n == 0)
        out.step_ends.append(list(predicted.step_ends))
        out.cycles.append(predicted.timesteps)
        out.totals.append(predicted.total)
        yield out
    out.weights = [layer.weights.copy() for layer in net.layers]
    out.theta = [layer.theta.copy() for layer in net.layers]
    out.bias = [None if not core.widths.bias else np.zeros(core.n_neurons, np.int64)
                if layer.bias is None else layer.bias.copy()
                for core, layer in zip(target.cores, net.layers, strict=True)]
    yield out


def golden_session(config: CoreConfig | NetworkConfig | Target, weights: Array, theta: Array,
                   samples: list[Sample], bias: Array = None) -> SessionResult:
    """The golden model's spikes, counts, predicted cycles and final state for a session."""
    *_, out = golden_samples(config, weights, theta, samples, bias)
    return out


def write_session(path: Path, weights: Any, theta: Any, samples: list[Sample],
                  bias: Any = None) -> Path:
    """Store a session for the testbench (``np.savez``): the samples, and every layer's
    weights, thresholds and biases under the weights file's names
    (``golden.train.layer_key``: ``weights``, ``theta``, ``bias`` for a single core or
    layer 0, ``weights_1`` ... for the later layers; a network's values are lists; a bias
    only where given)."""
    layered = isinstance(weights, list | tuple)
    per_layer = {"weights": weights, "theta": theta, "bias": bias}
    arrays: dict[str, Any] = {
        "pixels": np.array([s.pixels for s in samples]),
        "keys": np.array([s.key for s in samples], dtype=np.int64),
        "learn": np.array([s.learn for s in samples], dtype=bool),
        "layers": np.array(len(weights) if layered else 0)}
    for name, value in per_layer.items():
        values = value if layered else [value]
        for index, v in enumerate(values or []):
            if v is not None:
                arrays[layer_key(name, index)] = np.asarray(v)
    np.savez(path, **arrays)
    return path


def read_session(path: str | Path) -> tuple[Any, Any, list[Sample], Any]:
    """Inverse of :func:`write_session`: weights, thresholds, samples, biases (arrays, or
    for a network lists per layer; ``None`` where no bias was stored)."""
    with np.load(path) as f:
        samples = [Sample(p, int(k), bool(lrn))
                   for p, k, lrn in zip(f["pixels"], f["keys"], f["learn"], strict=True)]
        layers = int(f["layers"])

        def stored(name: str) -> Any:
            values = [f[layer_key(name, i)] if layer_key(name, i) in f.files else None
                      for i in range(max(layers, 1))]
            return values if layers else values[0]

        return stored("weights"), stored("theta"), samples, stored("bias")


class CoreIO:
    """What :func:`drive` needs of a simulator: set a port field, let the inputs settle,
    read a port field, and advance one clock cycle.

    ``port`` is a member name of ``SnnCore`` (``"command"``, ``"timestep_done"``, ...);
    ``field`` is ``"valid"``, ``"ready"`` or ``"payload"`` for streams, ``None`` for plain
    signals.  Struct payloads are set and read as ``{field: int}``, others as ``int``.
    Within a cycle :func:`drive` sets first, then calls :meth:`settle`, then reads.
    """

    def set(self, port: str, field: str | None, value: Any) -> None:
        raise NotImplementedError

    async def settle(self) -> None:
        raise NotImplementedError

    def get(self, port: str, field: str | None = None) -> Any:
        raise NotImplementedError

    async def tick(self) -> None:
        raise NotImplementedError


async def drive(io: CoreIO, config: CoreConfig | NetworkConfig | Target, weights: Array,
                theta: Array, samples: list[Sample], stall: float = 0.0, seed: int = 0,
                max_cycles: int = 100_000_000,
                on_sample: Callable[[int, SessionResult], None] | None = None,
                bias: Array = None) -> SessionResult:
    """Run a session on the design behind ``io`` (a core, or a network: lists per layer of
    ``weights``, ``theta`` and ``bias``): load, run every sample, read back.

    ``stall`` is the probability that the spike and count consumers hold ``ready`` low in a
    cycle (seeded by ``seed``; the membrane consumer follows the count consumer); cycles
    are only comparable with the model at ``stall = 0``.  With a membrane readout the
    sample ends at the last membrane word.
    ``on_sample(n, result)`` is called after sample ``n`` (e.g. to check it and stop at
    the first difference, or to report progress).
    """
    target = Target.of(config)
    P = target.last.n_pe
    membrane = target.membrane is not None
    direct = target.first.encoder.kind == "direct"
    source = "raster" if direct else "pixels"
    rng = random.Random(seed)
    out = SessionResult()
    cycle = 0

    async def tick() -> None:
        nonlocal cycle
        cycle += 1
        if cycle > max_cycles:
            raise AssertionError(f"the core did not finish within {max_cycles} cycles")
        await io.tick()

    async def transfer(port: str, payload: Any) -> None:
        """Present one token on an input stream until the core takes it."""
        io.set(port, "valid", 1)
        io.set(port, "payload", payload)
        while True:
            await io.settle()
            taken = io.get(port, "ready")
            await tick()
            if taken:
                break
        io.set(port, "valid", 0)

    async def access(request: AccessRequest) -> int:
        await transfer("access", target.access_fields(request))
        if request.write:
            return 0
        io.set("readback", "ready", 1)
        while True:
            await io.settle()
            valid, value = io.get("readback", "valid"), io.get("readback", "payload")
            await tick()
            if valid:
                break
        io.set("readback", "ready", 0)
        return int(value)

    def spikes_of(token: dict[str, int]) -> list[tuple[int, int]]:
        return [(token["timestep"], token["word"] * P + p)
                for p in range(P) if token["mask"] >> p & 1]

    for request in target.writes(weights, theta, bias):
        await access(request)

    for s in samples:
        await transfer("command", {"key": s.key, "learn": int(s.learn)})
        spikes: list[tuple[int, int]] = []
        counts = np.zeros(target.last.n_neurons, np.int64)
        membranes = np.zeros(target.last.n_neurons, np.int64)
        step_ends: list[list[int]] = [[] for _ in target.cores]
        pending = target.input_words(s.pixels)
        started = loaded = last = cycle - 1    # the command's cycle (direct: no pixels)
        finished = False
        while not finished:
            io.set(source, "valid", int(bool(pending)))
            if pending:
                io.set(source, "payload", pending[0])
            spike_ready, count_ready = int(rng.random() >= stall), int(rng.random() >= stall)
            io.set("spikes", "ready", spike_ready)
            io.set("counts", "ready", count_ready)
            if membrane:
                io.set("membranes", "ready", count_ready)
            await io.settle()
            if pending and io.get(source, "ready"):
                pending.pop(0)
                if not direct:
                    loaded = cycle
            done = io.get("timestep_done")
            for layer, layer_ends in enumerate(step_ends):
                if done >> layer & 1:
                    layer_ends.append(cycle)
            if spike_ready and io.get("spikes", "valid"):
                spikes += spikes_of(io.get("spikes", "payload"))
            if count_ready and io.get("counts", "valid"):
                token = io.get("counts", "payload")
                counts[token["neuron"]] = token["count"]
                finished = bool(token["last"]) and not membrane
                last = cycle
            if membrane and count_ready and io.get("membranes", "valid"):
                token = io.get("membranes", "payload")
                membranes[token["word"] * P:(token["word"] + 1) * P] = token["v"]
                finished = bool(token["last"])
                last = cycle
            await tick()
        io.set(source, "valid", 0)
        io.set("counts", "ready", 0)
        if membrane:
            io.set("membranes", "ready", 0)
            out.membranes.append(membranes)
        io.set("spikes", "ready", 1)            # spikes still queued (only after stalls)
        while True:
            await io.settle()
            queued = io.get("spikes", "valid")
            if queued:
                spikes += spikes_of(io.get("spikes", "payload"))
            await tick()
            if not queued:
                break
        io.set("spikes", "ready", 0)
        ends = [np.array(e, dtype=np.int64) for e in step_ends]
        if target.layered:          # every layer's ends, from the command (cycle 0)
            out.step_ends.append([e - started for e in ends])
            out.cycles.append(np.diff(np.concatenate([[started], ends[-1]])))
        else:
            out.cycles.append(np.diff(np.concatenate([[loaded], ends[0]])))
        out.totals.append(last - started + 1)
        out.spikes.append(np.array(sorted(spikes), dtype=np.int64).reshape(-1, 2))
        out.counts.append(counts)
        if on_sample is not None:
            on_sample(len(out.counts) - 1, out)

    state = target.unpack([await access(request) for request in target.reads()])
    out.weights = target.shaped([layer.weights for layer in state])
    out.theta = target.shaped([layer.theta for layer in state])
    out.bias = target.shaped([layer.bias for layer in state])
    return out


class AmaranthIO(CoreIO):
    """:class:`CoreIO` of an ``SnnCore`` or a ``NetworkCore`` in Amaranth's simulator
    (testbench context)."""

    def __init__(self, dut: Any, ctx: Any) -> None:
        self.dut, self.ctx = dut, ctx

    def _signal(self, port: str, field: str | None) -> Any:
        member = getattr(self.dut, port)
        return member if field is None else getattr(member, field)

    def set(self, port: str, field: str | None, value: Any) -> None:
        signal = self._signal(port, field)
        if isinstance(value, dict):
            value = signal.shape().const(value)
        elif isinstance(signal, data.View):     # an array payload, set as its bits
            signal = signal.as_value()
        self.ctx.set(signal, value)

    async def settle(self) -> None:
        return None                      # ctx.get sees settled values

    def get(self, port: str, field: str | None = None) -> Any:
        signal = self._signal(port, field)
        value = self.ctx.get(signal)
        layout = getattr(signal, "shape", lambda: None)()
        if isinstance(layout, data.StructLayout):
            return {name: _plain(getattr(value, name)) for name, _ in layout}
        return int(value)

    async def tick(self) -> None:
        await self.ctx.tick()


def _plain(value: Any) -> Any:
    """A field read from the simulator as Python: an int, or a list of an array's."""
    if isinstance(value, data.View | data.Const) and isinstance(value.shape(),
                                                                data.ArrayLayout):
        return [int(item) for item in value]
    return int(value)


def run_amaranth(config: CoreConfig | NetworkConfig | Target, weights: Array, theta: Array,
                 samples: list[Sample], stall: float = 0.0, seed: int = 0,
                 vcd: str | None = None, bias: Array = None) -> SessionResult:
    """Run a session (:func:`drive`) on ``SnnCore`` (or ``NetworkCore``) in Amaranth's
    simulator."""
    from amaranth.sim import Simulator

    dut = Target.of(config).component()
    result: list[SessionResult] = []

    async def bench(ctx: Any) -> None:
        result.append(await drive(AmaranthIO(dut, ctx), config, weights, theta, samples,
                                  stall, seed, bias=bias))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return result[0]


def compare_sample(got: SessionResult, expected: SessionResult, n: int,
                   cycles: bool = True) -> str | None:
    """The first difference in sample ``n`` (spikes, counts, then cycles: a network's
    every layer's timestep ends, a core's timesteps; then the sample's), or ``None``."""
    g, e = got.spikes[n], expected.spikes[n]
    if g.shape != e.shape or (g != e).any():
        gs, es = set(map(tuple, g.tolist())), set(map(tuple, e.tolist()))
        diff = sorted(gs ^ es)[0]
        where = "RTL only" if diff in gs else "golden only"
        return (f"sample {n}: spike at timestep {diff[0]}, neuron {diff[1]}: {where} "
                f"({len(g)} RTL spikes, {len(e)} golden)")
    g, e = got.counts[n], expected.counts[n]
    if (g != e).any():
        i = int(np.flatnonzero(g != e)[0])
        return f"sample {n}: count of neuron {i}: RTL {g[i]}, golden {e[i]}"
    if expected.membranes:
        if len(got.membranes) <= n:
            return f"sample {n}: no membrane readout"
        g, e = got.membranes[n], expected.membranes[n]
        if (g != e).any():
            i = int(np.flatnonzero(g != e)[0])
            return (f"sample {n}, last layer: membrane readout of neuron {i}: RTL {g[i]}, "
                    f"golden {e[i]}")
    if not cycles:
        return None
    if expected.step_ends:
        difference = _step_ends_difference(got.step_ends[n], expected.step_ends[n], n)
        if difference:
            return difference
    g, e = got.cycles[n], expected.cycles[n]
    if len(g) != len(e):
        return f"sample {n}: {len(g)} timesteps measured, {len(e)} predicted"
    if (g != e).any():
        t = int(np.flatnonzero(g != e)[0])
        return (f"sample {n}: timestep {t} took {g[t]} cycles, the cycle model "
                f"predicts {e[t]}")
    if got.totals[n] != expected.totals[n]:
        return (f"sample {n} took {got.totals[n]} cycles from its command to its last "
                f"count, the cycle model predicts {expected.totals[n]}")
    return None


def _step_ends_difference(got: list[Array], expected: list[Array], n: int) -> str | None:
    """The first layer whose timestep ends differ from the cycle model's, or ``None``."""
    for layer, (g, e) in enumerate(zip(got, expected, strict=True)):
        if len(g) != len(e):
            return (f"sample {n}, layer {layer}: {len(g)} timesteps ended, {len(e)} "
                    "predicted")
        if (g != e).any():
            t = int(np.flatnonzero(g != e)[0])
            return (f"sample {n}, layer {layer}: timestep {t} ended at cycle {g[t]}, the "
                    f"cycle model predicts {e[t]}")
    return None


def compare(config: CoreConfig | NetworkConfig | Target, got: SessionResult,
            expected: SessionResult, cycles: bool = True) -> str | None:
    """The first difference between two session results, or ``None``: per sample in
    order (spikes, counts, cycles), then every layer's final weights, thresholds and
    biases (a network's differences name the layer)."""
    if len(got.spikes) != len(expected.spikes):
        return f"{len(got.spikes)} samples ran, {len(expected.spikes)} expected"
    for n in range(len(got.spikes)):
        difference = compare_sample(got, expected, n, cycles)
        if difference:
            return difference
    target = Target.of(config)
    layers = zip(*(target.per_layer(value, what) for value, what in [
        (got.weights, "weights"), (expected.weights, "weights"), (got.theta, "theta"),
        (expected.theta, "theta"), (got.bias, "bias"), (expected.bias, "bias")]),
        strict=True)
    for layer, (gw, ew, gt, et, gb, eb) in enumerate(layers):
        where = f"layer {layer}: " if target.layered else ""
        if (gw != ew).any():
            j, i = (int(x) for x in np.argwhere(gw != ew)[0])
            return (f"{where}weight from input {j} to neuron {i}: RTL {gw[j, i]}, "
                    f"golden {ew[j, i]}")
        if (gt != et).any():
            i = int(np.flatnonzero(gt != et)[0])
            return f"{where}theta of neuron {i}: RTL {gt[i]}, golden {et[i]}"
        if eb is not None and (gb is None or (gb != eb).any()):
            if gb is None:
                return f"{where}the biases were not read back"
            i = int(np.flatnonzero(gb != eb)[0])
            return f"{where}bias of neuron {i}: RTL {gb[i]}, golden {eb[i]}"
    return None
