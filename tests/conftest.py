"""Fixtures for cocotb regressions: simulator choice, per-test build dirs, result recording.

A test that takes ``simulator`` runs once per simulator in env ``SIM`` (default: all); each
run is marked ``sim`` plus ``verilator`` or ``icarus``. ``run_sim`` wraps
:func:`plasticore.sim.runner.run_cocotb` with that simulator, a build directory under
``build/sim/`` named from the pytest node id (so ``pytest -n`` is safe), this folder on the
simulator's ``PYTHONPATH`` and :func:`~plasticore.sim.runner.record_result`.

``pe_regression`` runs a processing element's cocotb testbench module on the Verilog of one
configuration (see :class:`PeRegression`): every PE regression in ``tests/hdl`` goes through
it, so they state only what differs (component, top module, testbench module, number of
cocotb tests, extra environment).
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from plasticore.sim import runner

# A shell starts a background job (`cmd &` without job control, `nohup`) with SIGINT
# ignored, and every process inherits that: the tests that stop a child with Ctrl-C's
# signal (board serve, explore's interrupt) would then wait for nothing.  The tests run
# children as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

QUICK_TOKENS = 300
"""Random tokens per random cocotb test in the quick tier."""
SLOW_TOKENS = 3000
"""Random tokens per random cocotb test in the slow tier (tests marked ``slow``)."""


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

    ``<root>`` is ``$PLASTICORE_SIM_BUILD`` when set (benchmarks use a fresh one to time
    builds), else ``<rootdir>/build/sim``.
    """
    return runner.build_dir_for(request.node.nodeid, _build_root(request.config))


def _build_root(config: pytest.Config) -> Path:
    override = os.environ.get("PLASTICORE_SIM_BUILD")
    return Path(override) if override else config.rootpath / "build" / "sim"


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
    ``simulator``, plus ``config`` (label for the summary table; default: the test's
    parameter ids without the simulator); ``build_dir`` defaults to ``sim_build_dir``.
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
        build_dir: Path | None = None,
        **kwargs: object,
    ) -> runner.SimResult:
        label = config if config is not None else _config_label(request, simulator)
        try:
            result = runner.run_cocotb(
                toplevel=toplevel,
                sources=sources,
                test_module=test_module,
                simulator=simulator,
                build_dir=sim_build_dir if build_dir is None else build_dir,
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


class PeRegression:
    """Run a PE's cocotb testbench module on the Verilog of one component and check it.

    The Verilog goes to the test's ``tmp_path`` (private to the test instance; the runner
    empties a build directory when it rebuilds, so sources never live in one).  The build
    directory is shared by every test whose component elaborates to the same Verilog on the
    same simulator, ``<build root>/<toplevel>-<simulator>-<digest of the Verilog>``: one
    build serves all of them (the runner's lock serialises the users, its build stamp reuses
    the build).

    Members
    -------
    slow : bool
        Whether the test is marked ``slow`` (the full regression).
    """

    def __init__(self, request: pytest.FixtureRequest, run_sim: RunSim, simulator: str,
                 tmp_path: Path) -> None:
        self._request = request
        self._run_sim = run_sim
        self._simulator = simulator
        self._tmp_path = tmp_path

    @property
    def slow(self) -> bool:
        return self._request.node.get_closest_marker("slow") is not None

    def __call__(self, component: Any, *, toplevel: str, test_module: str, tests: int,
                 tokens: int | None = None,
                 extra_env: Mapping[str, str] | None = None) -> runner.SimResult:
        """Run ``test_module`` on the Verilog of ``component`` (top module ``toplevel``),
        with the component's ``core`` in ``PLASTICORE_CORE``, ``tokens`` random tokens per
        random test in ``PLASTICORE_TOKENS`` (default :data:`QUICK_TOKENS`, or
        :data:`SLOW_TOKENS` when ``slow``) and ``extra_env``; assert that all ``tests``
        cocotb tests ran and passed."""
        from plasticore.hdl.verilog import to_verilog  # imports Amaranth: only when used
        from plasticore.sim.pe_testbench import ENV_CORE, ENV_TOKENS

        text = to_verilog(component, toplevel)
        source = self._tmp_path / f"{toplevel}.v"
        source.write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        build_dir = _build_root(self._request.config) / f"{toplevel}-{self._simulator}-{digest}"
        if tokens is None:
            tokens = SLOW_TOKENS if self.slow else QUICK_TOKENS
        result = self._run_sim(
            toplevel=toplevel,
            sources=[source],
            test_module=test_module,
            extra_env={ENV_CORE: component.core.to_json(), ENV_TOKENS: str(tokens),
                       **(extra_env or {})},
            build_dir=build_dir,
        )
        assert result.passed
        assert result.tests == tests, f"{result.tests} cocotb tests ran, expected {tests}"
        return result


@pytest.fixture
def pe_regression(request: pytest.FixtureRequest, run_sim: RunSim, simulator: str,
                  tmp_path: Path) -> PeRegression:
    """A :class:`PeRegression` for this test instance's simulator."""
    return PeRegression(request, run_sim, simulator, tmp_path)


@pytest.fixture(scope="session")
def cli() -> Callable[..., Any]:
    """``cli(*args, cwd=None, env=None)``: ``plasticore`` as a user runs it, a subprocess
    with captured text output, in ``cwd``, with ``env`` added to this process's
    environment."""
    import subprocess
    import sys

    def run(*args: str, cwd: Path | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "plasticore.cli", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=900,
                              env={**os.environ, **(env or {})})

    return run
