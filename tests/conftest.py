"""Fixtures for cocotb regressions: simulator choice, per-test build dirs, result recording.

A test that takes ``simulator`` runs once per simulator in env ``SIM`` (default: all); each
run is marked ``sim`` plus ``verilator`` or ``icarus``. ``run_sim`` wraps
:func:`spikeforge.sim.runner.run_cocotb` with that simulator, a build directory under
``build/sim/`` named from the pytest node id (so ``pytest -n`` is safe), this folder on the
simulator's ``PYTHONPATH`` and :func:`~spikeforge.sim.runner.record_result`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from spikeforge.sim import runner


def _simulator_params() -> list[object]:
    return [
        pytest.param(name, marks=[pytest.mark.sim, getattr(pytest.mark, name)], id=name)
        for name in runner.selected_simulators()
    ]


@pytest.fixture(params=_simulator_params())
def simulator(request: pytest.FixtureRequest) -> str:
    """Name of the simulator this test instance runs on; fails clearly if it is missing."""
    name: str = request.param
    try:
        runner.find_simulator(name)
    except runner.SimulatorNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    return name


@pytest.fixture
def sim_build_dir(request: pytest.FixtureRequest) -> Path:
    """``<root>/<node id>``: private to this test instance.

    ``<root>`` is ``$SPIKEFORGE_SIM_BUILD`` when set (benchmarks use a fresh one to time
    builds), else ``<rootdir>/build/sim``.
    """
    return runner.build_dir_for(request.node.nodeid, _build_root(request.config))


def _build_root(config: pytest.Config) -> Path:
    override = os.environ.get("SPIKEFORGE_SIM_BUILD")
    return Path(override) if override else config.rootpath / "build" / "sim"


@pytest.fixture
def shared_build_dir(request: pytest.FixtureRequest, simulator: str) -> Callable[[str, str], Path]:
    """Factory ``(toplevel, verilog_text) -> build dir`` shared by every test whose design
    elaborates to the same Verilog on this simulator: one build serves all of them (the
    runner's lock makes sharing safe and its build stamp reuses the build)."""

    def build_dir(toplevel: str, verilog_text: str) -> Path:
        digest = hashlib.sha256(verilog_text.encode()).hexdigest()[:12]
        return _build_root(request.config) / f"{toplevel}-{simulator}-{digest}"

    return build_dir


def _config_label(request: pytest.FixtureRequest, simulator: str) -> str:
    callspec = getattr(request.node, "callspec", None)
    if callspec is None:
        return "default"
    parts = [part for part in callspec.id.split("-") if part != simulator]
    return "-".join(parts) or "default"


RunSim = Callable[..., runner.SimResult]


@pytest.fixture
def run_sim(request: pytest.FixtureRequest, simulator: str, sim_build_dir: Path) -> RunSim:
    """Run a cocotb module on this test's simulator and record the result.

    The returned callable takes the keyword arguments of ``run_cocotb`` except
    ``simulator`` and ``build_dir``, plus ``config`` (label for the summary table; default:
    the test's parameter ids without the simulator).
    """
    test_name = f"{request.node.path.name}::{request.node.originalname}"

    def run(
        *,
        toplevel: str,
        sources: Sequence[Path],
        test_module: str,
        config: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        pythonpath: Sequence[Path] = (),
        **kwargs: object,
    ) -> runner.SimResult:
        label = config if config is not None else _config_label(request, simulator)
        try:
            result = runner.run_cocotb(
                toplevel=toplevel,
                sources=sources,
                test_module=test_module,
                simulator=simulator,
                build_dir=sim_build_dir,
                extra_env=extra_env,
                pythonpath=[request.node.path.parent, *pythonpath],
                **kwargs,  # type: ignore[arg-type]
            )
        except runner.SimFailure as exc:
            runner.record_result(exc.result, test_name, label)
            raise
        runner.record_result(result, test_name, label)
        return result

    return run
