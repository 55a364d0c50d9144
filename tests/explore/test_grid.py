"""Runs, the disk cache and resuming."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from plasticore.config import load_config
from plasticore.explore.grid import Evaluator, Job, run_key
from plasticore.golden.datasets import load_dataset
from plasticore.golden.train import evaluate, train


def small():
    config = load_config("digits")
    data = dataclasses.replace(config.data, train_samples=30, test_samples=20)
    return dataclasses.replace(config, core=config.core.replace(timesteps=10), data=data)


def test_results_match_the_golden_model_and_are_cached(tmp_path: Path) -> None:
    config = small()
    ev = Evaluator(config, tmp_path / "cache", workers=1)
    jobs = [Job(config.core, 0), Job(config.core, 1)]
    first = ev.run(jobs)
    assert ev.trained == 2
    # the same numbers as training directly with the golden model
    train_set, test_set = load_dataset("digits", None, 8)
    train_set, test_set = train_set.subset(0, 30), test_set.subset(0, 20)
    net, _, _ = train(config.core.replace(seed=1), train_set)
    assert first[1]["accuracy"] == evaluate(net, train_set, test_set).accuracy
    # a second evaluator on the same folder trains nothing
    again = Evaluator(config, tmp_path / "cache", workers=1)
    assert again.run(jobs) == first and again.trained == 0
    # one file per run, holding the run's full configuration
    files = sorted((tmp_path / "cache").glob("*.json"))
    assert len(files) == 2
    stored = json.loads(files[0].read_text())
    assert "timesteps = 10" in stored["config"] and "[data]" in stored["config"]
    # resume: a lost result is trained again, the other is not
    (tmp_path / "cache" / f"{run_key(config, jobs[0], 300)}.json").unlink()
    resumed = Evaluator(config, tmp_path / "cache", workers=1)
    redone = resumed.run(jobs)
    assert resumed.trained == 1 and redone[1] == first[1]
    assert redone[0]["accuracy"] == first[0]["accuracy"]      # retrained: same result


def test_key_depends_on_config_seed_and_split() -> None:
    config = small()
    k = run_key(config, Job(config.core, 0), 300)
    assert k != run_key(config, Job(config.core, 1), 300)
    assert k != run_key(config, Job(config.core.replace(**{"neuron.v_th": 3000}), 0), 300)
    assert k != run_key(config, Job(config.core, 0, "validation"), 300)
    other = dataclasses.replace(config, data=dataclasses.replace(config.data, test_samples=10))
    assert k != run_key(other, Job(config.core, 0), 300)


def test_validation_split_never_scores_on_test(tmp_path: Path) -> None:
    config = small()
    ev = Evaluator(config, None, workers=1, validation=10)
    r = ev.run([Job(config.core, 0, "validation")])[0]
    # by hand: train on all 30, label on the first 20, score on the last 10
    train_set, _ = load_dataset("digits", None, 8)
    train_set = train_set.subset(0, 30)
    net, _, _ = train(config.core, train_set)
    assert r["accuracy"] == evaluate(net, train_set.subset(0, 20),
                                     train_set.subset(20)).accuracy
    with pytest.raises(ValueError, match="validation = 40"):
        Evaluator(config, None, validation=40).run([Job(config.core, 0, "validation")])
