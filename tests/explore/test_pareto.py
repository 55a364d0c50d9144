"""Constraints, Pareto fronts and the choice, on hand-made points."""

from __future__ import annotations

import pytest

from plasticore.explore.pareto import (
    Constraint,
    ConstraintError,
    choose,
    dominates,
    pareto_front,
    parse_constraints,
)


def P(label: str, acc: float, lat: float, mem: float = 1, energy: float = 1) -> dict:
    return {"label": label, "accuracy": acc, "latency_us": lat, "memory_bits": mem,
            "energy_nj": energy, "accuracy_drop": 0.87 - acc}


def test_parse_constraints() -> None:
    cs = parse_constraints("accuracy_drop<=0.02, latency_us < 300,accuracy>=0.8")
    assert cs == [Constraint("accuracy_drop", "<=", 0.02), Constraint("latency_us", "<", 300),
                  Constraint("accuracy", ">=", 0.8)]
    assert parse_constraints("") == []


@pytest.mark.parametrize("text, fragment", [
    ("speed<=3", "unknown metric 'speed'"),
    ("accuracy=0.8", "expected METRIC<=NUMBER"),
    ("accuracy<=abc", "expected METRIC<=NUMBER"),
    ("latency_us<=1e999", "finite"),
])
def test_bad_constraints(text: str, fragment: str) -> None:
    with pytest.raises(ConstraintError, match=fragment):
        parse_constraints(text)


def test_front_by_hand() -> None:
    a, b, c, d = P("a", 0.90, 500), P("b", 0.85, 100), P("c", 0.84, 200), P("d", 0.70, 50)
    # c is dominated by b (less accurate and slower); a, b, d trade off
    assert dominates(b, c, ("accuracy", "latency_us"))
    assert not dominates(a, b, ("accuracy", "latency_us"))
    assert [p["label"] for p in pareto_front([a, b, c, d], ("accuracy", "latency_us"))] == \
        ["a", "b", "d"]
    # equal points do not dominate each other: both stay
    e = P("e", 0.85, 100)
    assert [p["label"] for p in pareto_front([b, e], ("accuracy", "latency_us"))] == ["b", "e"]


def test_choose_under_constraints() -> None:
    pts = [P("base", 0.87, 500, 100, 50), P("fast", 0.86, 100, 100, 10),
           P("tiny", 0.80, 50, 20, 2), P("mid", 0.855, 120, 50, 12)]
    # within 2 points: base, fast, mid; lowest energy among their front: fast
    chosen = choose(pts, parse_constraints("accuracy_drop<=0.02"))
    assert chosen is not None and chosen["label"] == "fast"
    chosen = choose(pts, parse_constraints("accuracy_drop<=0.02"), minimize="memory_bits")
    assert chosen is not None and chosen["label"] == "mid"
    assert choose(pts, parse_constraints("accuracy>=0.95")) is None
    chosen = choose(pts, [])
    assert chosen is not None and chosen["label"] == "tiny"
