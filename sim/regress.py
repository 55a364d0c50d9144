"""Run the cocotb regressions (pytest marker ``sim``) and print a summary table.

Usage: ``python -m plasticore.sim.regress [--sim NAME]... [--waves] [--quick] [PYTEST_ARGS]``.
The regressions are the ``sim``-marked tests under ``tests/sim``, ``tests/hdl`` and
``tests/boards``; each
records its runs in the JSON-lines file named by ``PLASTICORE_SIM_RESULTS`` (see
:func:`plasticore.sim.runner.record_result`), which this module points at a fresh file in
``build/sim/`` and renders with :func:`plasticore.sim.runner.summary_table` afterwards.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from plasticore.sim import runner

from ..tools import repo_root

__all__ = ["TEST_DIRS", "main", "pytest_command", "repo_root"]

TEST_DIRS: tuple[str, ...] = ("tests/sim", "tests/hdl", "tests/boards")
"""Folders holding cocotb regressions, relative to the repository root."""


def pytest_command(
    root: Path, quick: bool, extra_pytest_args: Sequence[str], cores: int | None = None
) -> list[str]:
    """The pytest command line of a regression run from *root*.

    Selects marker ``sim`` (and ``not slow`` when *quick*) in :data:`TEST_DIRS`, with
    ``-n auto`` when pytest-xdist is installed, there is more than one core and
    *extra_pytest_args* do not choose ``-n`` themselves.
    """
    if cores is None:
        cores = os.cpu_count() or 1
    dirs = [d for d in TEST_DIRS if (root / d).is_dir()]
    cmd = [sys.executable, "-m", "pytest", *dirs, "-m", "sim and not slow" if quick else "sim"]
    chooses_n = any(
        arg in ("-n", "--numprocesses") or arg.startswith(("-n", "--numprocesses="))
        for arg in extra_pytest_args
    )
    if cores > 1 and not chooses_n and importlib.util.find_spec("xdist") is not None:
        cmd += ["-n", "auto"]
    return [*cmd, *extra_pytest_args]


def main(
    simulators: Sequence[str],
    waves: bool,
    quick: bool,
    extra_pytest_args: Sequence[str],
) -> int:
    """Run the cocotb regressions in a pytest subprocess and print the summary table.

    Parameters
    ----------
    simulators : list of str
        ``verilator`` and/or ``icarus``, passed on as env ``SIM``; empty keeps the inherited
        ``SIM`` (unset: all simulators).
    waves : bool
        Record waveforms (env ``WAVES=1``) into each test's build directory.
    quick : bool
        Leave out tests marked ``slow``.
    extra_pytest_args : list of str
        Appended to the pytest command line (``-k``, ``-x``, ``-n 0``, ...).

    Returns
    -------
    int
        pytest's exit status (2 if a selected simulator is missing, before running).
    """
    root = repo_root()
    env = dict(os.environ)
    if simulators:
        env["SIM"] = ",".join(simulators)
    try:
        names = runner.selected_simulators(env.get("SIM", ""))
        for name in names:
            runner.find_simulator(name)
    except (ValueError, runner.SimulatorNotFoundError) as exc:
        print(f"regress: {exc}", file=sys.stderr)
        return 2
    if waves:
        env["WAVES"] = "1"

    out_dir = root / "build" / "sim"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    results = out_dir / f"regress-{stamp}-{os.getpid()}.jsonl"
    results.unlink(missing_ok=True)
    env["PLASTICORE_SIM_RESULTS"] = str(results)

    cmd = pytest_command(root, quick, extra_pytest_args)
    print(f"regress: SIM={','.join(names)} WAVES={env.get('WAVES', '0')}: {shlex.join(cmd[1:])}")
    status = subprocess.run(cmd, cwd=root, env=env, check=False).returncode

    table = runner.summary_table(results)
    results.with_suffix(".txt").write_text(table + "\n")
    print()
    print(table)
    print(f"\nregress: results in {results}; pytest exit status {status}")
    return status


def _cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m plasticore.sim.regress",
        description="Run the cocotb regressions; unknown options go to pytest.",
    )
    parser.add_argument(
        "--sim",
        action="append",
        default=[],
        choices=runner.SIMULATORS,
        help="simulator to run (repeatable; default: env SIM, else all)",
    )
    parser.add_argument("--waves", action="store_true", help="record waveforms (WAVES=1)")
    parser.add_argument("--quick", action="store_true", help="leave out tests marked slow")
    args, pytest_args = parser.parse_known_args(argv)
    return main(args.sim, args.waves, args.quick, pytest_args)


if __name__ == "__main__":
    sys.exit(_cli())
