# amaranth: UnusedElaboratable=no
"""cocotb testbench of ``LIFNeuronUnit`` (``hdl/lif.py``) against the golden neuron.

Runs inside the simulator (``run_cocotb(test_module="spikeforge.sim.tb_lif")``) on the
Verilog of ``LIFNeuronUnit`` with top module :data:`TOPLEVEL`.  Every output token is
compared with ``spikeforge.golden.neuron.lif_step`` followed by ``adapt_threshold`` (where
the token's ``learn`` is set), both with ``IntegerArithmetic``; see :func:`golden_outputs`.

The stimulus helpers (:func:`directed_tokens`, :func:`random_tokens`,
:func:`golden_outputs`) are plain Python, also used by the Amaranth-simulator tests in
``tests/hdl/test_lif.py``, so both tiers check the same cases.

Environment
-----------
``SPIKEFORGE_CORE``
    The :class:`~spikeforge.config.CoreConfig` as JSON (``CoreConfig.to_json()``).
``SPIKEFORGE_TOKENS``
    Random tokens per random test and backpressure setting (default 300).
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge

from ..config import CoreConfig
from ..golden.arith import IntegerArithmetic
from ..golden.neuron import adapt_threshold, lif_step
from ..hdl.lif import LIFNeuronUnit, lif_input_layout, lif_output_layout
from .streams import Scoreboard, StreamDriver, StreamSink, reset, start_clock

__all__ = [
    "TOPLEVEL",
    "ENV_CORE",
    "ENV_TOKENS",
    "BACKPRESSURE",
    "Token",
    "golden_outputs",
    "landing_token",
    "directed_tokens",
    "random_tokens",
    "Testbench",
]

TOPLEVEL = "lif_neuron_unit"
"""Top module name of the generated Verilog."""
ENV_CORE = "SPIKEFORGE_CORE"
ENV_TOKENS = "SPIKEFORGE_TOKENS"
DEFAULT_TOKENS = 300
CLOCK_NS = 10

BACKPRESSURE: list[tuple[float, float]] = [(0.1, 0.2), (0.5, 0.7)]
"""``(idle, stall)`` settings every stream test runs with: light and heavy backpressure."""

Token = dict[str, int]
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


def _limits(core: CoreConfig) -> tuple[int, int]:
    """Largest current and inhibition the core can present (the contract's input ranges)."""
    n = core.neuron
    return core.derived.w_max * core.n_inputs, n.w_inh * (core.n_neurons - 1)


def landing_token(core: CoreConfig, target: int, theta: int, learn: int,
                  rng: random.Random | None = None) -> Token | None:
    """A non-refractory token whose integrated membrane is exactly ``target`` (no rail).

    Searches membrane values around ``target`` (and, with ``rng``, random ones) for one
    whose leaked value ``v_rest + leak(v - v_rest)`` (golden ``Arithmetic.leak``) is within
    reach of an in-range current or inhibition; ``None`` if no such token exists (e.g. a
    threshold the current can never reach).
    """
    d = core.derived
    current_max, inhibition_max = _limits(core)
    span = np.arange(0, 2048, dtype=np.int64)
    candidates = [target - span, target + span,
                  np.linspace(d.v_min, d.v_max, 512).astype(np.int64)]
    if rng is not None:
        candidates.insert(0, np.array([rng.randint(d.v_min, d.v_max) for _ in range(64)]))
    v = np.concatenate(candidates)
    v = v[(v >= d.v_min) & (v <= d.v_max)]
    rest = core.neuron.v_rest
    need = target - (rest + IntegerArithmetic(core).leak(v - rest))
    ok = (need <= current_max) & (need >= -inhibition_max)
    if not ok.any():
        return None
    pick = int(np.flatnonzero(ok)[0])
    n_pick = int(need[pick])
    return _token(int(v[pick]), 0, theta, max(n_pick, 0), max(-n_pick, 0), learn)


def directed_tokens(core: CoreConfig) -> list[tuple[str, Token]]:
    """Named corner cases: rails, exact threshold, refractory boundaries, theta edges, leak.

    Every case is in the contract's input ranges (``refractory <= t_ref``, ``current <=
    w_max * n_inputs``, ``inhibition <= w_inh * (n_neurons - 1)``).
    """
    d, n = core.derived, core.neuron
    current_max, inhibition_max = _limits(core)
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
    current_max, inhibition_max = _limits(core)
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
            current = rng.randint(0, current_max)
        elif r < 0.8:
            current = rng.randint(0, reach)
        else:
            current = rng.choice([0, current_max])
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


class Testbench:
    """Driver, backpressuring sink and golden scoreboard around ``LIFNeuronUnit``.

    Members
    -------
    core : CoreConfig
        The configuration the design was generated from.
    driver : StreamDriver
        Drives ``i``, idling before a token with probability ``idle``.
    sink : StreamSink
        Reads ``o``, dropping ``ready`` with probability ``stall``.
    scoreboard : Scoreboard
        Golden outputs in order; the first mismatch names the input token.
    labels : list of str
        Name of every token sent (directed case or ``random #n``), for the first mismatch.
    arrivals_ns : list of float
        Simulation time (ns) at which each output was accepted.
    """

    def __init__(self, dut: Any, core: CoreConfig, rng: random.Random, idle: float,
                 stall: float, name: str) -> None:
        self.dut = dut
        self.core = core
        self.latency = LIFNeuronUnit(core).latency
        self.driver = StreamDriver(dut, "i", lif_input_layout(core), rng, idle)
        self.sink = StreamSink(dut, "o", lif_output_layout(core), rng, self._on_token, stall)
        self.scoreboard = Scoreboard(name)
        self.labels: list[str] = []
        self.arrivals_ns: list[float] = []

    async def start(self) -> None:
        """Start the clock, reset the unit, then start the sink."""
        await start_clock(self.dut, CLOCK_NS)
        await reset(self.dut)
        self.sink.start()

    async def reset(self) -> None:
        """Synchronous reset (empties the pipeline)."""
        await reset(self.dut)

    def _on_token(self, got: dict[str, int]) -> None:
        index = self.scoreboard.checked
        errors = self.scoreboard.errors
        self.arrivals_ns.append(get_sim_time("ns"))
        self.scoreboard.check(got)
        if errors == 0 and self.scoreboard.errors and index < len(self.labels):
            # name the case in the failure message too (Scoreboard.first_error)
            self.scoreboard.first_error = f"{self.scoreboard.first_error} [{self.labels[index]}]"
            cocotb.log.error("first mismatch is token %d: %s", index, self.labels[index])

    def expect(self, labelled: Sequence[tuple[str, Token]]) -> list[Token]:
        """Queue the golden outputs of ``labelled`` tokens; return the bare tokens."""
        tokens = [token for _, token in labelled]
        for (label, token), want in zip(labelled, golden_outputs(self.core, tokens),
                                        strict=True):
            self.labels.append(label)
            self.scoreboard.expect(want, token)
        return tokens

    async def run(self, labelled: Sequence[tuple[str, Token]]) -> None:
        """Send ``labelled`` tokens, wait for every output, fail on any mismatch."""
        tokens = self.expect(labelled)
        await self.driver.send(tokens)
        await self.scoreboard.drained(self.dut, timeout_cycles=100 * (len(tokens) + 10))
        self.scoreboard.assert_done()


def _core() -> CoreConfig:
    assert ENV_CORE in os.environ, f"pass {ENV_CORE} (CoreConfig.to_json()) in extra_env"
    return CoreConfig.from_json(os.environ[ENV_CORE])


def _rng(test: str, *params: object) -> random.Random:
    return random.Random("-".join(map(str, (cocotb.RANDOM_SEED, test, *params))))


@cocotb.test()
@cocotb.parametrize((("idle", "stall"), BACKPRESSURE))
async def lif_directed(dut: Any, idle: float, stall: float) -> None:
    """Every directed corner case, three times in a row, under backpressure."""
    core = _core()
    tb = Testbench(dut, core, _rng("directed", idle, stall), idle, stall, "lif directed")
    await tb.start()
    cases = directed_tokens(core)
    await tb.run(cases * 3)
    cocotb.log.info("%d directed cases checked", len(cases))


@cocotb.test()
@cocotb.parametrize((("idle", "stall"), BACKPRESSURE))
async def lif_random(dut: Any, idle: float, stall: float) -> None:
    """Long random in-contract sequence (``SPIKEFORGE_TOKENS``) under backpressure."""
    core = _core()
    count = int(os.environ.get(ENV_TOKENS, DEFAULT_TOKENS))
    rng = _rng("random", idle, stall)
    tb = Testbench(dut, core, rng, idle, stall, "lif random")
    await tb.start()
    tokens = random_tokens(core, random.Random(rng.random()), count)
    await tb.run([(f"random #{i}", token) for i, token in enumerate(tokens)])


@cocotb.test()
async def lif_throughput(dut: Any) -> None:
    """No backpressure: one token per cycle, output ``k`` exactly ``latency + k`` cycles after
    the first input transfer; then a reset mid-stream empties the pipeline."""
    core = _core()
    tb = Testbench(dut, core, _rng("throughput"), 0.0, 0.0, "lif throughput")
    await tb.start()
    tokens = [("random", t) for t in random_tokens(core, _rng("throughput-tokens"), 64)]
    tb.expect(tokens)
    dut.i__valid.value = 1
    start_ns = 0.0
    for k, (_, token) in enumerate(tokens):
        dut.i__payload.value = tb.driver.layout.const(token).as_bits()
        await ReadOnly()
        assert int(dut.i__ready.value) == 1, f"i.ready low at token {k} without backpressure"
        if k == 0:
            start_ns = get_sim_time("ns")
        await RisingEdge(dut.clk)
    dut.i__valid.value = 0
    await tb.scoreboard.drained(dut, timeout_cycles=len(tokens) + 10)
    tb.scoreboard.assert_done()
    cycles = [round((t - start_ns) / CLOCK_NS) for t in tb.arrivals_ns]
    assert cycles == [tb.latency + k for k in range(len(tokens))], (
        f"outputs arrived at cycles {cycles[:8]}..., expected latency {tb.latency} and one "
        "token per cycle")

    # a reset with tokens in flight: nothing comes out afterwards
    for _, token in tokens[:2]:
        dut.i__valid.value = 1
        dut.i__payload.value = tb.driver.layout.const(token).as_bits()
        await RisingEdge(dut.clk)
    dut.i__valid.value = 0
    await tb.reset()
    for _ in range(tb.latency + 2):
        await ReadOnly()
        assert int(dut.o__valid.value) == 0, "o.valid set after a reset emptied the pipeline"
        await RisingEdge(dut.clk)
    assert tb.scoreboard.errors == 0
