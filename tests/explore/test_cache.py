"""The run cache never trusts a bad entry: it notes it, recomputes the run and replaces it."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plasticore.config import load_config
from plasticore.explore.cost import measure
from plasticore.explore.grid import Evaluator, Job, run_key
from plasticore.golden.datasets import load_dataset
from plasticore.golden.train import evaluate, train

COSTS = 2      # test samples of the cost model in every job here


def small():
    config = load_config("digits")
    data = dataclasses.replace(config.data, train_samples=30, test_samples=20)
    return dataclasses.replace(config, core=config.core.replace(timesteps=10), data=data)


@pytest.fixture(scope="module")
def golden() -> dict[int, dict[str, Any]]:
    """Seed -> accuracy, spikes and costs, from the golden model directly (no explorer)."""
    config = small()
    train_set, test_set = load_dataset("digits", None, 8)
    train_set, test_set = train_set.subset(0, 30), test_set.subset(0, 20)
    out = {}
    for seed in (0, 1):
        net, _, _ = train(config.core.replace(seed=seed), train_set)
        ev = evaluate(net, train_set, test_set)
        out[seed] = {"accuracy": ev.accuracy, "spikes_per_sample": ev.spikes_per_sample,
                     "costs": measure(net, train_set, test_set.subset(0, COSTS))}
    assert out[0] != out[1]             # so a swapped entry would show
    return out


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """Seed -> the bytes of a good cache entry."""
    config = small()
    cache = tmp_path_factory.mktemp("pristine") / "cache"
    Evaluator(config, cache).run([Job(config.core, s, costs=COSTS) for s in (0, 1)])
    return {s: (cache / f"{run_key(config, Job(config.core, s, costs=COSTS), 300)}.json")
            .read_bytes() for s in (0, 1)}


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path, bytes], None]:
    def corrupt(path: Path, _: bytes) -> None:
        entry = json.loads(path.read_text())
        change(entry["result"])
        path.write_text(json.dumps(entry, indent=1))
    return corrupt


def _write(data: bytes) -> Callable[[Path, bytes], None]:
    return lambda path, _: path.write_bytes(data)


def _directory(path: Path, _: bytes) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


CORRUPTIONS = {
    # kind: (how the entry is damaged, what the note must name)
    "missing field": (_edit(lambda r: r.pop("accuracy")), "field 'accuracy' missing"),
    "wrong type": (_edit(lambda r: r.update(accuracy="0.9")), "field 'accuracy'"),
    "out of range": (_edit(lambda r: r.update(accuracy=1.5)), "outside [0, 1]"),
    "negative count": (_edit(lambda r: r["costs"].update(samples=-1)),
                       "field 'costs.samples'"),
    "not finite": (_edit(lambda r: r.update(spikes_per_sample=float("inf"))),
                   "field 'spikes_per_sample'"),
    "missing cost": (_edit(lambda r: r["costs"].pop("cycles_inference")),
                     "field 'costs.cycles_inference' missing"),
    "edited value": (_edit(lambda r: r.update(accuracy=0.99)), "digest"),
    "wrong key": (lambda path, other: path.write_bytes(other), "another run's"),
    "garbage bytes": (_write(b"\x8f\xff\x00 garbage \xfe"), "UTF-8"),
    "empty file": (_write(b""), "empty"),
    "truncated": (lambda path, _: path.write_bytes(path.read_bytes()[:100]), "JSON"),
    "directory": (_directory, "directory"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_bad_entry_is_noted_recomputed_and_replaced(
        kind: str, tmp_path: Path, golden: dict[int, dict[str, Any]],
        pristine: dict[int, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    config = small()
    cache = tmp_path / "cache"
    cache.mkdir()
    jobs = [Job(config.core, s, costs=COSTS) for s in (0, 1)]
    paths = [cache / f"{run_key(config, j, 300)}.json" for j in jobs]
    for s, path in enumerate(paths):
        path.write_bytes(pristine[s])
    corrupt, fragment = CORRUPTIONS[kind]
    corrupt(paths[0], pristine[1])
    ev = Evaluator(config, cache)
    got = ev.run(jobs)
    err = capsys.readouterr().err
    # one line naming the entry and what is wrong with it
    assert err.count("\n") == 1, err
    match = re.fullmatch(rf"plasticore: note: cache entry {re.escape(str(paths[0]))} is "
                         r"invalid \((.+)\); recomputing\n", err)
    assert match is not None, err
    assert fragment in match.group(1)
    # seed 0 trained again (seed 1 read from its good entry), with the golden model's numbers
    assert ev.trained == 1
    for s in (0, 1):
        assert got[s]["seed"] == s
        assert got[s]["accuracy"] == golden[s]["accuracy"]
        assert got[s]["spikes_per_sample"] == golden[s]["spikes_per_sample"]
        assert got[s]["costs"] == golden[s]["costs"]
    # the entry was replaced by a good one, and nothing else is left in the folder
    assert sorted(cache.iterdir()) == sorted(paths)
    again = Evaluator(config, cache)
    assert again.run(jobs) == got and again.trained == 0
    assert capsys.readouterr().err == ""


def test_an_entry_cannot_stand_in_for_another_run(tmp_path: Path,
                                                   pristine: dict[int, bytes]) -> None:
    """The seed-1 entry at the seed-0 name, with its recorded key rewritten to match the
    name, is still refused: its recorded configuration is not the run's."""
    config = small()
    cache = tmp_path / "cache"
    cache.mkdir()
    job = Job(config.core, 0, costs=COSTS)
    key = run_key(config, job, 300)
    entry = json.loads(pristine[1])
    entry["key"] = entry["result"]["tag"] = key
    (cache / f"{key}.json").write_text(json.dumps(entry))
    notes: list[str] = []
    ev = Evaluator(config, cache, note=notes.append)
    assert ev.cached(job) is None
    assert len(notes) == 1 and "its recorded configuration is another run's" in notes[0]


def test_an_interrupted_write_leaves_the_old_entry(tmp_path: Path,
                                                   pristine: dict[int, bytes],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupt while the new entry is written leaves the old file whole and no
    temporary beside it."""
    import os

    config = small()
    cache = tmp_path / "cache"
    cache.mkdir()
    job = Job(config.core, 0, costs=COSTS)
    path = cache / f"{run_key(config, job, 300)}.json"
    path.write_bytes(b"old")

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    ev = Evaluator(config, cache, note=lambda _: None)
    with pytest.raises(KeyboardInterrupt):
        ev.run([job])
    assert list(cache.iterdir()) == [path] and path.read_bytes() == b"old"



def test_a_result_that_would_not_read_back_is_refused_when_stored(
        tmp_path: Path, pristine: dict[int, bytes]) -> None:
    """A trained result whose fields drifted from the cache schema (here: one field more)
    is an error when stored, not an entry recomputed on every later sweep."""
    from plasticore.explore.grid import CacheError

    config = small()
    job = Job(config.core, 0, costs=COSTS)
    result = json.loads(pristine[0])["result"]
    evaluator = Evaluator(config, tmp_path / "cache")
    with pytest.raises(CacheError, match="unexpected field 'new_metric'"):
        evaluator._store(job, {**result, "new_metric": 1.0})
    assert list((tmp_path / "cache").iterdir()) == []
    evaluator._store(job, result)                      # the same without it is stored
    assert evaluator.cached(job) == result
