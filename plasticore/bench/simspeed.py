"""Verilator against Icarus on the same PE regression, in one run.

Runs the quick PE regression (``tests/hdl`` without the core, marker ``sim and not slow``)
once per simulator,
one after the other, each from empty build directories, one pytest worker each, and sums
the build and simulation wall times the runner records per cocotb run.  Both simulators see
the same tests, stimulus and seeds; the ratios are what the docs report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["measure", "format_table"]


def _run(simulator: str, root: Path, scratch: Path, seed: int) -> dict[str, Any]:
    results = scratch / f"{simulator}.jsonl"
    env = dict(os.environ, SIM=simulator, PLASTICORE_SIM_RESULTS=str(results),
               PLASTICORE_SIM_BUILD=str(scratch / f"build-{simulator}"), WAVES="0",
               COCOTB_RANDOM_SEED=str(seed))
    cmd = [sys.executable, "-m", "pytest", "tests/hdl", "--ignore=tests/hdl/test_core.py",
           "-m", "sim and not slow", "-q",
           "-p", "no:cacheprovider", "-n", "0", f"--basetemp={scratch / simulator}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in results.read_text().splitlines()
            if line.strip()] if results.exists() else []
    return {
        "simulator": simulator,
        "status": proc.returncode,
        "runs": len(rows),
        "failed": sum(r["result"] != "PASS" for r in rows),
        "build_seconds": sum(float(r.get("build_seconds", 0.0)) for r in rows),
        "sim_seconds": sum(float(r["wall_seconds"]) for r in rows),
        "pytest_seconds": wall,
        "summary": proc.stdout.strip().splitlines()[-1:] or [""],
    }


def measure(root: Path, seed: int = 1) -> dict[str, Any]:
    """Time the quick PE regression under both simulators (Verilator first)."""
    with tempfile.TemporaryDirectory(prefix="plasticore-simspeed-") as tmp:
        scratch = Path(tmp)
        runs = {sim: _run(sim, root, scratch, seed) for sim in ("verilator", "icarus")}
    v, i = runs["verilator"], runs["icarus"]
    ratio = {key: (v[key] / i[key] if i[key] else float("nan"))
             for key in ("pytest_seconds", "build_seconds", "sim_seconds")}
    return {"verilator": v, "icarus": i, "ratio_verilator_over_icarus": ratio}


def format_table(result: dict[str, Any]) -> str:
    """Markdown table of :func:`measure`'s result."""
    v, i = result["verilator"], result["icarus"]
    r = result["ratio_verilator_over_icarus"]
    lines = ["| | Verilator | Icarus | Verilator / Icarus |", "|---|---:|---:|---:|"]
    for key, label in (("pytest_seconds", "whole regression (wall, s)"),
                       ("build_seconds", "builds (s)"),
                       ("sim_seconds", "simulation runs (s)")):
        lines.append(f"| {label} | {v[key]:.1f} | {i[key]:.1f} | {r[key]:.2f} |")
    lines.append(f"| cocotb runs (failed) | {v['runs']} ({v['failed']}) | "
                 f"{i['runs']} ({i['failed']}) | |")
    return "\n".join(lines)
