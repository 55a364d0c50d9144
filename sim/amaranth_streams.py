"""Amaranth-simulator counterpart of ``streams.py``: run a stream PE token by token.

The fast test tier drives a PE's ``i`` stream and drains its ``o`` stream inside
``amaranth.sim.Simulator`` with one async testbench that decides, cycle by cycle, whether the
source idles and whether the sink stalls (seeded ``random.Random``).  It records the cycle of
every transfer, so a test can assert the exact latency and full throughput, and it checks the
stream rules on the PE's output at every cycle: once ``o.valid`` is high it stays high, with
the same payload, until ``o.ready`` takes the token.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from amaranth.lib import wiring
from amaranth.sim import Simulator

__all__ = ["StreamRun", "run_stream"]


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
    """

    outputs: list[dict[str, int]] = field(default_factory=list)
    in_cycles: list[int] = field(default_factory=list)
    out_cycles: list[int] = field(default_factory=list)


def _as_dict(layout, value) -> dict[str, int]:
    view = layout.from_bits(value) if isinstance(value, int) else value
    return {name: int(getattr(view, name)) for name, _ in layout}


def run_stream(dut: wiring.Component, tokens: Sequence[Mapping[str, int]], *,
               idle: float = 0.0, stall: float = 0.0, seed: object = 0,
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
    seed : object
        Seed of the backpressure pattern.
    max_cycles : int, optional
        Give up after this many cycles (default ``20 * len(tokens) + 100``).
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
    limit = max_cycles if max_cycles is not None else 20 * len(tokens) + 100
    run = StreamRun()
    expected_outputs = len(tokens)

    async def bench(ctx):
        pending = list(tokens)
        current = None
        held = None  # payload of an output that was valid but not taken last cycle
        done_at = None
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
            ready = 1 if done_at is not None else int(rng.random() >= stall)
            ctx.set(dut.o.ready, ready)
            # values seen before the clock edge: what the edge transfers
            in_ready, o_valid = ctx.get(dut.i.ready), ctx.get(dut.o.valid)
            payload = _as_dict(out_layout, ctx.get(dut.o.payload))
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
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run
