"""Boards: ``plasticore board run | fuzz | serve`` (the host link, on hardware, the
simulated board or a fake one), ``synth`` and ``bitstream``."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from ..config import Config
from ..files import output_dir
from .common import (
    UserError,
    datasets,
    load_for_rtl,
    non_negative,
    positive,
    print_json,
    progress_bars,
    simulating,
    stderr_progress,
)

__all__ = ["add_commands"]


def board_network(config: Config, weights_path: str):
    """Every layer's weights, thresholds and biases (lists per layer) and the readout's
    class rates of a trained network (``None`` for a readout that needs none: ``count``,
    output neuron ``c`` is class ``c``)."""
    from ..config import SUPERVISED_READOUTS
    from ..golden.train import load_weights

    network = config.network
    loaded = load_weights(weights_path, network)
    layers = loaded["layers"]
    params = ([layer[name] for layer in layers] for name in ("weights", "theta", "bias"))
    if config.classify.readout in SUPERVISED_READOUTS:
        return (*params, None)
    n_out = network.cores[-1].n_neurons
    if "class_rates" not in loaded:
        raise UserError(f"{weights_path}: no readout in the weights file (class_rates); "
                        "write it with `plasticore train --weights-out`")
    rates = loaded["class_rates"]
    if rates.shape != (config.classify.n_classes, n_out):
        raise UserError(f"{weights_path}: class_rates have shape {rates.shape}, the config "
                        f"needs ({config.classify.n_classes}, {n_out})")
    return (*params, rates.astype(float))   # checked by load_weights


def cmd_board_run(args: argparse.Namespace) -> int:
    from ..boards.host import BoardLink, LinkError, SerialTransport, run_test_set
    from ..boards.protocol import Geometry

    config = load_for_rtl(args.config, layers=True)
    Geometry.of(config)                 # a configuration the host link cannot carry: exit 2
    weights, theta, bias, rates = board_network(config, args.weights)
    _, test_set = datasets(config, 0, args.samples)
    images, labels = test_set.images, test_set.labels
    if args.simulate:
        from ..boards import board_sim
        from ..tools import repo_root

        with simulating():
            sim = board_sim.run(config, weights, theta, rates, images, labels,
                                args.simulate, repo_root() / "build" / "board-sim", bias=bias)
        summary = dict(sim.report)
        where = f"simulated board ({args.simulate})"
    else:
        bar = progress_bars(sys.stderr.isatty())
        transport = None
        try:
            transport = SerialTransport(args.port, config.board.baud)
            link = BoardLink(transport, config)
            report = run_test_set(link, weights, theta, rates, images, labels,
                                  progress=(lambda d, t: bar("board", d, t)) if bar else None,
                                  bias=bias)
        except LinkError as exc:
            message = str(exc)
            raise UserError(message if message.startswith(args.port)
                            else f"{args.port}: {message}") from None
        finally:
            if transport is not None:
                transport.close()
        summary = report.to_dict()
        where = f"board on {args.port}"
    n = summary["samples"]
    matched = (n == len(labels) and summary["counts_equal"] == summary["class_equal"] == n
               and summary.get("membranes_equal", n) == n)
    cycles = summary.pop("cycles", [])
    summary["cycles_per_sample"] = sum(cycles) / len(cycles) if cycles else 0.0
    summary["matched"] = matched
    if args.json:
        print_json(summary)
    else:
        checked = "count, membrane" if "membranes" in summary else "count"
        verdict = (f"every {checked} and class equal to the golden model" if matched
                   else f"MISMATCH: {summary['first_mismatch'] or 'samples missing'}")
        print(f"{config.source}: {where}, {n} test sample(s): {verdict}")
        if n:
            print(f"accuracy {100 * summary['correct'] / n:.2f} % (on-board integer readout; "
                  f"it agrees with the float readout on {summary['float_agree']}/{n}); "
                  f"{summary['cycles_per_sample']:.0f} core cycles per sample")
    return 0 if matched else 1


def cmd_board_fuzz(args: argparse.Namespace) -> int:
    import numpy as np

    from ..boards import board_sim
    from ..golden.network import Network
    from ..tools import repo_root

    config = load_for_rtl(args.config, layers=True)
    net = Network(config.network)
    rng = np.random.default_rng(args.seed)
    rates = rng.random((config.classify.n_classes, net.n_outputs))
    with simulating():
        sim = board_sim.run(config, [layer.weights for layer in net.layers],
                            [layer.theta for layer in net.layers], rates, np.zeros((0, 1)),
                            np.zeros(0), args.simulator, repo_root() / "build" / "board-sim",
                            fuzz_frames=args.frames, seed=args.seed)
    if args.json:
        print_json({"passed": sim.passed, **sim.report})
    elif sim.passed:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(sim.report["kinds"].items()))
        print(f"{config.source}: {args.frames} fuzz frames on {args.simulator} ({kinds}): "
              "every one answered as the protocol says, every layer's weights, thresholds "
              "and biases and the votes unchanged")
    else:
        print(f"{config.source}: fuzzing FAILED; see build/board-sim/*{args.simulator}*/"
              "sim.log", file=sys.stderr)
    return 0 if sim.passed else 1


def cmd_board_serve(args: argparse.Namespace) -> int:
    import time

    from ..boards.fakeboard import FakeBoard, PtyBoard
    from ..boards.protocol import Geometry

    config = load_for_rtl(args.config, layers=True)
    Geometry.of(config)                 # a configuration the host link cannot carry: exit 2
    with PtyBoard(FakeBoard(config), line_rate=args.line_rate) as pty:
        print(f"{config.source}: fake board on {pty.path}: plasticore board run "
              f"{args.config} --weights F.npz --port {pty.path} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while pty.error is None:
                time.sleep(0.2)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from ..boards.synth import SynthError, synthesize

    config = load_for_rtl(args.config, layers=True)
    if args.build_dir:
        output_dir(args.build_dir, "--build-dir")
    try:
        report = synthesize(config, args.board, args.design, build_root=args.build_dir,
                            force=args.force,
                            progress=None if args.quiet else stderr_progress)
    except SynthError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print_json(report.to_dict())
    else:
        cached = " (cached)" if report.cached else ""
        print(f"{config.source}: {report.design} design ({report.top}) on {report.board} "
              f"({report.part}), yosys synth_xilinx {report.synth_seconds:.1f} s{cached}")
        print(report.text())
        if report.fmax_mhz_estimate < config.board.clock_mhz:
            print(f"note: the configured core clock (board.clock_mhz = "
                  f"{config.board.clock_mhz}) is above the estimated Fmax: lower it or "
                  f"pipeline the critical path before building a bitstream")
        print(f"report: {report.build_dir}/report.json")
    if not report.fits:
        worst = ", ".join(f"{r.name} {r.used:g} used of {r.available:,} available "
                          f"({100 * r.fraction:.0f}%)" for r in report.overflows())
        print(f"plasticore: error: {config.source}: the {report.design} design does not fit "
              f"the {report.device} on {report.board}: {worst}", file=sys.stderr)
        return 1
    return 0


def cmd_bitstream(args: argparse.Namespace) -> int:
    from ..boards.bitstream import BitstreamError, build_bitstream

    config = load_for_rtl(args.config, layers=True)
    if args.build_dir:
        output_dir(args.build_dir, "--build-dir")
    try:
        result = build_bitstream(config, args.board, args.toolchain, build_root=args.build_dir,
                                 progress=None if args.quiet else stderr_progress)
    except BitstreamError as exc:
        raise UserError(str(exc)) from None
    timing = result.timing
    if args.json:
        print_json(result.to_dict())
    else:
        print(f"{config.source}: {result.bitstream} ({result.toolchain}, {result.board}, "
              f"{result.seconds:.0f} s)")
        if "fmax_mhz" in timing:
            wns = f", WNS {timing['wns_ns']:+.3f} ns" if "wns_ns" in timing else ""
            print(f"timing: {timing['fmax_mhz']:.1f} MHz achievable at the "
                  f"{timing['clock_mhz']:g} MHz clock{wns}")
        if result.power:
            print(f"power: {result.power.get('total_w', float('nan')):.3f} W on chip")
        for name, path in result.reports.items():
            print(f"{name}: {path}")
    if not result.timing_met:
        print(f"plasticore: error: {config.source}: timing not met at "
              f"{timing['clock_mhz']:g} MHz (see {result.reports.get('timing', result.tree)})",
              file=sys.stderr)
        return 1
    return 0


def board_job(sub: Any, name: str, help: str, build_dir: str) -> argparse.ArgumentParser:
    """A subcommand that builds for a board: CONFIG, --board, --build-dir, --json, --quiet."""
    from ..config import BOARD_NAMES

    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.add_argument("config")
    p.add_argument("--board", choices=BOARD_NAMES,
                   help="board (default: the config's [board] name)")
    p.add_argument("--build-dir", metavar="DIR", help=build_dir)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``sub``."""
    p = sub.add_parser("board", help="run a trained network on an Artix-7 board (or the "
                                     "simulated board) through the UART host link")
    bsub = p.add_subparsers(dest="board_command", required=True, metavar="COMMAND")
    b = bsub.add_parser("run", help="classify the test set on the board and compare every "
                                    "answer with the golden model")
    b.add_argument("config")
    b.add_argument("--weights", required=True, metavar="F.npz",
                   help="weights, thresholds and readout from `plasticore train`")
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", metavar="DEV", help="the board's serial port (/dev/ttyUSB1)")
    where.add_argument("--simulate", choices=("verilator", "icarus"),
                       help="the board design in a cocotb simulation instead of hardware")
    b.add_argument("--samples", type=positive, metavar="N",
                   help="test samples (default: the config's data.test_samples, else all)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_board_run)
    b = bsub.add_parser("fuzz", help="random and malformed frames against the simulated "
                                     "board: every one answered, nothing changed")
    b.add_argument("config")
    b.add_argument("--frames", type=positive, default=1000, metavar="N",
                   help="frames to send (default 1000)")
    b.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    b.add_argument("--seed", type=non_negative, default=0)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_board_fuzz)
    b = bsub.add_parser("serve", help="a fake board on a new pseudo-terminal, answering the "
                                      "host link from the golden model (Ctrl-C stops it)")
    b.add_argument("config")
    b.add_argument("--line-rate", action="store_true",
                   help="pace the replies at board.baud (10 bits a byte), as a UART would")
    b.set_defaults(func=cmd_board_serve)

    p = board_job(sub, "synth", "Yosys synthesis for a board's FPGA: utilization, logic "
                                 "depth, estimated Fmax (exit 1 when it does not fit)",
                   "cache root (default: build/synth)")
    p.add_argument("--design", choices=("board", "core"), default="board",
                   help="the board top (default) or the bare network core, whose streams "
                        "are top-level ports")
    p.add_argument("--force", action="store_true", help="re-run even when a report is cached")
    p.set_defaults(func=cmd_synth)

    p = board_job(sub, "bitstream", "Amaranth's Xilinx build of the board top (Vivado "
                                     "or the open Xray flow); without either, write the "
                                     "build tree and say what is missing",
                   "build root (default: build/bitstream)")
    p.add_argument("--toolchain", choices=("auto", "vivado", "xray"), default="auto",
                   help="auto (default): Vivado when on PATH, else the Xray flow")
    p.set_defaults(func=cmd_bitstream)
