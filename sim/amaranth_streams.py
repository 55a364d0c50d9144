"""Amaranth-simulator counterpart of ``streams.py``: run a stream PE token by token.

The fast test tier drives a PE's ``i`` stream and drains its ``o`` stream inside
``amaranth.sim.Simulator`` with one async testbench that decides, cycle by cycle, whether the
source idles and whether the sink stalls (seeded ``random.Random``).  It records the cycle of
every transfer, so a test can assert the exact latency and full throughput, and it checks the
stream rules on the PE's output at every cycle: once ``o.valid`` is high it stays high, with
the same payload, until ``o.ready`` takes the token.

:func:`check_outputs` compares outputs with golden ones token by token, :func:`run_checked`
runs and compares in one call; :func:`check_reset_empties` resets a PE with tokens in flight.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amaranth import ClockDomain, Module
from amaranth.lib import data, wiring
from amaranth.sim import Simulator

__all__ = [
    "Token",
    "StreamRun",
    "run_stream",
    "numbered",
    "check_outputs",
    "run_checked",
    "check_reset_empties",
]

Token = dict[str, int]
Labelled = Sequence[tuple[str, Mapping[str, int]]]

_CLOCK_PERIOD = 1e-8


@dataclass
class StreamRun:
    """What :func:`run_stream` saw.

    Members
    -------
    outputs : list of dict
        Output payloads in order, as ``{field: int}`` (signed fields negative).
    in_cycles, out_cycles : list of int
        Cycle of each input and output transfer (cycle 0 is the first one simulated; a
        transfer "in cycle c" happens on the clock edge that ends cycle c).
    first_valid : int or None
        First cycle in which ``o.valid`` was high.
    """

    outputs: list[Token] = field(default_factory=list)
    in_cycles: list[int] = field(default_factory=list)
    out_cycles: list[int] = field(default_factory=list)
    first_valid: int | None = None

    def assert_full_throughput(self, latency: int) -> None:
        """Without backpressure: one token per cycle in and out, every output exactly
        ``latency`` cycles after its input."""
        assert self.in_cycles == list(range(len(self.in_cycles))), (
            f"inputs taken in cycles {self.in_cycles[:8]}..., expected one per cycle")
        assert self.out_cycles == [c + latency for c in self.in_cycles], (
            f"outputs in cycles {self.out_cycles[:8]}... for inputs in "
            f"{self.in_cycles[:8]}..., expected latency {latency}")

    def assert_stalled(self, latency: int, hold: int) -> None:
        """After ``run_stream(..., hold=hold)`` with no idling: the pipeline fills (one token
        per register stage), the first output waits on ``o`` from cycle ``latency`` (held:
        the stream rules are checked every cycle) until ``o.ready`` rises in cycle ``hold``,
        then everything drains in order at one token per cycle."""
        assert self.in_cycles[:latency] == list(range(latency)), self.in_cycles[:latency]
        assert self.in_cycles[latency] == hold, (
            f"input {latency} taken in cycle {self.in_cycles[latency]} while the output "
            f"stalled until cycle {hold}")
        assert self.first_valid == latency, f"o.valid first rose in cycle {self.first_valid}"
        assert self.out_cycles == list(range(hold, hold + len(self.out_cycles))), (
            f"outputs in cycles {self.out_cycles[:8]}..., expected one per cycle from {hold}")


def _as_dict(layout: data.StructLayout, value: Any) -> Token:
    view = layout.from_bits(value) if isinstance(value, int) else value
    return {name: int(getattr(view, name)) for name, _ in layout}


def run_stream(dut: wiring.Component, tokens: Sequence[Mapping[str, int]], *,
               idle: float = 0.0, stall: float = 0.0, seed: int | str = 0, hold: int = 0,
               max_cycles: int | None = None, trailing: int = 8) -> StreamRun:
    """Send ``tokens`` through ``dut`` (members ``i`` and ``o``) and collect the outputs.

    Parameters
    ----------
    dut : wiring.Component
        A PE with ``i: In(stream.Signature(...))`` and ``o: Out(stream.Signature(...))``.
    tokens : list of dict
        Input payloads as ``{field: int}``.
    idle : float
        Probability that the source idles for a cycle before presenting each token.
    stall : float
        Probability that the sink holds ``o.ready`` low in a cycle.
    seed : int or str
        Seed of the backpressure pattern.
    hold : int
        The sink holds ``o.ready`` low for the first ``hold`` cycles (a long stall).
    max_cycles : int, optional
        Give up after this many cycles (default ``hold + 20 * len(tokens) + 100``).
    trailing : int
        Cycles run after the last expected output, with ``o.ready`` high, in which no
        further output may appear.

    Returns
    -------
    StreamRun

    Raises
    ------
    AssertionError
        On a stream-rule violation, an output too many, or when the outputs do not arrive
        in time.
    """
    rng = random.Random(seed)
    in_layout = dut.i.payload.shape()
    out_layout = dut.o.payload.shape()
    limit = max_cycles if max_cycles is not None else hold + 20 * len(tokens) + 100
    run = StreamRun()
    expected_outputs = len(tokens)

    async def bench(ctx: Any) -> None:
        pending = list(tokens)
        current: Mapping[str, int] | None = None
        held: Token | None = None  # payload of an output that was valid but not taken
        done_at: int | None = None
        for cycle in range(limit + trailing):
            if done_at is None and len(run.outputs) >= expected_outputs:
                done_at = cycle
            if done_at is not None and cycle >= done_at + trailing:
                break
            if current is None and pending and not (idle and rng.random() < idle):
                current = pending.pop(0)
            ctx.set(dut.i.valid, int(current is not None))
            if current is not None:
                ctx.set(dut.i.payload, in_layout.const(dict(current)))
            if done_at is not None:
                ready = 1
            else:
                ready = int(cycle >= hold and rng.random() >= stall)
            ctx.set(dut.o.ready, ready)
            # values seen before the clock edge: what the edge transfers
            in_ready, o_valid = ctx.get(dut.i.ready), ctx.get(dut.o.valid)
            payload = _as_dict(out_layout, ctx.get(dut.o.payload))
            if o_valid and run.first_valid is None:
                run.first_valid = cycle
            if held is not None:
                assert o_valid, f"cycle {cycle}: o.valid dropped before the token was taken"
                assert payload == held, (f"cycle {cycle}: o.payload changed from {held} to "
                                         f"{payload} before the token was taken")
            held = payload if o_valid and not ready else None
            if current is not None and in_ready:
                run.in_cycles.append(cycle)
                current = None
            if o_valid and ready:
                assert done_at is None, f"cycle {cycle}: output {payload} after the last token"
                run.outputs.append(payload)
                run.out_cycles.append(cycle)
            if done_at is None and cycle >= limit:
                raise AssertionError(f"{len(run.outputs)} of {expected_outputs} outputs "
                                     f"after {limit} cycles")
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(_CLOCK_PERIOD)
    sim.add_testbench(bench)
    sim.run()
    return run


def numbered(tokens: Sequence[Mapping[str, int]],
             name: str = "random") -> list[tuple[str, Mapping[str, int]]]:
    """``tokens`` labelled ``<name> #<index>``."""
    return [(f"{name} #{i}", token) for i, token in enumerate(tokens)]


def check_outputs(labelled: Labelled, outputs: Sequence[Mapping[str, int]],
                  expected: Sequence[Mapping[str, int]]) -> None:
    """Token-by-token comparison of a PE's ``outputs`` with the golden ``expected``, one per
    input token of ``labelled`` (``(name, token)`` pairs); the first mismatch names the case
    and its input."""
    assert len(outputs) == len(expected), f"{len(outputs)} outputs for {len(expected)} tokens"
    for k, ((label, token), got, want) in enumerate(
            zip(labelled, outputs, expected, strict=True)):
        assert dict(got) == dict(want), (f"token {k} ({label}): got {dict(got)}, expected "
                                         f"{dict(want)}; input {dict(token)}")


def run_checked(dut: wiring.Component, labelled: Labelled,
                golden: Callable[[list[Mapping[str, int]]], Sequence[Mapping[str, int]]],
                **options: Any) -> StreamRun:
    """:func:`run_stream` on the tokens of ``labelled`` (``options`` as there), then
    :func:`check_outputs` against ``golden`` of the tokens."""
    tokens = [token for _, token in labelled]
    run = run_stream(dut, tokens, **options)
    check_outputs(labelled, run.outputs, golden(tokens))
    return run


def check_reset_empties(dut: wiring.Component, tokens: Sequence[Mapping[str, int]], *,
                        taken: int = 0) -> None:
    """Fill ``dut``'s pipeline with ``o.ready`` low (the first ``dut.latency`` of ``tokens``
    go in, then ``i.ready`` must be low), let the sink take ``taken`` outputs, then assert
    the synchronous reset for one cycle: afterwards no output may appear, even with
    ``o.ready`` high, for ``dut.latency + 2`` cycles."""
    latency: int = dut.latency
    in_layout = dut.i.payload.shape()
    m = Module()
    m.domains.sync = sync = ClockDomain()
    m.submodules.dut = dut

    async def bench(ctx: Any) -> None:
        ctx.set(dut.o.ready, 0)
        ctx.set(dut.i.valid, 1)
        accepted = 0
        for _ in range(latency + 4):
            ctx.set(dut.i.payload, in_layout.const(dict(tokens[accepted])))
            accepted += ctx.get(dut.i.ready)
            await ctx.tick()
        assert accepted == latency, f"{accepted} tokens taken with the output stalled"
        assert ctx.get(dut.o.valid) and not ctx.get(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        if taken:
            ctx.set(dut.o.ready, 1)
            await ctx.tick().repeat(taken)
        ctx.set(sync.rst, 1)
        await ctx.tick()
        ctx.set(sync.rst, 0)
        ctx.set(dut.o.ready, 1)
        for cycle in range(latency + 2):
            assert not ctx.get(dut.o.valid), f"o.valid {cycle} cycles after the reset"
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(_CLOCK_PERIOD)
    sim.add_testbench(bench)
    sim.run()
