"""Drive the network core (``SnnCore``) through a session and compare it with the golden model.

A session loads weights and thresholds through the access port, runs samples (a command, the
pixels, then the core's spikes and counts), and reads every weight and threshold back.
:func:`drive` runs it cycle by cycle on any simulator behind a small :class:`CoreIO`
adapter (:class:`AmaranthIO` here, for Amaranth's simulator); under cocotb the generated
harness of ``sim/harness.py`` plays the same session inside the simulator, cycle for cycle
as :func:`drive` would (``sim/tb_core.py``).  :func:`golden_session` (a sample at a time:
:func:`golden_samples`) computes what the core must produce with ``plasticore.golden``;
:func:`compare` names the first difference (sample, timestep, neuron, value).

Word packing (``hdl/core/layouts.py``: ``access_layout``, ``pack_words``): weight word
``j * W + k`` holds the weights of input ``j`` to neurons ``k * P + p``, lane ``p`` at bits
``p * weight ..``;
threshold word ``k`` the thresholds of neurons ``k * P + p``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from amaranth.lib import data

from ..config import CoreConfig
from ..golden.network import Network
from ..hdl.core.layouts import pack_words, unpack_words
from ..hdl.cycles import sample_cycles

__all__ = [
    "Sample",
    "SessionResult",
    "golden_session",
    "golden_samples",
    "write_session",
    "read_session",
    "bias_words",
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
    cycles : list of (timesteps,) int arrays
        Per sample, clock cycles of every timestep.
    totals : list of int
        Per sample, clock cycles from accepting its command to its last count (the
        pixels, the timesteps, the normalization and the counts).
    weights : (n_inputs, n_neurons) int array
        Every weight after the session.
    theta : (n_neurons,) int array
        Every adaptive threshold after the session.
    bias : (n_neurons,) int array or None
        Every bias after the session (``None`` for a core without a bias).
    """

    spikes: list[Array] = field(default_factory=list)
    counts: list[Array] = field(default_factory=list)
    cycles: list[Array] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    weights: Array = None
    theta: Array = None
    bias: Array = None


def golden_samples(core: CoreConfig, weights: Array, theta: Array, samples: list[Sample],
                   bias: Array = None) -> Iterator[SessionResult]:
    """The golden session a sample at a time: after each sample, the result so far (the
    same object, grown by that sample); after the last, with the final weights, thresholds
    and biases filled in (yielded once more)."""
    net = Network(core, weights=weights, theta=theta, bias=bias)
    out = SessionResult()
    for s in samples:
        res = net.run_sample(s.pixels, s.key, learn=s.learn, record=True)
        assert res.raster is not None and res.input_raster is not None
        out.spikes.append(np.argwhere(res.raster))
        out.counts.append(res.counts.copy())
        predicted = sample_cycles(core, res.input_raster, res.raster, s.learn)
        out.cycles.append(predicted.timesteps)
        out.totals.append(predicted.total)
        yield out
    out.weights, out.theta = net.weights.copy(), net.theta.copy()
    if core.widths.bias:
        layer_bias = net.layers[0].bias
        out.bias = (np.zeros(core.n_neurons, np.int64) if layer_bias is None
                    else layer_bias.copy())
    yield out


def golden_session(core: CoreConfig, weights: Array, theta: Array,
                   samples: list[Sample], bias: Array = None) -> SessionResult:
    """The golden model's spikes, counts, predicted cycles and final state for a session."""
    *_, out = golden_samples(core, weights, theta, samples, bias)
    return out


def write_session(path: Path, weights: Any, theta: Any, samples: list[Sample],
                  bias: Any = None) -> Path:
    """Store a session for the testbench (``np.savez``; ``bias`` only when given)."""
    arrays: dict[str, Any] = {
        "weights": np.asarray(weights), "theta": np.asarray(theta),
        "pixels": np.array([s.pixels for s in samples]),
        "keys": np.array([s.key for s in samples], dtype=np.int64),
        "learn": np.array([s.learn for s in samples], dtype=bool)}
    if bias is not None:
        arrays["bias"] = np.asarray(bias)
    np.savez(path, **arrays)
    return path


def read_session(path: str | Path) -> tuple[Any, Any, list[Sample], Any]:
    """Inverse of :func:`write_session`: weights, thresholds, samples, biases (or
    ``None``)."""
    with np.load(path) as f:
        samples = [Sample(p, int(k), bool(lrn))
                   for p, k, lrn in zip(f["pixels"], f["keys"], f["learn"], strict=True)]
        return f["weights"], f["theta"], samples, f["bias"] if "bias" in f.files else None


def bias_words(core: CoreConfig, bias: Any) -> list[int]:
    """The bias words a session writes (none without ``widths.bias``; zeros when the core
    has a bias and the session gives none)."""
    if not core.widths.bias:
        return []
    values = np.zeros(core.n_neurons, np.int64) if bias is None else np.asarray(bias)
    return pack_words(values, core.n_pe, core.widths.bias)


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


async def drive(io: CoreIO, core: CoreConfig, weights: Array, theta: Array,
                samples: list[Sample], stall: float = 0.0, seed: int = 0,
                max_cycles: int = 100_000_000,
                on_sample: Callable[[int, SessionResult], None] | None = None,
                bias: Array = None) -> SessionResult:
    """Run a session on the core behind ``io``: load, run every sample, read back.

    ``stall`` is the probability that the spike and count consumers hold ``ready`` low in a
    cycle (seeded by ``seed``); cycles are only comparable with the model at ``stall = 0``.
    ``on_sample(n, result)`` is called after sample ``n`` (e.g. to check it and stop at
    the first difference, or to report progress).
    """
    P, W = core.n_pe, core.n_neurons // core.n_pe
    wb, tb = core.widths.weight, core.widths.theta
    direct = core.encoder.kind == "direct"
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

    async def access(write: bool, is_theta: bool, addr: int, data: int = 0,
                     is_bias: bool = False) -> int:
        await transfer("access", {"write": int(write), "theta": int(is_theta),
                                  "addr": addr, "data": data,
                                  **({"bias": int(is_bias)} if core.widths.bias else {})})
        if write:
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

    for addr, word in enumerate(pack_words(np.asarray(weights), P, wb)):
        await access(True, False, addr, word)
    for addr, word in enumerate(pack_words(np.asarray(theta), P, tb)):
        await access(True, True, addr, word)
    for addr, word in enumerate(bias_words(core, bias)):
        await access(True, False, addr, word, is_bias=True)

    for s in samples:
        await transfer("command", {"key": s.key, "learn": int(s.learn)})
        spikes: list[tuple[int, int]] = []
        counts = np.zeros(core.n_neurons, np.int64)
        step_ends: list[int] = []
        if direct:      # one raster word per timestep, input j at bit j
            pending = pack_words(np.asarray(s.pixels, dtype=np.int64), core.n_inputs, 1)
        else:
            pending = pack_words(np.asarray(s.pixels, dtype=np.int64), core.encoder.lanes,
                                 core.encoder.pixel_bits)
        started = loaded = last = cycle - 1    # the command's cycle (direct: no pixels)
        finished = False
        while not finished:
            io.set(source, "valid", int(bool(pending)))
            if pending:
                io.set(source, "payload", pending[0])
            spike_ready, count_ready = int(rng.random() >= stall), int(rng.random() >= stall)
            io.set("spikes", "ready", spike_ready)
            io.set("counts", "ready", count_ready)
            await io.settle()
            if pending and io.get(source, "ready"):
                pending.pop(0)
                if not direct:
                    loaded = cycle
            if io.get("timestep_done"):
                step_ends.append(cycle)
            if spike_ready and io.get("spikes", "valid"):
                spikes += spikes_of(io.get("spikes", "payload"))
            if count_ready and io.get("counts", "valid"):
                token = io.get("counts", "payload")
                counts[token["neuron"]] = token["count"]
                finished = bool(token["last"])
                last = cycle
            await tick()
        io.set(source, "valid", 0)
        io.set("counts", "ready", 0)
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
        out.cycles.append(np.diff(np.array([loaded, *step_ends], dtype=np.int64)))
        out.totals.append(last - started + 1)
        out.spikes.append(np.array(sorted(spikes), dtype=np.int64).reshape(-1, 2))
        out.counts.append(counts)
        if on_sample is not None:
            on_sample(len(out.counts) - 1, out)

    read_w = [await access(False, False, a) for a in range(core.n_inputs * W)]
    read_t = [await access(False, True, a) for a in range(W)]
    out.weights = unpack_words(read_w, P, wb, signed=core.widths.weight_signed
                               ).reshape(core.n_inputs, core.n_neurons)
    out.theta = unpack_words(read_t, P, tb)
    if core.widths.bias:
        read_b = [await access(False, False, a, is_bias=True) for a in range(W)]
        out.bias = unpack_words(read_b, P, core.widths.bias, signed=True)
    return out


class AmaranthIO(CoreIO):
    """:class:`CoreIO` of an ``SnnCore`` in Amaranth's simulator (testbench context)."""

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
            return {name: int(getattr(value, name)) for name, _ in layout}
        return int(value)

    async def tick(self) -> None:
        await self.ctx.tick()


def run_amaranth(core: CoreConfig, weights: Array, theta: Array, samples: list[Sample],
                 stall: float = 0.0, seed: int = 0, vcd: str | None = None,
                 bias: Array = None) -> SessionResult:
    """Run a session (:func:`drive`) on ``SnnCore`` in Amaranth's simulator."""
    from amaranth.sim import Simulator

    from ..hdl.core import SnnCore

    dut = SnnCore(core)
    result: list[SessionResult] = []

    async def bench(ctx: Any) -> None:
        result.append(await drive(AmaranthIO(dut, ctx), core, weights, theta, samples,
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
    """The first difference in sample ``n`` (spikes, counts, then cycles), or ``None``."""
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
    if cycles:
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


def compare(core: CoreConfig, got: SessionResult, expected: SessionResult,
            cycles: bool = True) -> str | None:
    """The first difference between two session results, or ``None``: per sample in
    order (spikes, counts, cycles), then the final weights and thresholds."""
    if len(got.spikes) != len(expected.spikes):
        return f"{len(got.spikes)} samples ran, {len(expected.spikes)} expected"
    for n in range(len(got.spikes)):
        difference = compare_sample(got, expected, n, cycles)
        if difference:
            return difference
    if (got.weights != expected.weights).any():
        j, i = (int(x) for x in np.argwhere(got.weights != expected.weights)[0])
        return (f"weight from input {j} to neuron {i}: RTL {got.weights[j, i]}, "
                f"golden {expected.weights[j, i]}")
    if (got.theta != expected.theta).any():
        i = int(np.flatnonzero(got.theta != expected.theta)[0])
        return f"theta of neuron {i}: RTL {got.theta[i]}, golden {expected.theta[i]}"
    if expected.bias is not None and (got.bias is None or (got.bias != expected.bias).any()):
        if got.bias is None:
            return "the biases were not read back"
        i = int(np.flatnonzero(got.bias != expected.bias)[0])
        return f"bias of neuron {i}: RTL {got.bias[i]}, golden {expected.bias[i]}"
    return None
