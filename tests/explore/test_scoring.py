"""Scoring runs of a network trained elsewhere (``plasticore/explore/scoring.py``): forward
engines costed from one set of spikes, and the cache refusing entries whose engine costs are
missing or edited."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from plasticore.config import load_config
from plasticore.explore.scoring import Scoring, ScoringEvaluator, arrays_json, score_run


def small_run(engines: tuple[str, ...]) -> tuple[object, Scoring]:
    """digits-mlp-rate on 60 training and 10 test samples with random weights."""
    config = load_config("digits-mlp-rate")
    config = dataclasses.replace(config, data=dataclasses.replace(
        config.data, train_samples=60, test_samples=10))
    rng = np.random.default_rng(5)
    weights = [rng.integers(-40, 80, (64, 100)), rng.integers(-60, 100, (100, 10))]
    theta = [np.zeros(100, np.int64), np.zeros(10, np.int64)]
    bias = [np.zeros(100, np.int64), np.zeros(10, np.int64)]
    return config, Scoring(config.to_toml(), arrays_json(weights, theta, bias), 0, "test",
                           costs=3, engines=engines)


def test_engines_are_costed_on_the_same_spikes() -> None:
    """The variants' counts: the same input spikes per layer, and rows read per layer at most
    the spiking inputs (a group with a spike holds at least one); with no engines the
    run's own counts are the same."""
    _, run = small_run(("lut2", "lut6"))
    result = score_run("", run)
    own, variants = result["costs"], result["costs"]["variants"]
    assert len(variants) == 2
    for variant in variants:
        assert variant["input_spikes"] == own["input_spikes"]
        assert all(r <= s for r, s in zip(variant["rows_read"], variant["input_spikes"],
                                          strict=True))
    assert own["rows_read"] == own["input_spikes"]
    assert variants[1]["rows_read"][0] < own["rows_read"][0]     # groups of 6 on 64 inputs
    plain = score_run("", dataclasses.replace(run, engines=()))
    assert plain["costs"] == {k: v for k, v in own.items() if k != "variants"}
    assert plain["accuracy"] == result["accuracy"]


def test_the_cache_refuses_edited_engine_costs(tmp_path: Path) -> None:
    config, run = small_run(("lut4",))
    notes: list[str] = []
    evaluator = ScoringEvaluator(config, tmp_path, note=notes.append)
    first = evaluator.run([run])[0]
    keyed = dataclasses.replace(run, tag=first["tag"])
    assert evaluator.cached(keyed) == first
    path = next(tmp_path.glob("*.json"))
    entry = json.loads(path.read_text())
    for edit, message in (
            (lambda c: c.pop("variants"), "field 'costs.variants' missing"),
            (lambda c: c["variants"].append(c["variants"][0]), "expected a list of 1"),
            (lambda c: c["variants"][0].pop("rows_read"),
             "field 'costs.variants[0].rows_read' missing")):
        edited = json.loads(json.dumps(entry))
        edit(edited["result"]["costs"])
        path.write_text(json.dumps(edited))
        fresh = ScoringEvaluator(config, tmp_path, note=notes.append)
        assert fresh.cached(keyed) is None
        assert message in notes[-1], notes[-1]
    # another engine list is another run: its own cache file
    other = dataclasses.replace(run, engines=("lut2",))
    assert ScoringEvaluator(config, tmp_path).cached(other) is None
