"""Run the BindsNET peer benchmark in a subprocess and collect its JSON record.

The subprocess runs :mod:`plasticore.bench.bindsnet_dc` with the interpreter of this
process and with ``plasticore/bench/stubs`` prepended to its ``PYTHONPATH``: that directory
holds an import-only ``torchvision`` stub which BindsNET needs at import time (no
torchvision wheel loads against the CPU torch of the ``bench`` extra). The stub is never put
on this process's ``sys.path``.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

STUB_DIR = Path(__file__).resolve().parent / "stubs"
SETUP_HINT = "BindsNET benchmark needs the bench extra: run `make bench-setup`"

TORCH_VERSION = "2.13.0"
BINDSNET_VERSION = "0.3.4"


def bench_extra_requirements() -> list[str]:
    """The ``bench`` extra of plasticore's metadata (pyproject.toml): BindsNET 0.3.4's
    runtime dependencies other than torch and torchvision."""
    from importlib import metadata

    out = []
    for req in metadata.requires("plasticore") or []:
        spec, _, marker = req.partition(";")
        if "extra" in marker and '"bench"' in marker.replace("'", '"'):
            out.append(spec.strip())
    return out


def bench_setup_commands(python: str | None = None) -> list[list[str]]:
    """Return the pip command lines that install the ``bench`` extra, in order.

    Parameters
    ----------
    python : str, optional
        Interpreter to install into (default: the running one, ``sys.executable``).

    Returns
    -------
    list of list of str
        1. CPU torch (first, so nothing later re-resolves torch);
        2. BindsNET without dependencies (it pins a newer torch and torchvision);
        3. BindsNET's remaining runtime dependencies, none of which depends on torch.
    """
    pip = [python or sys.executable, "-m", "pip", "install"]
    return [
        [*pip, f"torch=={TORCH_VERSION}"],
        [*pip, "--no-deps", f"bindsnet=={BINDSNET_VERSION}"],
        [*pip, *bench_extra_requirements()],
    ]


def _missing_modules() -> list[str]:
    """Names of the benchmark's top-level modules that are not installed."""
    return [m for m in ("torch", "bindsnet") if importlib.util.find_spec(m) is None]


def _cli_args(train: int, test: int, time: int, seed: int, params: dict[str, Any]) -> list[str]:
    """Translate keyword parameters into ``bindsnet_dc`` command-line options."""
    args = ["--train", str(train), "--test", str(test), "--time", str(time), "--seed", str(seed)]
    for key, value in params.items():
        if value is None:
            continue
        args += [f"--{key.replace('_', '-')}", str(value)]
    return [*args, "--json"]


def pump_stderr(src: IO[str], tail: collections.deque[str]) -> None:
    """Copy a child's stderr to ours line by line, keeping the last lines."""
    for line in src:
        sys.stderr.write(line)
        sys.stderr.flush()
        if line.strip():
            tail.append(line.rstrip())


def run_bindsnet(train: int, test: int, time: int, seed: int, **params: Any) -> dict[str, Any]:
    """Run the BindsNET Diehl & Cook benchmark in a subprocess.

    Parameters
    ----------
    train, test : int
        Training and test sample counts (first ``train`` digits, then ``test`` more).
    time : int
        Presentation time per sample in 1 ms steps.
    seed : int
        Random seed.
    **params
        Options of ``python -m plasticore.bench.bindsnet_dc`` by keyword, underscores for
        dashes: ``n_neurons``, ``intensity``, ``norm``, ``exc``, ``inh``, ``theta_plus``,
        ``tc_theta_decay``, ``nu_pre``, ``nu_post``, ``threads``, ``label_pass``. ``None``
        values are left at the script's defaults.

    Returns
    -------
    dict
        The JSON record printed by the benchmark (accuracy, timings, versions, parameters).

    Raises
    ------
    RuntimeError
        If torch or BindsNET is not installed, or the subprocess fails.
    """
    missing = _missing_modules()
    if missing:
        raise RuntimeError(SETUP_HINT)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STUB_DIR), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "plasticore.bench.bindsnet_dc"]
    cmd += _cli_args(train, test, time, seed, params)

    tail: collections.deque[str] = collections.deque(maxlen=20)
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        pump = threading.Thread(target=pump_stderr, args=(proc.stderr, tail), daemon=True)
        pump.start()
        stdout = proc.stdout.read()
        proc.wait()
        pump.join()

    if proc.returncode != 0:
        if any("No module named" in line for line in tail):
            raise RuntimeError(SETUP_HINT)
        last = tail[-1] if tail else "no output"
        raise RuntimeError(f"BindsNET benchmark failed (exit {proc.returncode}): {last}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise RuntimeError("BindsNET benchmark printed no JSON record on stdout") from exc
    if not isinstance(result, dict):
        raise RuntimeError("BindsNET benchmark printed JSON that is not an object")
    return result
