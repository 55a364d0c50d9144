# amaranth: UnusedElaboratable=no
"""cocotb testbench of ``LIFNeuronUnit`` (``hdl/lif.py``) against the golden neuron.

Runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_lif")``) on the
Verilog of ``LIFNeuronUnit`` with top module :data:`TOPLEVEL`.  Every output token is
compared with ``plasticore.golden.neuron.lif_step`` followed by ``adapt_threshold`` (where
the token's ``learn`` is set), both with ``IntegerArithmetic``; see :func:`golden_outputs`.

The stimulus helpers (:func:`directed_tokens`, :func:`random_tokens`,
:func:`golden_outputs`) are plain Python, also used by the Amaranth-simulator tests in
``tests/hdl/test_lif.py``, so both tiers check the same cases.

Environment: ``PLASTICORE_CORE`` (the configuration) and ``PLASTICORE_TOKENS`` (random tokens
per random test and backpressure setting, default 300), see :mod:`plasticore.sim.pe_testbench`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import cocotb
import numpy as np

from ..config import CoreConfig
from ..golden.arith import IntegerArithmetic
from ..golden.neuron import adapt_threshold, lif_step
from ..hdl.lif import LIFNeuronUnit, lif_input_layout, lif_output_layout
from .pe_testbench import BACKPRESSURE, PeTestbench, Token, core_from_env, seeded_rng, token_count

__all__ = [
    "TOPLEVEL",
    "COCOTB_TESTS",
    "golden_outputs",
    "landing_token",
    "directed_tokens",
    "random_tokens",
    "Testbench",
]

TOPLEVEL = "lif_neuron_unit"
"""Top module name of the generated Verilog."""
DEFAULT_TOKENS = 300
COCOTB_TESTS = 2 * len(BACKPRESSURE) + 1
"""cocotb tests this module runs (the parametrized ones once per backpressure setting)."""

INPUT_FIELDS = ("v", "refractory", "theta", "current", "inhibition", "learn")


# --------------------------------------------------------------------------------------------
# Golden model and stimulus (plain Python, shared with the Amaranth-simulator tests)


def golden_outputs(core: CoreConfig, tokens: Sequence[Token]) -> list[Token]:
    """The golden model's output token for every input token (each token is independent).

    ``lif_step`` on all tokens at once, then ``adapt_threshold`` where ``learn`` is set
    (threshold adaptation is part of learning; otherwise ``theta`` passes through).
    """
    if not tokens:
        return []
    num = IntegerArithmetic(core)
    col = {name: np.array([t[name] for t in tokens], dtype=np.int64) for name in INPUT_FIELDS}
    step = lif_step(num, col["v"], col["refractory"], col["theta"], col["current"],
                    col["inhibition"])
    assert step.refractory is not None  # an array goes in, so one comes back
    adapted = adapt_threshold(num, col["theta"], step.spike)
    theta = np.where(col["learn"] != 0, adapted, col["theta"])
    return [
        {"v": int(v), "refractory": int(r), "theta": int(th), "spike": int(bool(z))}
        for v, r, th, z in zip(step.v, step.refractory, theta, step.spike, strict=True)
    ]


def _token(v: int, refractory: int = 0, theta: int = 0, current: int = 0, inhibition: int = 0,
           learn: int = 0) -> Token:
    return {"v": v, "refractory": refractory, "theta": theta, "current": current,
            "inhibition": inhibition, "learn": learn}


def _limits(core: CoreConfig) -> tuple[int, int, int]:
    """Smallest and largest current and largest inhibition the core can present (the
    contract's input ranges, ``derived.current_min .. current_max``: negative with signed
    weights or a bias)."""
    d, n = core.derived, core.neuron
    return d.current_min, d.current_max, n.w_inh * (core.n_neurons - 1)


def landing_token(core: CoreConfig, target: int, theta: int, learn: int,
                  rng: random.Random | None = None) -> Token | None:
    """A non-refractory token whose integrated membrane is exactly ``target`` (no rail).

    Searches membrane values around ``target`` (and, with ``rng``, random ones) for one
    whose leaked value ``v_rest + leak(v - v_rest)`` (golden ``Arithmetic.leak``) is within
    reach of an in-range current and inhibition (inhibition first for a drop); ``None`` if no
    such token exists (e.g. a threshold the current can never reach).
    """
    d = core.derived
    current_min, current_max, inhibition_max = _limits(core)
    span = np.arange(0, 2048, dtype=np.int64)
    candidates = [target - span, target + span,
                  np.linspace(d.v_min, d.v_max, 512).astype(np.int64)]
    if rng is not None:
        candidates.insert(0, np.array([rng.randint(d.v_min, d.v_max) for _ in range(64)]))
    v = np.concatenate(candidates)
    v = v[(v >= d.v_min) & (v <= d.v_max)]
    rest = core.neuron.v_rest
    need = target - (rest + IntegerArithmetic(core).leak(v - rest))
    inhibition = np.minimum(np.maximum(-need, 0), inhibition_max)
    current = need + inhibition
    ok = (current <= current_max) & (current >= current_min)
    if not ok.any():
        return None
    pick = int(np.flatnonzero(ok)[0])
    return _token(int(v[pick]), 0, theta, int(current[pick]), int(inhibition[pick]), learn)


def directed_tokens(core: CoreConfig) -> list[tuple[str, Token]]:
    """Named corner cases: rails, exact threshold, refractory boundaries, theta edges, leak.

    Every case is in the contract's input ranges (``refractory <= t_ref``, ``current_min <=
    current <= current_max``, ``inhibition <= w_inh * (n_neurons - 1)``).
    """
    d, n = core.derived, core.neuron
    current_min, current_max, inhibition_max = _limits(core)
    theta_max, t_ref = d.theta_max, n.t_ref
    cases: list[tuple[str, Token]] = []

    def add(name: str, token: Token | None) -> None:
        if token is not None:
            cases.append((name, token))

    # saturation rails
    for theta, learn in ((0, 0), (0, 1), (theta_max, 1), (theta_max, 0)):
        add(f"v_max + max current, theta {theta}, learn {learn}",
            _token(d.v_max, 0, theta, current_max, 0, learn))
        add(f"v_min + max inhibition, theta {theta}, learn {learn}",
            _token(d.v_min, 0, theta, 0, inhibition_max, learn))
    add("v_max + max inhibition", _token(d.v_max, 0, 0, 0, inhibition_max))
    add("v_min + max current", _token(d.v_min, 0, 0, current_max, 0))
    add("max current and max inhibition at v_max",
        _token(d.v_max, 0, 0, current_max, inhibition_max))
    add("max current and max inhibition at v_min",
        _token(d.v_min, 0, 0, current_max, inhibition_max))
    add("v_max, no input", _token(d.v_max))
    add("v_min, no input", _token(d.v_min))
    add("v_max refractory 1, max current", _token(d.v_max, min(1, t_ref), 0, current_max))
    if current_min < 0:             # a negative current: the lower rail without inhibition
        add("v_min + min current", _token(d.v_min, 0, 0, current_min, 0))
        add("v_max + min current", _token(d.v_max, 0, 0, current_min, 0))
        add("v_min + min current and max inhibition",
            _token(d.v_min, 0, 0, current_min, inhibition_max))
        add("rest + min current", _token(n.v_rest, 0, 0, current_min, 0))
        add("v_min refractory 1, min current", _token(d.v_min, min(1, t_ref), 0, current_min))

    # exactly at the threshold v_th + theta, one below and one above
    for theta in sorted({0, 1, theta_max // 2, theta_max}):
        threshold = n.v_th + theta
        for learn in (0, 1):
            add(f"lands on threshold {threshold} (theta {theta}), learn {learn}",
                landing_token(core, threshold, theta, learn))
            add(f"lands one below threshold {threshold} (theta {theta}), learn {learn}",
                landing_token(core, threshold - 1, theta, learn))
        if threshold + 1 <= d.v_max:
            add(f"lands one above threshold {threshold} (theta {theta})",
                landing_token(core, threshold + 1, theta, 1))
    # subtract reset from the upper rail; integrated value at the lower rail (no spike)
    add("integrated at v_max, theta_max, learn", _token(d.v_max, 0, theta_max, current_max, 0, 1))
    add("lands on v_max", landing_token(core, d.v_max, 0, 0))
    add("lands on v_min", landing_token(core, d.v_min, 0, 0))

    # refractory boundaries, with an input that would fire
    fire = landing_token(core, n.v_th, 0, 1) or _token(d.v_max, 0, 0, current_max, 0, 1)
    for refractory in sorted({0, 1, max(t_ref - 1, 0), t_ref}):
        if refractory <= t_ref:
            add(f"refractory {refractory} (t_ref {t_ref}) with a firing input",
                {**fire, "refractory": refractory})
            add(f"refractory {refractory} at rest", _token(n.v_rest, refractory, 1, 0, 0, 1))

    # adaptive threshold: saturation with a spike, decay of one LSB, learning off
    for theta in sorted({theta_max, theta_max - 1, max(theta_max - n.theta_plus, 0)}):
        add(f"theta {theta} with a spike, learn", _token(d.v_max, 0, theta, current_max, 0, 1))
    for theta in (1, 2, 3):
        if theta <= theta_max:
            add(f"theta {theta}, no spike, learn (decay)", _token(n.v_rest, 0, theta, 0, 0, 1))
            add(f"theta {theta} with a spike, learn",
                _token(d.v_max, 0, theta, current_max, 0, 1))
    s = n.theta_decay_shift
    for theta in sorted({1 << min(s, 30), (1 << min(s, 30)) + 1, (1 << min(s, 30)) - 1}):
        if 0 < theta <= theta_max:
            add(f"theta {theta} = 2**{s} neighbourhood, learn", _token(n.v_rest, 0, theta, 0,
                                                                       0, 1))
    add("theta_max with a spike, learning off",
        _token(d.v_max, 0, theta_max, current_max, 0, 0))
    add("theta_max, no spike, learn (decay)", _token(n.v_rest, 0, theta_max, 0, 0, 1))

    # leak rounding on both sides of rest
    k = n.leak_shift if n.leak_mode == "shift" else n.decay_frac
    for distance in sorted({1, 2, 3, (1 << k) - 1, 1 << k, (1 << k) + 1, 7777}):
        for sign in (1, -1):
            v = n.v_rest + sign * distance
            if d.v_min <= v <= d.v_max:
                add(f"leak of distance {sign * distance}", _token(v))
    return cases


def random_tokens(core: CoreConfig, rng: random.Random, count: int) -> list[Token]:
    """``count`` random in-contract tokens, biased toward rails, threshold and edges."""
    d, n = core.derived, core.neuron
    current_min, current_max, inhibition_max = _limits(core)
    reach = max(1, min(current_max, 2 * (n.v_th - n.v_rest)))
    tokens: list[Token] = []
    while len(tokens) < count:
        theta = rng.choice([rng.randint(0, d.theta_max), d.theta_max, rng.randint(0, 3)])
        learn = rng.randint(0, 1)
        if rng.random() < 0.1:
            target = n.v_th + theta - rng.randint(0, 1)
            token = landing_token(core, min(target, d.v_max), theta, learn, rng)
            if token is not None:
                tokens.append(token)
                continue
        r = rng.random()
        if r < 0.6:
            v = rng.randint(d.v_min, d.v_max)
        elif r < 0.75:
            v = rng.choice([d.v_min, d.v_max, d.v_min + rng.randint(0, 3),
                            d.v_max - rng.randint(0, 3)])
        else:
            v = min(d.v_max, max(d.v_min, n.v_th + theta + rng.randint(-reach, reach)))
        refractory = 0 if rng.random() < 0.7 else rng.randint(0, n.t_ref)
        r = rng.random()
        if r < 0.5:
            current = rng.randint(current_min, current_max)
        elif r < 0.8:
            current = rng.randint(max(current_min, -reach), reach)
        else:
            current = rng.choice([0, current_max] + [current_min] * (current_min < 0))
        r = rng.random()
        if r < 0.5:
            inhibition = 0
        elif r < 0.8:
            inhibition = n.w_inh * rng.randint(0, core.n_neurons - 1)
        else:
            inhibition = rng.randint(0, inhibition_max)
        tokens.append(_token(v, refractory, theta, current, inhibition, learn))
    return tokens


# --------------------------------------------------------------------------------------------
# cocotb


class Testbench(PeTestbench):
    """Driver, backpressuring sink and golden scoreboard around ``LIFNeuronUnit(core)``.

    Members
    -------
    core : CoreConfig
        The configuration the design was generated from.
    """

    def __init__(self, dut: Any, core: CoreConfig, rng: random.Random, idle: float,
                 stall: float, name: str) -> None:
        self.core = core
        super().__init__(dut, lambda tokens: golden_outputs(core, tokens),
                         lif_input_layout(core), lif_output_layout(core),
                         LIFNeuronUnit(core).latency, rng, idle, stall, name)


@cocotb.test()
@cocotb.parametrize((("idle", "stall"), BACKPRESSURE))
async def lif_directed(dut: Any, idle: float, stall: float) -> None:
    """Every directed corner case, three times in a row, under backpressure."""
    core = core_from_env()
    tb = Testbench(dut, core, seeded_rng("directed", idle, stall), idle, stall, "lif directed")
    await tb.start()
    cases = directed_tokens(core)
    await tb.run(cases * 3)
    cocotb.log.info("%d directed cases checked", len(cases))


@cocotb.test()
@cocotb.parametrize((("idle", "stall"), BACKPRESSURE))
async def lif_random(dut: Any, idle: float, stall: float) -> None:
    """Long random in-contract sequence (``PLASTICORE_TOKENS``) under backpressure."""
    core = core_from_env()
    rng = seeded_rng("random", idle, stall)
    tb = Testbench(dut, core, rng, idle, stall, "lif random")
    await tb.start()
    tokens = random_tokens(core, random.Random(rng.random()), token_count(DEFAULT_TOKENS))
    await tb.run([(f"random #{i}", token) for i, token in enumerate(tokens)])


@cocotb.test()
async def lif_throughput(dut: Any) -> None:
    """No backpressure: one token per cycle, output ``k`` exactly ``latency + k`` cycles after
    the first input transfer; then a reset mid-stream empties the pipeline."""
    core = core_from_env()
    tb = Testbench(dut, core, seeded_rng("throughput"), 0.0, 0.0, "lif throughput")
    await tb.start()
    tokens = random_tokens(core, seeded_rng("throughput-tokens"), 64)
    await tb.run_back_to_back([("random", t) for t in tokens])
