"""Run the board testbench (``tb_board.py``): the host driver against the simulated board.

:func:`run` writes the Verilog of ``LinkedCore`` (the UART at :data:`~.tb_board.DIVISOR`
cycles per bit), the session, and runs one of the testbench's two tests under Verilator or
Icarus.  ``spikeforge board run --simulate`` and ``tests/boards`` call it.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config
from .cosim import CosimError, _show_progress

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
    from ..boards.link import LinkedCore
    from ..hdl.verilog import write_verilog
    from .runner import SimFailure, find_simulator, run_cocotb
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
    build_dir = build_root / f"{TOPLEVEL}-{simulator}-{digest}"
    build_root = build_root.resolve()
    work = build_root / f"session-{simulator}-{digest}"
    work.mkdir(parents=True, exist_ok=True)
    source = write_verilog(LinkedCore(config, divisor=DIVISOR, timeout_bytes=TIMEOUT_BYTES),
                           TOPLEVEL, work)
    # poll for a result about four times per sample: ~150 cycles per timestep is the
    # digits core's measured rate (docs/results.md); polls only cost simulation time
    poll_s = config.core.timesteps * 150 / 4 * PERIOD_NS * 1e-9
    session = write_session(work / "session.npz", config, np.asarray(weights),
                            np.asarray(theta), np.asarray(rates), np.asarray(images),
                            np.asarray(labels), fuzz_frames, seed, poll_s)
    report_path = work / "report.json"
    report_path.unlink(missing_ok=True)
    progress_path = work / "progress"
    progress_path.unlink(missing_ok=True)
    total = fuzz_frames or len(labels)
    what = f"{fuzz_frames} fuzz frames" if fuzz_frames else f"{total} sample(s)"
    print(f"board sim: {simulator}: building {TOPLEVEL} in {build_dir} and running {what}",
          file=sys.stderr, flush=True)
    done = threading.Event()
    watcher = threading.Thread(target=_show_progress,
                               args=(progress_path, total, done), daemon=True)
    watcher.start()
    try:
        run_cocotb(toplevel=TOPLEVEL, sources=[source], test_module="spikeforge.sim.tb_board",
                   simulator=simulator, build_dir=build_dir, waves=waves,
                   testcase="board_fuzz" if fuzz_frames else "board_test_set",
                   extra_env={ENV_SESSION: str(session), ENV_REPORT: str(report_path),
                              ENV_PROGRESS: str(progress_path)})
        passed = True
    except SimFailure:
        passed = False
    finally:
        done.set()
        watcher.join()
    if not report_path.exists():
        raise CosimError(f"the board simulation produced no report; see {build_dir}/sim.log "
                         f"and {build_dir}/build.log")
    return BoardSimResult(passed, json.loads(report_path.read_text()), simulator)
