"""Constraints, Pareto fronts and the choice of a design point.

A point is a dict of metrics (:data:`METRICS`).  A constraint is ``METRIC OP NUMBER`` with
``OP`` one of ``<=``, ``>=``, ``<``, ``>``; several are separated by commas
(``accuracy_drop<=0.02,latency_us<=300``).  Accuracies and drops are fractions (0.02 = 2
percentage points).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["METRICS", "SYNTH_METRICS", "Constraint", "ConstraintError", "parse_constraints",
           "dominates", "pareto_front", "choose"]

#: Metric name -> True when larger is better.
METRICS: dict[str, bool] = {
    "accuracy": True,
    "accuracy_drop": False,
    "timesteps": False,
    "weight_width": False,
    "cycles": False,
    "latency_us": False,
    "memory_bits": False,
    "weight_memory_bits": False,
    "state_memory_bits": False,
    "energy_nj": False,
    "energy_train_nj": False,
    "spikes_per_sample": False,
    "lut": False,
    "bram36": False,
    "dsp": False,
}

#: Metrics only a synthesized point has (``--synth``): its LUTs, 36 kbit block RAMs, DSPs.
SYNTH_METRICS = ("lut", "bram36", "dsp")

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


class ConstraintError(ValueError):
    """A constraint string that cannot be parsed; the message names it."""


@dataclass(frozen=True)
class Constraint:
    """``metric op value``."""

    metric: str
    op: str
    value: float

    def holds(self, point: dict[str, Any]) -> bool:
        value = point.get(self.metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return _OPS[self.op](float(value), self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


_PATTERN = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def parse_constraints(text: str) -> list[Constraint]:
    """Parse ``"accuracy_drop<=0.02,latency_us<=300"`` (empty text: no constraint)."""
    out = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = _PATTERN.match(part)
        if not m:
            raise ConstraintError(f"constraint {part.strip()!r}: expected METRIC<=NUMBER "
                                  "(or >=, <, >), e.g. accuracy_drop<=0.02")
        metric, op, number = m.groups()
        if metric not in METRICS:
            raise ConstraintError(f"constraint {part.strip()!r}: unknown metric {metric!r} "
                                  f"(known: {', '.join(METRICS)})")
        try:
            value = float(number)
        except ValueError:
            raise ConstraintError(f"constraint {part.strip()!r}: {number!r} is not a "
                                  "number") from None
        if not math.isfinite(value):
            raise ConstraintError(f"constraint {part.strip()!r}: the bound must be finite")
        out.append(Constraint(metric, op, value))
    return out


def dominates(a: dict[str, Any], b: dict[str, Any], objectives: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` in every objective and better in one."""
    better = False
    for key in objectives:
        x, y = float(a[key]), float(b[key])
        if not METRICS[key]:
            x, y = -x, -y
        if x < y:
            return False
        if x > y:
            better = True
    return better


def pareto_front(points: Sequence[dict[str, Any]],
                 objectives: Sequence[str]) -> list[dict[str, Any]]:
    """The points no other point dominates, in input order."""
    return [p for p in points
            if not any(dominates(q, p, objectives) for q in points if q is not p)]


def choose(points: Sequence[dict[str, Any]], constraints: Sequence[Constraint],
           objectives: Sequence[str] = ("accuracy", "latency_us", "memory_bits", "energy_nj"),
           minimize: str = "energy_nj") -> dict[str, Any] | None:
    """The feasible Pareto-optimal point with the smallest ``minimize`` metric (ties: higher
    accuracy); ``None`` when no point meets the constraints."""
    feasible = [p for p in points if all(c.holds(p) for c in constraints)]
    if not feasible:
        return None
    front = pareto_front(feasible, objectives)
    sign = 1.0 if not METRICS[minimize] else -1.0
    return min(front, key=lambda p: (sign * float(p[minimize]), -float(p["accuracy"])))
