# amaranth: UnusedElaboratable=no
"""``plasticore cosim``: co-simulate the core of any configuration against the golden model.

Generates ``SnnCore`` for the configuration (``NetworkCore``, a core per layer, for a
network of several layers), runs a session (:mod:`.core_session`) on its Verilog, wrapped in
the free-running harness of :mod:`.harness`, under Verilator or Icarus through the cocotb
testbench :mod:`.tb_core`, and reports whether every spike, count, weight, threshold and
bias (of every layer) matched, with the clock cycles per timestep (of every layer) measured
in the RTL and predicted by the cycle model (``plasticore.hdl.cycles``).

Samples are the test images of the bundled dataset with the configuration's input count
(digits for 64 inputs, the MNIST sample for 784; rescaled to its pixel width), otherwise
seeded random pixels; with direct input, seeded random rasters.
Weights are a trained weights file's or the configuration's initial weights.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import CoreConfig, NetworkConfig
from ..golden.network import initial_weights
from .core_session import Sample
from .target import Target

__all__ = ["CosimError", "CosimResult", "session_samples", "run", "run_testbench"]


class CosimError(RuntimeError):
    """The co-simulation ended without a verdict (build failure, simulator crash)."""



@dataclass
class CosimResult:
    """What ``plasticore cosim`` reports.

    Members
    -------
    matched : bool
        Every spike, count, weight, threshold and timestep's cycles equal the golden model.
    difference : str or None
        The first difference.
    report : dict
        The testbench's report: ``samples``, ``spikes``, ``timesteps``,
        ``cycles_measured`` and ``cycles_predicted`` (per timestep, all samples; a
        network's last layer), a network's ``layer_cycles_measured`` and
        ``layer_cycles_predicted`` (per layer, per timestep).
    simulator : str
    """

    matched: bool
    difference: str | None
    report: dict[str, Any]
    simulator: str

    def summary(self) -> dict[str, Any]:
        measured = np.asarray(self.report.get("cycles_measured", []), dtype=float)
        predicted = np.asarray(self.report.get("cycles_predicted", []), dtype=float)
        layers = [(np.asarray(m, dtype=float), np.asarray(p, dtype=float)) for m, p in zip(
            self.report.get("layer_cycles_measured", []),
            self.report.get("layer_cycles_predicted", []), strict=True)]
        per_layer = {"layer_cycles_per_timestep_measured": [
                         float(m.mean()) if m.size else None for m, _ in layers],
                     "layer_cycles_per_timestep_predicted": [
                         float(p.mean()) if p.size else None for _, p in layers]}
        return {
            "simulator": self.simulator,
            "matched": self.matched,
            "difference": self.difference,
            "samples": self.report.get("samples", 0),
            "spikes": self.report.get("spikes", 0),
            "timesteps": int(measured.size),
            "cycles_per_timestep_measured": float(measured.mean()) if measured.size else None,
            "cycles_per_timestep_predicted": (float(predicted.mean()) if predicted.size
                                              else None),
            "cycles_per_timestep_max": float(measured.max()) if measured.size else None,
            **(per_layer if layers else {}),
        }


def session_samples(config: CoreConfig | NetworkConfig | Target, count: int, learn: bool,
                    seed: int = 0) -> list[Sample]:
    """``count`` samples of the (first layer's) input: bundled test images (digits for 64
    inputs, the MNIST sample for 784), seeded random pixels else; with direct input, seeded
    random rasters (each input spikes with probability 0.1 per timestep)."""
    core = Target.of(config).first
    if core.encoder.kind == "direct":
        rng = np.random.default_rng([seed, 0xC052])
        rasters = rng.random((count, core.timesteps, core.n_inputs)) < 0.1
        return [Sample(rasters[n], key=n, learn=learn) for n in range(count)]
    from ..golden.datasets import bundled_for

    bundled = bundled_for(core.n_inputs, core.encoder.pixel_bits)
    if bundled is not None:
        images = bundled[1].images
        if count > len(images):
            raise ValueError(f"--samples {count}: the {bundled[1].name} test split has "
                             f"{len(images)}")
    else:
        rng = np.random.default_rng([seed, 0xC051])
        images = rng.integers(0, (1 << core.encoder.pixel_bits) - 1,
                              (count, core.n_inputs), endpoint=True)
    return [Sample(images[n], key=n, learn=learn) for n in range(count)]


def run(config: CoreConfig | NetworkConfig | Target, samples: list[Sample], simulator: str,
        build_root: Path, weights: Any = None, theta: Any = None, waves: bool = False,
        sim_root: Path | None = None, bias: Any = None) -> CosimResult:
    """Generate, build and co-simulate; returns the testbench's verdict and report.

    ``config`` is a core, or a network (``weights``, ``theta`` and ``bias`` then hold one
    entry per layer; a one-layer network runs as its core).  Missing weights are the
    initial weights, missing thresholds zeros.  The session's files go to ``build_root``;
    the build to :func:`.harness.build_dir` under ``sim_root`` (default: shared with the
    tests and every other CLI call, ``build/sim``), named by the digest of the generated
    Verilog."""
    from .harness import build_dir as harness_build_dir
    from .runner import find_simulator
    from .tb_core import ENV_PROGRESS, ENV_REPORT, TOPLEVEL, session_inputs

    find_simulator(simulator)              # a missing simulator fails before any work
    target = Target.of(config)
    cores = target.cores
    weights = target.shaped([initial_weights(c) if w is None else np.asarray(w) for c, w in
                             zip(cores, target.per_layer(weights, "weights"), strict=True)])
    theta = target.shaped([np.zeros(c.n_neurons, np.int64) if t is None else np.asarray(t)
                           for c, t in zip(cores, target.per_layer(theta, "theta"),
                                           strict=True)])
    work = build_root / f"session-{simulator}-{target.digest()}"
    sources, env = session_inputs(target, weights, theta, samples, work, bias)
    # one build per generated Verilog, shared with the tests (build_root/../sim by default)
    build_dir = harness_build_dir(simulator, sources, sim_root)
    passed, report = run_testbench(
        what=f"cosim: {simulator}: building {TOPLEVEL} in {build_dir} and running "
             f"{len(samples)} sample(s)", toplevel=TOPLEVEL, sources=sources,
        test_module="plasticore.sim.tb_core", simulator=simulator, build_dir=build_dir,
        work=work, env=env, total=len(samples), waves=waves,
        env_report=ENV_REPORT, env_progress=ENV_PROGRESS, timing=True, public=False)
    difference = report.get("difference")
    return CosimResult(passed and difference is None, difference, report, simulator)


def run_testbench(*, what: str, toplevel: str, sources: list[Path], test_module: str,
                  simulator: str, build_dir: Path, work: Path, env: dict[str, str],
                  total: int, waves: bool, env_report: str, env_progress: str,
                  testcase: str | None = None, timing: bool = False,
                  public: bool = True) -> tuple[bool, dict[str, Any]]:
    """Run a cocotb testbench that writes a JSON report (path in env ``env_report``) and
    its progress (``env_progress``) into ``work``; show a progress bar over ``total``.

    Returns whether the run passed and the report, to which the run's costs are added
    (``sim_seconds``: the simulator process; ``build_seconds``: 0 for a cached build;
    ``sim_time_ns``); :class:`CosimError` when the run wrote no report (a build error or a
    crash).
    """
    from .runner import SimFailure, run_cocotb

    report_path = work / "report.json"
    report_path.unlink(missing_ok=True)
    progress_path = work / "progress"
    progress_path.unlink(missing_ok=True)
    print(what, file=sys.stderr, flush=True)
    done = threading.Event()
    watcher = threading.Thread(target=_show_progress,
                               args=(progress_path, total, done), daemon=True)
    watcher.start()
    try:
        result = run_cocotb(toplevel=toplevel, sources=sources, test_module=test_module,
                            simulator=simulator, build_dir=build_dir, waves=waves,
                            testcase=testcase, timing=timing, public=public,
                            extra_env={**env, env_report: str(report_path),
                                       env_progress: str(progress_path)})
        passed = True
    except SimFailure as exc:
        result, passed = exc.result, False
    finally:
        done.set()
        watcher.join()
    if not report_path.exists():
        raise CosimError(f"the simulation produced no report; see {build_dir}/sim.log "
                         f"and {build_dir}/build.log")
    report: dict[str, Any] = json.loads(report_path.read_text())
    # what the run cost: the simulator process (Python in it included) and the build
    report.update(sim_seconds=result.wall_seconds, build_seconds=result.build_seconds,
                  sim_time_ns=result.sim_time_ns)
    return passed, report


def _show_progress(path: Path, total: int, done: threading.Event) -> None:
    """Show the samples the testbench has checked (it rewrites ``path`` after each one):
    a progress bar on a terminal."""
    from tqdm import tqdm

    with tqdm(total=total, unit="sample", desc="cosim", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        while not done.wait(0.5):
            try:
                checked = int(path.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            bar.update(checked - bar.n)
