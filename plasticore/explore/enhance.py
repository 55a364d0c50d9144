"""Timestep reduction with parameter enhancement: a search for the parameters that recover
accuracy at fewer timesteps (TopSpark's method, automated).

Procedure (``docs/explore.md``), for a reduced timestep count ``T``:

1. **Start** from :func:`plasticore.topspark.reduce_timesteps` (the fixed rule: higher input
   rate, shorter time constants, scaled membrane units), or from the winner at the next
   larger timestep count with only its timesteps cut (a warm start, scored beside the
   rule's point; the better of the two is where the moves begin).
2. **Coordinate moves.**  Every knob of :data:`KNOBS` (threshold, leak, refractory period,
   input rate, STDP rates, adaptive-threshold step, inhibition, trace time constants) moved
   one step down and one step up from the current point gives up to 20 neighbours; all are
   trained (in parallel) and scored on the validation split (:mod:`.runs`: the last
   training samples, never the test set) with the search seeds.
3. **Greedy combination.**  The moves that beat the current point, best first, are applied
   cumulatively (best move, best two, ... up to ``combine``) and each combination scored.
   The best point seen becomes the current one; steps 2-3 repeat for up to ``rounds``
   rounds (fewer when a round improves nothing).
4. **Confirmation.**  The ``finalists`` best distinct points (always including the start)
   are scored on ``confirm_seeds`` more seeds; the one with the best mean validation accuracy
   over all its seeds wins.  With one search seed a move can win by noise; the confirmation
   on fresh seeds is what keeps that noise out of the choice.

Only parameters of the configuration move, so every point is one the golden model and the
RTL both implement.  Invalid combinations (a threshold that does not fit the membrane, ...)
are skipped.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, CoreConfig
from ..topspark import reduce_timesteps
from .grid import Evaluator, Job

__all__ = ["Knob", "KNOBS", "move", "SearchResult", "search", "describe"]


@dataclass(frozen=True)
class Knob:
    """A searchable parameter (or a set moved together).

    Members
    -------
    name : str
    fields : tuple of str
        Dotted configuration keys moved together.
    kind : "add" or "scale"
        ``add``: integer step ``step``; ``scale``: multiplied by ``step`` (up) or divided
        (down), rounded, and moved by at least one unit.
    step : float
    lo, hi : float
        Bounds of the (first) field; a move outside them is skipped.
    """

    name: str
    fields: tuple[str, ...]
    kind: str
    step: float
    lo: float = 0
    hi: float = float("inf")


#: What the search moves.  Threshold moves v_th and v_reset together (same ratio).
KNOBS: tuple[Knob, ...] = (
    Knob("threshold", ("neuron.v_th", "neuron.v_reset"), "scale", 1.25, 1),
    Knob("leak_shift", ("neuron.leak_shift",), "add", 1, 1, 16),
    Knob("t_ref", ("neuron.t_ref",), "add", 1, 0, 255),
    Knob("max_rate", ("encoder.max_rate",), "scale", 1.25, 0.01, 1.0),
    Knob("eta_post", ("stdp.eta_post",), "scale", 2.0, 1, 65535),
    Knob("eta_pre", ("stdp.eta_pre",), "scale", 2.0, 1, 65535),
    Knob("theta_plus", ("neuron.theta_plus",), "scale", 2.0, 0),
    Knob("w_inh", ("neuron.w_inh",), "scale", 1.4, 0),
    Knob("tau_pre_shift", ("stdp.tau_pre_shift",), "add", 1, 1, 16),
    Knob("tau_post_shift", ("stdp.tau_post_shift",), "add", 1, 1, 16),
)


def _get(core: CoreConfig, dotted: str) -> Any:
    table, _, name = dotted.partition(".")
    return getattr(getattr(core, table), name)


def move(core: CoreConfig, knob: Knob, direction: int) -> CoreConfig | None:
    """``core`` with ``knob`` moved one step (``direction`` -1 or +1); ``None`` when the move
    leaves the knob's bounds, changes nothing, or makes an invalid configuration."""
    changes: dict[str, Any] = {}
    for k, dotted in enumerate(knob.fields):
        value = _get(core, dotted)
        if knob.kind == "add":
            new: Any = value + direction * int(knob.step)
        elif isinstance(value, float):
            new = value * knob.step if direction > 0 else value / knob.step
            new = min(new, knob.hi)
        else:
            new = int(round(value * knob.step if direction > 0 else value / knob.step))
            if new == value:
                new = value + direction
        if k == 0 and (not knob.lo <= new <= knob.hi or new == value):
            return None
        changes[dotted] = new
    try:
        return core.replace(**changes)
    except ConfigError:
        return None


def describe(start: CoreConfig, core: CoreConfig) -> dict[str, Any]:
    """The searched fields that differ between ``start`` and ``core`` (``{key: [old, new]}``)."""
    out = {}
    for knob in KNOBS:
        for dotted in knob.fields:
            a, b = _get(start, dotted), _get(core, dotted)
            if a != b:
                out[dotted] = [a, b]
    return out


@dataclass
class SearchResult:
    """What :func:`search` found for one timestep count.

    Members
    -------
    timesteps : int
    start : CoreConfig
        The fixed rule's point (:func:`reduce_timesteps`).
    best : CoreConfig
        The winner after confirmation.
    start_score, best_score : float
        Mean validation accuracy over all seeds each was scored on.
    log : list of dict
        Every point scored: ``round``, ``stage``, ``changes`` (from the start), ``seeds``,
        ``accuracy`` (mean validation accuracy).
    runs : int
        Training runs the search asked for (cached ones included).
    """

    timesteps: int
    start: CoreConfig
    best: CoreConfig
    start_score: float
    best_score: float
    log: list[dict[str, Any]] = field(default_factory=list)
    runs: int = 0


def search(base: CoreConfig, timesteps: int, evaluator: Evaluator,
           seeds: Sequence[int] = (0,), confirm_seeds: Sequence[int] = (1, 2),
           rounds: int = 1, combine: int = 3, finalists: int = 2,
           knobs: Sequence[Knob] = KNOBS,
           start: Callable[[CoreConfig, int], CoreConfig] = reduce_timesteps,
           warm: Sequence[CoreConfig] = ()) -> SearchResult:
    """Search the parameters of ``base`` reduced to ``timesteps`` (module docstring).

    ``warm``: more starting candidates (the sweep passes the winner at the next larger
    timestep count, cut to ``timesteps``); the best-scoring start is the first current point.
    """
    x0 = start(base, timesteps)
    scores: dict[str, tuple[CoreConfig, list[float]]] = {}
    log: list[dict[str, Any]] = []
    runs = 0

    def score(points: list[CoreConfig], seed_list: Sequence[int], stage: str,
              rnd: int) -> list[float]:
        nonlocal runs
        jobs = [Job(p, s, "validation") for p in points for s in seed_list]
        runs += len(jobs)
        results = evaluator.run(jobs, what=f"search T={timesteps} {stage}")
        out = []
        for n, p in enumerate(points):
            accs = [results[n * len(seed_list) + k]["accuracy"]
                    for k in range(len(seed_list))]
            key = p.to_json()
            entry = scores.setdefault(key, (p, []))
            entry[1].extend(accs)
            mean = statistics.fmean(entry[1])
            out.append(statistics.fmean(accs))
            log.append({"round": rnd, "stage": stage, "changes": describe(x0, p),
                        "seeds": len(entry[1]), "accuracy": mean})
        return out

    starts = [x0] + [w for w in warm if w.to_json() != x0.to_json()]
    got = score(starts, seeds, "start", 0)
    k = max(range(len(starts)), key=lambda n: got[n])
    current, current_score = starts[k], got[k]
    for rnd in range(1, rounds + 1):
        neighbours: list[tuple[Knob, int, CoreConfig]] = []
        for knob in knobs:
            for d in (-1, 1):
                p = move(current, knob, d)
                if p is not None and p.to_json() not in scores:
                    neighbours.append((knob, d, p))
        got = score([p for _, _, p in neighbours], seeds, "moves", rnd)
        gains = sorted(((g, k, d) for (k, d, _), g in zip(neighbours, got, strict=True)
                        if g > current_score), key=lambda t: -t[0])
        # greedy combination of the improving moves, best first (one move per knob)
        combos: list[CoreConfig] = []
        point: CoreConfig | None = current
        used: set[str] = set()
        for _, knob, d in gains:
            if len(combos) >= combine or point is None:
                break
            if knob.name in used:
                continue
            used.add(knob.name)
            point = move(point, knob, d)
            if point is not None and len(used) > 1 and point.to_json() not in scores:
                combos.append(point)
        if combos:
            score(combos, seeds, "combine", rnd)
        best_key = max((k for k in scores if len(scores[k][1]) >= len(seeds)),
                       key=lambda k: statistics.fmean(scores[k][1]))
        if scores[best_key][0] == current:
            break                       # no move or combination beat the current point
        current = scores[best_key][0]
        current_score = statistics.fmean(scores[best_key][1])
    # confirmation on more seeds: the best distinct points plus the start
    ranked = sorted(scores, key=lambda k: -statistics.fmean(scores[k][1]))
    pool = [scores[k][0] for k in ranked[:finalists]]
    if x0.to_json() not in {p.to_json() for p in pool}:
        pool.append(x0)
    if confirm_seeds:
        score(pool, confirm_seeds, "confirm", rounds + 1)
    final = {p.to_json(): statistics.fmean(scores[p.to_json()][1]) for p in pool}
    best_key = max(final, key=lambda k: final[k])
    return SearchResult(timesteps, x0, scores[best_key][0], final[x0.to_json()],
                        final[best_key], log, runs)
