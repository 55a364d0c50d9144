"""Run the board testbench (``tb_board.py``): the host driver against the simulated board.

:func:`run` writes the Verilog of ``LinkedCore`` (the UART at :data:`~.tb_board.DIVISOR`
cycles per bit), the session, and runs one of the testbench's two tests under Verilator or
Icarus.  ``plasticore board run --simulate`` and ``tests/boards`` call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from ..sim.cosim import run_testbench

__all__ = ["BoardSimResult", "run"]


@dataclass(frozen=True)
class BoardSimResult:
    passed: bool
    report: dict[str, Any]
    simulator: str


def run(config: Config, weights: Any, theta: Any, rates: Any, images: Any, labels: Any,
        simulator: str = "verilator", build_root: Path = Path("build/board-sim"),
        fuzz_frames: int = 0, seed: int = 0, waves: bool = False) -> BoardSimResult:
    """Classify ``images`` through the simulated link (``fuzz_frames == 0``) or fuzz it
    with that many frames; returns the testbench's verdict and its report."""
    from ..hdl.cycles import encode_cycles
    from ..hdl.verilog import write_verilog
    from ..tools import find_simulator
    from .link import LinkedCore
    from .tb_board import (
        DIVISOR,
        ENV_PROGRESS,
        ENV_REPORT,
        ENV_SESSION,
        PERIOD_NS,
        TIMEOUT_BYTES,
        TOPLEVEL,
        write_session,
    )

    find_simulator(simulator)
    digest = config.core.digest()
    build_root = build_root.resolve()
    build_dir = build_root / f"{TOPLEVEL}-{simulator}-{digest}"
    work = build_root / f"session-{simulator}-{digest}"
    work.mkdir(parents=True, exist_ok=True)
    source = write_verilog(LinkedCore(config, divisor=DIVISOR, timeout_bytes=TIMEOUT_BYTES),
                           TOPLEVEL, work)
    # poll for the result every half of the shortest a sample can take (every timestep
    # encodes all inputs: encode_cycles); polls only cost simulation time
    poll_s = config.core.timesteps * encode_cycles(config.core) / 2 * PERIOD_NS * 1e-9
    session = write_session(work / "session.npz", config, np.asarray(weights),
                            np.asarray(theta), np.asarray(rates), np.asarray(images),
                            np.asarray(labels), fuzz_frames, seed, poll_s)
    total = fuzz_frames or len(labels)
    what = f"{fuzz_frames} fuzz frames" if fuzz_frames else f"{total} sample(s)"
    passed, report = run_testbench(
        what=f"board sim: {simulator}: building {TOPLEVEL} in {build_dir} and running {what}",
        toplevel=TOPLEVEL, sources=[source], test_module="plasticore.boards.tb_board",
        simulator=simulator, build_dir=build_dir, work=work, env={ENV_SESSION: str(session)},
        total=total, waves=waves, env_report=ENV_REPORT, env_progress=ENV_PROGRESS,
        testcase="board_fuzz" if fuzz_frames else "board_test_set")
    return BoardSimResult(passed, report, simulator)
