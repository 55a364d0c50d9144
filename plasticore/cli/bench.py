"""Benchmarks: ``plasticore bench``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..files import output_dir
from .common import (
    RunFailed,
    UserError,
    int_list,
    positive,
    positive_float,
    progress_bars,
    scheduler_options,
)

__all__ = ["add_commands"]


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import runner as bench_runner

    # the BPTT benchmark trains a rule.kind = "bptt" network, the others the STDP digits
    if args.config is None:
        args.config = "digits-mlp" if args.what == "bptt" else "digits"
    for option, value in (("--epochs", args.epochs), ("--batch", args.batch)):
        if value is not None and args.what != "bptt":
            raise UserError(f"{option}: only with `plasticore bench bptt`, not {args.what}")
    args.timesteps = int_list("--timesteps", args.timesteps, 1, 1 << 20)
    # the core benchmark's 784-400 latency rows, per PE and encoder lane count
    if args.n_pe:
        args.n_pe = int_list("--n-pe", args.n_pe, 1, 1024)
    if args.lanes:
        args.lanes = int_list("--lanes", args.lanes, 1, 1 << 16)
    if args.row_banks:
        args.row_banks = int_list("--row-banks", args.row_banks, 1, 1024)
    if args.json and args.what != "sim":
        raise UserError("--json: only with `plasticore bench sim`")
    if args.weights and args.what not in ("all", "core"):
        raise UserError(f"--weights: only with `plasticore bench core`, not {args.what}")
    if args.weights:
        from ..config import load_config
        from ..golden.train import load_weights

        load_weights(args.weights, load_config(args.config).network)   # fails in one line
    output_dir(args.out, "--out")
    if args.what == "bptt":
        from ..bench.bptt import BenchError, check

        try:
            check(args.config, args.epochs, args.batch, args.samples)
        except BenchError as exc:
            raise UserError(str(exc)) from None
        args.progress = progress_bars(sys.stderr.isatty())
    from ..bench.bptt import SideFailed
    from ..explore.cluster import ClusterError

    try:
        return bench_runner.main(args)
    except ClusterError as exc:
        raise UserError(str(exc)) from None
    except SideFailed as exc:
        raise RunFailed(str(exc)) from None


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``sub``."""
    p = sub.add_parser("bench", help="benchmarks: BindsNET side by side, accuracy over "
                                     "seeds and timesteps, core cycles against their "
                                     "bound, co-simulation speed, BPTT against snnTorch")
    p.add_argument("what", nargs="?", default="all",
                   choices=("all", "peer", "accuracy", "core", "sim", "link", "nir", "bptt"),
                   help="which benchmark (default: all; bptt, the numpy BPTT trainer against "
                        "snnTorch, only by name)")
    p.add_argument("--config", help="config (default: digits; bptt: digits-mlp)")
    p.add_argument("--seeds", type=positive, default=3,
                   help="seeds per setting (default 3; nir: encoder seeds of rate input)")
    p.add_argument("--timesteps", default="350,100,50,25",
                   help="comma-separated timesteps for the accuracy table")
    p.add_argument("--n-pe", metavar="LIST",
                   help="comma-separated PE lane counts for the core benchmark's 784-400 "
                        "latency rows (default: the config's)")
    p.add_argument("--lanes", metavar="LIST",
                   help="comma-separated encoder lane counts for the core benchmark's "
                        "784-400 latency rows (default: the config's)")
    p.add_argument("--row-banks", metavar="LIST",
                   help="comma-separated row bank counts for the core benchmark's 784-400 "
                        "latency rows (default: the config's)")
    p.add_argument("--weights", metavar="FILE",
                   help="weights file for the core benchmark's inference rows (default: "
                        "the initial weights; a network trained elsewhere: what `plasticore "
                        "nir import` wrote)")
    p.add_argument("--clock-mhz", type=positive_float, metavar="MHZ",
                   help="core clock of the core benchmark's latencies (default: each "
                        "config's board.clock_mhz)")
    p.add_argument("--out", default="build/bench", metavar="DIR",
                   help="where JSON results and tables go (default: build/bench)")
    p.add_argument("--workers", type=positive,
                   help="worker processes for the accuracy grid (default: the CPU count)")
    scheduler_options(p, "the accuracy grid's runs")
    p.add_argument("--samples", type=positive, metavar="N",
                   help="samples the link benchmark sends (default 200); bptt: train on the "
                        "first N training samples (default: the config's)")
    p.add_argument("--epochs", type=positive, metavar="N",
                   help="bptt only: training epochs (default: the config's data.epochs)")
    p.add_argument("--batch", type=positive, metavar="B",
                   help="bptt only: mini-batch, both sides (default: the config's rule.batch)")
    p.add_argument("--soak-samples", type=positive, default=1200, metavar="N",
                   help="digits training samples the sim benchmark's Verilator soak learns "
                        "(default 1200, the whole soak)")
    p.add_argument("--compare-samples", type=positive, default=2, metavar="N",
                   help="samples of the same soak both simulators run, for their ratio "
                        "(default 2: Icarus runs about a thousand cycles a second)")
    p.add_argument("--json", action="store_true",
                   help="sim only: print one JSON object instead of the table")
    p.add_argument("--setup", action="store_true",
                   help="install the bench extra (CPU torch, BindsNET) and exit")
    p.set_defaults(func=cmd_bench)
