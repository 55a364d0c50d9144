"""The parameter search, on a made-up accuracy surface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plasticore.config import load_config
from plasticore.explore.enhance import KNOBS, describe, move, search
from plasticore.explore.grid import Evaluator, Job
from plasticore.topspark import reduce_timesteps


def knob(name: str):
    return next(k for k in KNOBS if k.name == name)


def test_moves_by_hand() -> None:
    core = reduce_timesteps(load_config("digits").core, 50)   # v_th 1857, leak_shift 4
    up = move(core, knob("threshold"), 1)
    assert up is not None
    assert (up.neuron.v_th, up.neuron.v_reset) == (2321, 892)      # x 1.25
    down = move(core, knob("leak_shift"), -1)
    assert down is not None and down.neuron.leak_shift == 3
    # max_rate is 1.0 already: up is no move
    assert move(core, knob("max_rate"), 1) is None
    rate = move(core, knob("max_rate"), -1)
    assert rate is not None and rate.encoder.max_rate == 0.8
    # t_ref 1 -> 0 -> none below
    t0 = move(core, knob("t_ref"), -1)
    assert t0 is not None and move(t0, knob("t_ref"), -1) is None
    assert describe(core, down) == {"neuron.leak_shift": [4, 3]}


class Surface(Evaluator):
    """Accuracy peaks at leak_shift 2 and theta_plus 14; seeds add a small offset."""

    def __init__(self) -> None:
        super().__init__(load_config("digits"), None)
        self.jobs: list[Job] = []

    def run(self, jobs: Sequence[Job], what: str = "") -> list[dict[str, Any]]:
        self.jobs += jobs
        out = []
        for j in jobs:
            n = j.core.neuron
            acc = 0.9 - 0.05 * abs(n.leak_shift - 2) - 0.001 * abs(n.theta_plus - 14)
            out.append({"accuracy": acc + 0.001 * j.seed, "seed": j.seed})
        return out


def test_search_climbs_and_never_touches_the_test_set() -> None:
    ev = Surface()
    base = load_config("digits").core
    r = search(base, 50, ev, rounds=2)
    assert r.start == reduce_timesteps(base, 50)
    # two rounds of single steps: leak_shift 4 -> 3 -> 2, theta_plus 7 -> 14
    assert r.best.neuron.leak_shift == 2 and r.best.neuron.theta_plus == 14
    assert r.best_score > r.start_score
    assert all(j.split == "validation" for j in ev.jobs)
    # the finalists were confirmed on seeds 1 and 2
    assert {j.seed for j in ev.jobs} == {0, 1, 2}
