# amaranth: UnusedElaboratable=no
"""cocotb testbench of ``TraceUnit`` (``hdl/trace.py``) against the golden trace step.

Runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_trace")``) on the
Verilog of ``TraceUnit(core, kind)`` with top module :data:`TOPLEVEL`.  Every output token
is compared with ``plasticore.golden.stdp.trace_step`` (``IntegerArithmetic``) with the
kind's ``tau_*_shift``; see :func:`golden_outputs`.

The stimulus helpers (:func:`golden_outputs`, :func:`directed_tokens`,
:func:`random_tokens`) are plain Python, also used by the Amaranth-simulator tests in
``tests/hdl/test_trace.py``, so both tiers check the same cases.

Environment: ``PLASTICORE_TRACE_KIND``, ``pre`` or ``post``, the kind the Verilog was
generated for; ``PLASTICORE_CORE`` (the configuration) and ``PLASTICORE_TOKENS`` (random tokens
per random test and backpressure setting, default 300), see :mod:`plasticore.sim.pe_testbench`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any

import cocotb
import numpy as np

from ..config import CoreConfig
from ..golden.arith import IntegerArithmetic
from ..golden.stdp import trace_step
from ..hdl.trace import TraceUnit, trace_input_layout, trace_output_layout
from .pe_testbench import BACKPRESSURE, PeTestbench, Token, core_from_env, seeded_rng, token_count

__all__ = [
    "TOPLEVEL",
    "COCOTB_TESTS",
    "ENV_KIND",
    "tau_shift",
    "golden_outputs",
    "directed_tokens",
    "random_tokens",
    "Testbench",
]

TOPLEVEL = "trace_unit"
"""Top module name of the generated Verilog."""
ENV_KIND = "PLASTICORE_TRACE_KIND"
DEFAULT_TOKENS = 300
COCOTB_TESTS = 2 * len(BACKPRESSURE) + 1
"""cocotb tests this module runs (the parametrized ones once per backpressure setting)."""


# --------------------------------------------------------------------------------------------
# Golden model and stimulus (plain Python, shared with the Amaranth-simulator tests)


def tau_shift(core: CoreConfig, kind: str) -> int:
    """The decay shift of a ``kind`` (``"pre"`` or ``"post"``) trace."""
    return core.stdp.tau_pre_shift if kind == "pre" else core.stdp.tau_post_shift


def golden_outputs(core: CoreConfig, kind: str, tokens: Sequence[Token]) -> list[Token]:
    """The golden model's output token for every input token (each token is independent):
    ``trace_step`` with the kind's shift, on all tokens at once."""
    if not tokens:
        return []
    x = np.array([t["x"] for t in tokens], dtype=np.int64)
    spike = np.array([t["spike"] for t in tokens], dtype=np.int64) != 0
    out = trace_step(IntegerArithmetic(core), x, spike, tau_shift(core, kind))
    return [{"x": int(v)} for v in out]


def _token(x: int, spike: int) -> Token:
    return {"x": x, "spike": spike}


def directed_tokens(core: CoreConfig, kind: str) -> list[tuple[str, Token]]:
    """Named corner cases: both ends of the word, decay rounding around ``2**k``, the
    ``add``-mode saturation boundary, and a whole decay from ``trace_max`` to zero."""
    s, d = core.stdp, core.derived
    k = tau_shift(core, kind)
    trace_max = d.trace_max
    num = IntegerArithmetic(core)
    cases: list[tuple[str, Token]] = []

    # rails and decay rounding: 0, 1, 2, 3, 2**k - 1, 2**k, 2**k + 1, trace_max - 1, trace_max
    values = {0, 1, 2, 3, trace_max - 1, trace_max, trace_max // 2}
    values |= {(1 << k) - 1, 1 << k, (1 << k) + 1, (2 << k) - 1, 2 << k}
    for x in sorted(v for v in values if 0 <= v <= trace_max):
        for spike in (0, 1):
            cases.append((f"x = {x} (k = {k}), spike {spike}", _token(x, spike)))

    # add mode: the decayed trace plus trace_add lands just below, on and just above the rail
    all_x = np.arange(trace_max + 1, dtype=np.int64)
    decayed = num.decay_unsigned(all_x, k)
    for target in (trace_max - 1, trace_max, trace_max + 1):
        hits = np.flatnonzero(decayed + s.trace_add == target)
        if hits.size:
            x = int(hits[0])
            cases.append((f"decayed {x} + trace_add {s.trace_add} = {target} "
                          f"(trace_max {trace_max}), spike", _token(x, 1)))
    # largest x whose bump does not saturate, and the first one that does
    fits = np.flatnonzero(decayed + s.trace_add <= trace_max)
    if fits.size:
        x = int(fits[-1])
        cases.append((f"largest unsaturated bump from x = {x}", _token(x, 1)))
        if x < trace_max:
            cases.append((f"smallest saturated bump from x = {x + 1}", _token(x + 1, 1)))

    # a whole trajectory: spike once at trace_max, then decay (each step linear below 2**k)
    x, steps = trace_max, 0
    while x > 0 and steps < 400:
        cases.append((f"decay from trace_max, step {steps}", _token(x, 0)))
        x = int(num.decay_unsigned(np.int64(x), k))
        steps += 1
    return cases


def random_tokens(core: CoreConfig, kind: str, rng: random.Random, count: int) -> list[Token]:
    """``count`` random tokens over the whole trace word, biased toward its ends and toward
    small traces (the linear part of the decay)."""
    trace_max = core.derived.trace_max
    k = tau_shift(core, kind)
    tokens: list[Token] = []
    for _ in range(count):
        r = rng.random()
        if r < 0.6:
            x = rng.randint(0, trace_max)
        elif r < 0.8:
            x = rng.randint(0, min(trace_max, 4 << k))
        else:
            x = rng.choice([0, 1, trace_max, max(0, trace_max - rng.randint(0, 3))])
        tokens.append(_token(x, int(rng.random() < 0.4)))
    return tokens


# --------------------------------------------------------------------------------------------
# cocotb


class Testbench(PeTestbench):
    """Driver, backpressuring sink and golden scoreboard around ``TraceUnit(core, kind)``.

    Members
    -------
    core : CoreConfig
        The configuration the design was generated from.
    kind : str
        ``"pre"`` or ``"post"``.
    """

    def __init__(self, dut: Any, core: CoreConfig, kind: str, rng: random.Random, idle: float,
                 stall: float, name: str) -> None:
        self.core = core
        self.kind = kind
        super().__init__(dut, lambda tokens: golden_outputs(core, kind, tokens),
                         trace_input_layout(core), trace_output_layout(core),
                         TraceUnit(core, kind).latency, rng, idle, stall, name)


def _setup() -> tuple[CoreConfig, str]:
    assert ENV_KIND in os.environ, f"pass {ENV_KIND} (pre or post) in extra_env"
    return core_from_env(), os.environ[ENV_KIND]


@cocotb.test()
@cocotb.parametrize((("idle", "stall"), BACKPRESSURE))
async def trace_directed(dut: Any, idle: float, stall: float) -> None:
    """Every directed corner case, twice in a row, under backpressure."""
    core, kind = _setup()
    tb = Testbench(dut, core, kind, seeded_rng("directed", idle, stall), idle, stall,
                   f"trace {kind} directed")
    await tb.start()
    cases = directed_tokens(core, kind)
    await tb.run(cases * 2)
    cocotb.log.info("%d directed cases checked", len(cases))


@cocotb.test()
@cocotb.parametrize((("idle", "stall"), BACKPRESSURE))
async def trace_random(dut: Any, idle: float, stall: float) -> None:
    """Long random sequence (``PLASTICORE_TOKENS``) under backpressure."""
    core, kind = _setup()
    count = token_count(DEFAULT_TOKENS)
    rng = seeded_rng("random", idle, stall)
    tb = Testbench(dut, core, kind, rng, idle, stall, f"trace {kind} random")
    await tb.start()
    tokens = random_tokens(core, kind, random.Random(rng.random()), count)
    await tb.run([(f"random #{i}", token) for i, token in enumerate(tokens)])


@cocotb.test()
async def trace_throughput(dut: Any) -> None:
    """No backpressure: exact latency, one token per cycle; a reset empties the pipeline."""
    core, kind = _setup()
    tb = Testbench(dut, core, kind, seeded_rng("throughput"), 0.0, 0.0,
                   f"trace {kind} throughput")
    await tb.start()
    tokens = random_tokens(core, kind, seeded_rng("throughput-tokens"), 64)
    await tb.run_back_to_back([("random", t) for t in tokens])
