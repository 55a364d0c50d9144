"""Co-simulation speed: Verilator against Icarus on the soak workload, and the simulated
board on the digits test set.

The workload is the soak's (``tests/hdl/test_core.py::test_core_soak_digits``): the default
digits core learns digits training images, from the initial weights, in the free-running
harness (``plasticore.sim.harness``), every sample compared with the golden model.

- **Verilator** runs ``soak_samples`` of them (the whole soak): its ``cycles_per_second``;
- **both simulators** run the first ``compare_samples`` (Icarus takes about a millisecond
  per core cycle on this core, so the whole soak would take most of a day), each from an
  empty build folder: ``verilator_over_icarus`` is Icarus's time over Verilator's on that
  same workload, simulation only and with the builds;
- the **board**: the digits network trained in the golden model, then the whole digits
  test split through the simulated board's UART link under Verilator
  (``plasticore.boards.board_sim``), every count and class compared with the golden model:
  ``board_test_set_seconds`` (the simulation, its build apart).

A core cycle is a clock cycle of the simulation (``sim_time / 10 ns``: the loads, samples
and readback); seconds are the simulator process's wall time, Python in it included (the
cocotb start, reading the captures, the comparisons, waiting for the golden model's
process), the build apart.  ``cycles_per_cpu_second`` divides by the simulator process's
CPU time instead (the golden process apart), which the machine's other load inflates less.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["measure", "format_table"]

CLOCK_NS = 10


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _soak(simulator: str, n: int, sim_root: Path, scratch: Path) -> dict[str, Any]:
    from ..config import load_config
    from ..golden.datasets import load_digits
    from ..golden.network import initial_weights
    from ..sim import cosim
    from ..sim.core_session import Sample

    core = load_config("digits").core
    images = load_digits(core.encoder.pixel_bits)[0].images[:n]
    samples = [Sample(images[i], key=i, learn=True) for i in range(len(images))]
    start = time.perf_counter()
    result = cosim.run(core, samples, simulator, scratch / f"{simulator}-{n}",
                       initial_weights(core), np.zeros(core.n_neurons, np.int64),
                       sim_root=sim_root)
    wall = time.perf_counter() - start
    r = result.report
    cycles = int(round(float(r["sim_time_ns"]) / CLOCK_NS))
    sim_s = float(r["sim_seconds"])
    return {
        "simulator": simulator,
        "samples": int(r["samples"]),
        "matched": result.matched,
        "difference": result.difference,
        "cycles": cycles,
        "sample_cycles": int(r.get("core_cycles", 0)),
        "sim_seconds": sim_s,
        "build_seconds": float(r["build_seconds"]),
        "command_seconds": wall,
        "cycles_per_second": cycles / sim_s if sim_s else float("nan"),
        "cpu_seconds": float(r.get("cpu_seconds", float("nan"))),
        "cycles_per_cpu_second": cycles / float(r.get("cpu_seconds", float("nan"))),
        "golden_wait_seconds": float(r.get("golden_wait_seconds", float("nan"))),
    }


def _board(sim_root: Path, scratch: Path) -> dict[str, Any]:
    from ..boards import board_sim
    from ..config import load_config
    from ..golden.classify import Readout
    from ..golden.datasets import load_dataset
    from ..golden.train import train

    config = load_config("digits")
    train_set, test_set = load_dataset("digits", None, config.core.encoder.pixel_bits)
    net, _, _ = train(config.core, train_set)
    label_counts = np.stack([net.run_sample(img, key=i, learn=False).counts
                             for i, img in enumerate(train_set.images)])
    readout = Readout(config.classify.readout, label_counts, train_set.labels,
                      config.classify.n_classes)
    start = time.perf_counter()
    result = board_sim.run(config, net.weights, net.theta, readout.rates, test_set.images,
                           test_set.labels, "verilator", scratch / "board",
                           sim_root=sim_root)
    wall = time.perf_counter() - start
    r = result.report
    return {
        "passed": result.passed,
        "samples": int(r["samples"]),
        "counts_equal": int(r["counts_equal"]),
        "class_equal": int(r["class_equal"]),
        "sim_seconds": float(r["sim_seconds"]),
        "build_seconds": float(r["build_seconds"]),
        "command_seconds": wall,
        "cycles": int(round(float(r["sim_time_ns"]) / CLOCK_NS)),
    }


def measure(soak_samples: int = 1200, compare_samples: int = 2,
            board: bool = True) -> dict[str, Any]:
    """Run the three measurements one after the other, from empty build folders."""
    with tempfile.TemporaryDirectory(prefix="plasticore-simspeed-") as tmp:
        scratch = Path(tmp)
        runs: dict[str, Any] = {}
        for simulator in ("verilator", "icarus"):       # the same workload, fresh builds
            _say(f"bench sim: {simulator}, {compare_samples} soak samples")
            runs[simulator] = _soak(simulator, compare_samples, scratch / "builds", scratch)
        _say(f"bench sim: verilator, the soak ({soak_samples} samples)")
        soak = _soak("verilator", soak_samples, scratch / "builds", scratch)
        board_run = None
        if board:
            _say("bench sim: the digits test set through the simulated board (verilator)")
            board_run = _board(scratch / "builds", scratch)
    v, i = runs["verilator"], runs["icarus"]
    return {
        "workload": (f"digits core, learning, the first {compare_samples} digits training "
                     f"images (the soak's first samples); Verilator also the whole soak, "
                     f"{soak_samples}"),
        "verilator": {**soak, "cycles_per_second": soak["cycles_per_second"],
                      "compare": v},
        "icarus": {**i, "cycles_per_second": i["cycles_per_second"]},
        "verilator_over_icarus": {
            "simulation": i["sim_seconds"] / v["sim_seconds"],
            "with_builds": ((i["sim_seconds"] + i["build_seconds"])
                            / (v["sim_seconds"] + v["build_seconds"])),
            "cycles_per_second_soak": soak["cycles_per_second"] / i["cycles_per_second"],
        },
        "board_test_set_seconds": None if board_run is None else board_run["sim_seconds"],
        "board": board_run,
    }


def format_table(result: dict[str, Any]) -> str:
    """Markdown table of :func:`measure`'s result."""
    v, i, r = result["verilator"], result["icarus"], result["verilator_over_icarus"]
    c = v["compare"]
    lines = [f"Workload: {result['workload']}.", "",
             "| | Verilator | Icarus | Verilator / Icarus |", "|---|---:|---:|---:|",
             f"| samples (same workload) | {c['samples']} | {i['samples']} | |",
             f"| clock cycles | {c['cycles']:,} | {i['cycles']:,} | |",
             f"| simulation (s) | {c['sim_seconds']:.2f} | {i['sim_seconds']:.2f} | "
             f"{r['simulation']:.1f}x |",
             f"| build (s) | {c['build_seconds']:.1f} | {i['build_seconds']:.1f} | |",
             f"| simulation and build (s) | {c['sim_seconds'] + c['build_seconds']:.1f} | "
             f"{i['sim_seconds'] + i['build_seconds']:.1f} | {r['with_builds']:.1f}x |",
             f"| the soak: {v['samples']} samples, {v['cycles']:,} cycles (s) | "
             f"{v['sim_seconds']:.1f} | | |",
             f"| cycles per second | {v['cycles_per_second']:,.0f} (the soak) | "
             f"{i['cycles_per_second']:,.0f} | {r['cycles_per_second_soak']:.0f}x |",
             f"| cycles per CPU second of the simulator | "
             f"{v['cycles_per_cpu_second']:,.0f} (the soak) | "
             f"{i['cycles_per_cpu_second']:,.0f} | |"]
    b = result.get("board")
    if b:
        lines += ["", f"The simulated board, digits test set under Verilator: {b['samples']}"
                  f" samples, {b['counts_equal']} counts and {b['class_equal']} classes "
                  f"equal to golden, {b['sim_seconds']:.1f} s simulation "
                  f"({b['cycles']:,} cycles), build {b['build_seconds']:.1f} s."]
    return "\n".join(lines)
