"""Drive the network core (``SnnCore``) through a session and compare it with the golden model.

A session loads weights and thresholds through the access port, runs samples (a command, the
pixels, then the core's spikes and counts), and reads every weight and threshold back.
:func:`run_amaranth` runs it in Amaranth's simulator, cycle by cycle; :func:`golden_session`
computes what the core must produce with ``spikeforge.golden``; :func:`compare` names the
first difference (sample, timestep, neuron, value).

Word packing (``hdl/core.py``, ``access_layout``): weight word ``j * W + k`` holds the
weights of input ``j`` to neurons ``k * P + p``, lane ``p`` at bits ``p * weight ..``;
threshold word ``k`` the thresholds of neurons ``k * P + p``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import CoreConfig
from ..golden.cycles import sample_cycles
from ..golden.network import Network

__all__ = [
    "Sample",
    "SessionResult",
    "pack_words",
    "unpack_words",
    "golden_session",
    "run_amaranth",
    "compare",
]

Array = Any


@dataclass(frozen=True)
class Sample:
    """One sample of a session: pixels ``(n_inputs,)``, its key and the learn flag."""

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
    weights : (n_inputs, n_neurons) int array
        Every weight after the session.
    theta : (n_neurons,) int array
        Every adaptive threshold after the session.
    """

    spikes: list[Array] = field(default_factory=list)
    counts: list[Array] = field(default_factory=list)
    cycles: list[Array] = field(default_factory=list)
    weights: Array = None
    theta: Array = None


def pack_words(values: Array, lanes: int, bits: int) -> list[int]:
    """Pack the last axis of ``values`` (length a multiple of ``lanes``) into words of
    ``lanes`` fields, lane 0 at the LSB, row-major over the other axes."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1, lanes)
    shifts = np.arange(lanes, dtype=np.int64) * bits
    return [sum(int(v) << int(s) for v, s in zip(row, shifts, strict=True)) for row in flat]


def unpack_words(words: list[int], lanes: int, bits: int) -> Array:
    """Inverse of :func:`pack_words`: an ``(len(words) * lanes,)`` int64 array."""
    mask = (1 << bits) - 1
    return np.array([(w >> (p * bits)) & mask for w in words for p in range(lanes)],
                    dtype=np.int64)


def golden_session(core: CoreConfig, weights: Array, theta: Array,
                   samples: list[Sample]) -> SessionResult:
    """The golden model's spikes, counts, predicted cycles and final state for a session."""
    net = Network(core, weights=weights, theta=theta)
    out = SessionResult()
    for s in samples:
        res = net.run_sample(s.pixels, s.key, learn=s.learn, record=True)
        assert res.raster is not None and res.input_raster is not None
        out.spikes.append(np.argwhere(res.raster))
        out.counts.append(res.counts.copy())
        out.cycles.append(sample_cycles(core, res.input_raster, res.raster,
                                        s.learn).timesteps)
    out.weights, out.theta = net.weights.copy(), net.theta.copy()
    return out


def run_amaranth(core: CoreConfig, weights: Array, theta: Array, samples: list[Sample],
                 stall: float = 0.0, seed: int = 0, max_cycles: int = 10_000_000,
                 vcd: str | None = None) -> SessionResult:
    """Run a session on ``SnnCore`` in Amaranth's simulator.

    ``stall`` is the probability that the spike and count consumers hold ``ready`` low in a
    cycle (seeded by ``seed``); cycles are only comparable with the model at ``stall = 0``.
    """
    from amaranth.sim import Simulator

    from ..hdl.core import SnnCore

    dut = SnnCore(core)
    P, W = core.n_pe, core.n_neurons // core.n_pe
    wb, tb = core.widths.weight, core.widths.theta
    weight_words = pack_words(np.asarray(weights), P, wb)
    theta_words = pack_words(np.asarray(theta), P, tb)
    rng = random.Random(seed)
    out = SessionResult()

    async def bench(ctx: Any) -> None:
        cycle = 0

        async def tick() -> None:
            nonlocal cycle
            cycle += 1
            if cycle > max_cycles:
                raise AssertionError(f"no result after {max_cycles} cycles")
            await ctx.tick()

        async def access(write: bool, is_theta: bool, addr: int, data: int = 0) -> int | None:
            ctx.set(dut.access.valid, 1)
            ctx.set(dut.access.payload.write, int(write))
            ctx.set(dut.access.payload.theta, int(is_theta))
            ctx.set(dut.access.payload.addr, addr)
            ctx.set(dut.access.payload.data, data)
            while not ctx.get(dut.access.ready):
                await tick()
            await tick()
            ctx.set(dut.access.valid, 0)
            if write:
                return None
            ctx.set(dut.readback.ready, 1)
            while not ctx.get(dut.readback.valid):
                await tick()
            value = int(ctx.get(dut.readback.payload))
            await tick()
            ctx.set(dut.readback.ready, 0)
            return value

        for addr, word in enumerate(weight_words):
            await access(True, False, addr, word)
        for addr, word in enumerate(theta_words):
            await access(True, True, addr, word)

        for s in samples:
            spikes: list[tuple[int, int]] = []
            counts = np.zeros(core.n_neurons, np.int64)
            done_cycles: list[int] = []
            ctx.set(dut.command.valid, 1)
            ctx.set(dut.command.payload.key, s.key)
            ctx.set(dut.command.payload.learn, int(s.learn))
            while not ctx.get(dut.command.ready):
                await tick()
            await tick()
            ctx.set(dut.command.valid, 0)
            loaded = cycle
            pending = [int(p) for p in s.pixels]
            finished = False
            while not finished:
                ctx.set(dut.pixels.valid, int(bool(pending)))
                if pending:
                    ctx.set(dut.pixels.payload, pending[0])
                spike_ready = int(rng.random() >= stall)
                count_ready = int(rng.random() >= stall)
                ctx.set(dut.spikes.ready, spike_ready)
                ctx.set(dut.counts.ready, count_ready)
                if pending and ctx.get(dut.pixels.ready):
                    pending.pop(0)
                    loaded = cycle
                if ctx.get(dut.timestep_done):
                    done_cycles.append(cycle)
                if spike_ready and ctx.get(dut.spikes.valid):
                    token = ctx.get(dut.spikes.payload)
                    word, mask = int(token.word), int(token.mask)
                    spikes += [(int(token.timestep), word * P + p)
                               for p in range(P) if mask >> p & 1]
                if count_ready and ctx.get(dut.counts.valid):
                    counts[int(ctx.get(dut.counts.payload.neuron))] = int(
                        ctx.get(dut.counts.payload.count))
                    finished = bool(ctx.get(dut.counts.payload.last))
                await tick()
            # drain spikes still queued (only possible with stalls)
            ctx.set(dut.spikes.ready, 1)
            while ctx.get(dut.spikes.valid):
                token = ctx.get(dut.spikes.payload)
                word, mask = int(token.word), int(token.mask)
                spikes += [(int(token.timestep), word * P + p)
                           for p in range(P) if mask >> p & 1]
                await tick()
            ctx.set(dut.spikes.ready, 0)
            ctx.set(dut.counts.ready, 0)
            bounds = [loaded, *done_cycles]
            out.cycles.append(np.diff(np.array(bounds, dtype=np.int64)))
            out.spikes.append(np.array(sorted(spikes), dtype=np.int64).reshape(-1, 2))
            out.counts.append(counts)

        read_w = [await access(False, False, a) for a in range(len(weight_words))]
        read_t = [await access(False, True, a) for a in range(W)]
        out.weights = unpack_words([int(w) for w in read_w if w is not None], P,
                                   wb).reshape(core.n_inputs, core.n_neurons)
        out.theta = unpack_words([int(t) for t in read_t if t is not None], P, tb)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return out


def compare(core: CoreConfig, got: SessionResult, expected: SessionResult,
            cycles: bool = True) -> str | None:
    """The first difference between two session results, or ``None``."""
    if len(got.spikes) != len(expected.spikes):
        return f"{len(got.spikes)} samples ran, {len(expected.spikes)} expected"
    for n, (g, e) in enumerate(zip(got.spikes, expected.spikes, strict=True)):
        if g.shape != e.shape or (g != e).any():
            gs, es = set(map(tuple, g.tolist())), set(map(tuple, e.tolist()))
            diff = sorted(gs ^ es)[0]
            where = "RTL only" if diff in gs else "golden only"
            return (f"sample {n}: spike at timestep {diff[0]}, neuron {diff[1]}: {where} "
                    f"({len(g)} RTL spikes, {len(e)} golden)")
    for n, (g, e) in enumerate(zip(got.counts, expected.counts, strict=True)):
        if (g != e).any():
            i = int(np.flatnonzero(g != e)[0])
            return f"sample {n}: count of neuron {i}: RTL {g[i]}, golden {e[i]}"
    if (got.weights != expected.weights).any():
        j, i = (int(x) for x in np.argwhere(got.weights != expected.weights)[0])
        return (f"weight from input {j} to neuron {i}: RTL {got.weights[j, i]}, "
                f"golden {expected.weights[j, i]}")
    if (got.theta != expected.theta).any():
        i = int(np.flatnonzero(got.theta != expected.theta)[0])
        return f"theta of neuron {i}: RTL {got.theta[i]}, golden {expected.theta[i]}"
    if cycles:
        for n, (g, e) in enumerate(zip(got.cycles, expected.cycles, strict=True)):
            if len(g) != len(e) or (g != e).any():
                if len(g) != len(e):
                    return f"sample {n}: {len(g)} timesteps measured, {len(e)} predicted"
                t = int(np.flatnonzero(g != e)[0])
                return (f"sample {n}: timestep {t} took {g[t]} cycles, the cycle model "
                        f"predicts {e[t]}")
    return None
