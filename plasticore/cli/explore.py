"""The design-space explorer: ``plasticore explore``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ..config import DATASET_NAMES, Config, ConfigError
from ..files import output_dir, write_text
from .common import (
    UserError,
    datasets,
    load,
    load_for_rtl,
    positive,
    positive_float,
    scheduler_options,
    simulating,
    stderr_progress,
)

__all__ = ["add_commands"]



def _synth_hook(args: argparse.Namespace, config: Any, make_hook: Any) -> Any:
    """``--synth [BOARD]``: ``make_hook(config, board, progress=...)`` (each point through
    Yosys) after checking the board and Yosys in one line; ``None`` without the option."""
    if args.synth is None:
        return None
    from ..boards.catalog import board_named
    from ..boards.synth import SynthError, find_yosys

    board = args.synth or config.board.name
    try:
        board_named(board)
        find_yosys()
    except (ConfigError, SynthError) as exc:
        raise UserError(f"--synth {board}: {exc}") from None
    return make_hook(config, board, progress=None if args.quiet else stderr_progress)

def cmd_explore(args: argparse.Namespace) -> int:
    import shlex
    import time

    from ..boards.synth import SynthError
    from ..explore.cluster import ClusterError
    from ..explore.grid import Evaluator
    from ..explore.settings import Settings, SettingsError
    from ..explore.sweep import explore

    if load(args.config, data_path=args.data).network.rule.stdp is None:
        return cmd_explore_trained(args)       # trained off chip: rule.kind none or bptt
    for option, value in (("--weights", args.weights), ("--nir", args.nir),
                          ("--forward", args.forward), ("--lut-group", args.lut_group)):
        if value is not None:
            raise UserError(f"{option}: only for a network trained off chip (rule.kind = "
                            f"'none' or 'bptt'); {args.config} learns its weights with STDP")
    config = _with_data_options(load_for_rtl(args.config, data_path=args.data), args)
    from ..explore.cost import synth_hook

    synth = _synth_hook(args, config, synth_hook)
    out = output_dir(args.out, "--out")
    train_set, test_set = datasets(config, None, None)   # fails early on a bad dataset
    try:
        settings = Settings.from_text(
            config, timesteps=args.timesteps, weight_bits=args.weight_bits or "16,8,6,4,2",
            constraints=args.constraints, variants=args.variants,
            variant_bits=args.variant_bits, search_bits=args.search_bits, seeds=args.seeds,
            workers=args.workers, scheduler=args.scheduler, scheduler_file=args.scheduler_file,
            clock_mhz=args.clock_mhz, minimize=args.minimize, search=not args.no_search,
            search_rounds=args.search_rounds, search_seeds=args.search_seeds,
            validation=args.validation, variant_timesteps=args.variant_timesteps,
            width_transform=args.width_transform, cost_samples=args.cost_samples, synth=synth,
            dataset_sizes=(len(train_set), len(test_set)))
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    quiet = args.quiet or not sys.stderr.isatty()

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    # the runs' workers (a local cluster, or a client of --scheduler) live for the sweep
    with settings.runner() as runner:
        evaluator = Evaluator(config, out / "cache", runner, settings.validation,
                              progress=not quiet, log=None if args.quiet else say)
        try:
            summary = explore(settings, evaluator, say)
        except SynthError as exc:
            raise UserError(f"--synth: {exc}") from None
        except ClusterError as exc:
            raise UserError(str(exc)) from None
    plots: list[Path] = []
    chosen_core = summary["chosen_core"]
    trained = None
    if chosen_core is not None:
        chosen_config = dataclasses.replace(config, core=chosen_core.replace(seed=0))
        chosen_config.save(out / "chosen.toml")
        if not args.no_plots or args.generate:
            from ..golden.train import evaluate, save_weights, train

            net, _, _ = train(chosen_config.core, train_set, chosen_config.data.epochs)
            evaluation = evaluate(net, train_set, test_set,
                                  readout=chosen_config.classify.readout)
            save_weights(out / "chosen_weights.npz", chosen_config, net, evaluation.readout)
            trained = (chosen_config.core, net, evaluation, test_set)
    if not args.no_plots:
        from ..explore.report import write_plots

        plots = write_plots(out, summary, config, trained)
    seconds = time.perf_counter() - start
    from ..explore.report import write_report

    command = "plasticore " + " ".join(shlex.quote(a) for a in args.argv)
    report = write_report(out, summary, command, seconds, evaluator.trained, plots,
                          evaluator.cpu_seconds)
    chosen = summary["chosen"]
    if chosen is None:
        print(f"explore: no point meets the constraints; report in {report}")
    else:
        print(f"explore: chosen {chosen['label']}: accuracy {100 * chosen['accuracy']:.2f} "
              f"± {100 * chosen['accuracy_std']:.2f}% (baseline "
              f"{100 * summary['baseline']['accuracy']:.2f}%), "
              f"{chosen.get('latency_us', float('nan')):.1f} us/sample, "
              f"{chosen['memory_bits']} memory bits; config {out / 'chosen.toml'}")
    print(f"explore: {len(summary['rows'])} points, {evaluator.trained} runs trained in "
          f"{seconds:.0f} s ({evaluator.cpu_seconds:.0f} CPU seconds); report {report}")
    if args.generate:
        if chosen_core is None or trained is None:
            raise UserError("--generate: no point was chosen (relax --constraints)")
        return generate_chosen(out, chosen_config, trained[1], args)
    return 0


def _with_data_options(config: Config, args: argparse.Namespace) -> Config:
    """``config`` with ``--dataset``, ``--samples`` and ``--test-samples``."""
    if args.dataset is not None:
        try:
            data = dataclasses.replace(config.data, dataset=args.dataset)
        except ConfigError as exc:
            raise UserError(f"--dataset {args.dataset}: {exc}") from None
        config = dataclasses.replace(config, data=data)
    if args.samples is not None or args.test_samples is not None:
        config = dataclasses.replace(config, data=dataclasses.replace(
            config.data, train_samples=args.samples or config.data.train_samples,
            test_samples=args.test_samples or config.data.test_samples))
    return config


def cmd_explore_trained(args: argparse.Namespace) -> int:
    """``plasticore explore`` of a network trained off chip (``rule.kind = 'none'``, or
    ``'bptt'`` trained by ``plasticore train``):
    timesteps and weight widths of every layer, scored, costed and chosen
    (``plasticore/explore/trained.py``)."""
    import shlex
    import time

    from ..boards.synth import SynthError
    from ..explore.cluster import ClusterError
    from ..explore.scoring import ScoringEvaluator
    from ..explore.settings import SettingsError
    from ..explore.trained import TrainedSettings
    from ..explore.trained_report import write_trained_plots, write_trained_report
    from ..explore.trained_sweep import chosen_config, explore_trained
    from ..golden.network import Network
    from ..golden.train import WeightsError, load_weights, save_weights

    config = _with_data_options(load_for_rtl(args.config, data_path=args.data, layers=True),
                                args)
    for option, given in (("--generate", args.generate),
                          ("--search-bits", bool(args.search_bits.strip()))):
        if given:
            raise UserError(f"{option}: not for a network trained elsewhere (rule.kind = "
                            f"'none') yet; the sweep scores timesteps and weight widths")
    if args.weights is None:
        raise UserError(f"{config.source}: rule.kind = {config.network.rule.kind!r}: give "
                        "the network's weights with --weights W.npz (plasticore nir import "
                        "--weights-out, or plasticore train --weights-out), and for an "
                        "import ideally its source with --nir FILE.nir")
    try:
        layers = load_weights(args.weights, config.network)["layers"]
    except WeightsError as exc:
        raise UserError(f"--weights: {exc}") from None
    from ..explore.cost import network_synth_hook

    synth = _synth_hook(args, config, network_synth_hook)
    out = output_dir(args.out, "--out")
    train_set, test_set = datasets(config, None, None)   # fails early on a bad dataset
    try:
        settings = TrainedSettings.from_text(
            config, layers, nir=args.nir, dt=args.dt, timesteps=args.timesteps,
            weight_bits=args.weight_bits, constraints=args.constraints, seeds=args.seeds,
            validation=args.validation, cost_samples=args.cost_samples,
            clock_mhz=args.clock_mhz, minimize=args.minimize, workers=args.workers,
            scheduler=args.scheduler, scheduler_file=args.scheduler_file, synth=synth,
            forward=args.forward, lut_group=args.lut_group,
            dataset_sizes=(len(train_set), len(test_set)))
    except SettingsError as exc:
        raise UserError(str(exc)) from None
    quiet = args.quiet or not sys.stderr.isatty()

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    with settings.runner() as runner:
        evaluator = ScoringEvaluator(config, out / "cache", runner, progress=not quiet,
                                     log=None if args.quiet else say)
        try:
            summary = explore_trained(settings, evaluator, say)
        except SynthError as exc:
            raise UserError(f"--synth: {exc}") from None
        except ClusterError as exc:
            raise UserError(str(exc)) from None
    chosen, point = summary["chosen"], summary["chosen_network"]
    if point is not None:
        chosen_cfg = chosen_config(config, point)
        chosen_cfg.save(out / "chosen.toml")
        save_weights(out / "chosen_weights.npz", chosen_cfg,
                     Network(chosen_cfg.network, weights=point.weights, theta=point.theta,
                             bias=point.bias))
    plots = [] if args.no_plots else write_trained_plots(out, summary)
    seconds = time.perf_counter() - start
    command = "plasticore " + " ".join(shlex.quote(a) for a in args.argv)
    report = write_trained_report(out, summary, command, seconds, evaluator.trained, plots,
                                  evaluator.cpu_seconds)
    if chosen is None:
        print(f"explore: no point meets the constraints on the validation split; report in "
              f"{report}")
    else:
        print(f"explore: chosen {chosen['label']}: validation "
              f"{100 * chosen['validation_accuracy']:.2f}%, test "
              f"{100 * chosen['accuracy']:.2f} ± {100 * chosen['accuracy_std']:.2f}% "
              f"(baseline {100 * summary['baseline']['accuracy']:.2f}%), "
              f"{chosen['latency_us']:.1f} us/sample, {chosen['memory_bits']} memory bits; "
              f"config {out / 'chosen.toml'}")
    print(f"explore: {len(summary['rows'])} points, {evaluator.trained} runs scored in "
          f"{seconds:.0f} s ({evaluator.cpu_seconds:.0f} CPU seconds); report {report}")
    return 0


def generate_chosen(out: Path, config: Config, net: Any, args: argparse.Namespace) -> int:
    """Generate the chosen point's RTL and co-simulate its trained network."""
    from ..hdl.generate import generate, manifest_summary
    from ..sim import cosim

    manifest = generate(config.core, out / "rtl")
    print(f"explore: wrote {len(manifest['modules'])} Verilog files to {out / 'rtl'}")
    print(manifest_summary(manifest))
    try:
        with simulating():
            samples = cosim.session_samples(config.core, args.cosim_samples, False)
            result = cosim.run(config.core, samples, args.simulator, out / "cosim",
                               net.weights, net.theta)
    except ValueError as exc:
        raise UserError(f"{out / 'chosen.toml'}: {exc}") from None
    summary = result.summary()
    write_text(out / "cosim.json", json.dumps(summary, indent=1) + "\n")
    verdict = ("everything matched the golden model" if result.matched
               else f"MISMATCH: {result.difference}")
    print(f"explore: cosim of chosen.toml on {args.simulator}, {summary['samples']} "
          f"sample(s), {summary['spikes']} output spikes: {verdict}")
    return 0 if result.matched else 1


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``sub``."""
    p = sub.add_parser("explore", help="design-space explorer: timesteps and weight widths "
                                       "against accuracy, latency, memory and energy; "
                                       "picks a point under constraints")
    p.add_argument("config", help="config file or built-in name (digits, mnist-400, ...)")
    p.add_argument("--timesteps",
                   help="comma-separated timesteps per sample, at most the config's "
                        "(default: 350,200,100,50,25,10 for a 350-timestep config, the "
                        "same fractions of others)")
    p.add_argument("--weight-bits",
                   help="comma-separated weight widths, 1..16 (default: 16,8,6,4,2; for a "
                        "network trained elsewhere the file's and 2 and 4 bits fewer)")
    p.add_argument("--weights", metavar="W.npz",
                   help="a network trained off chip (rule.kind = 'none' or 'bptt'): its "
                        "weights (plasticore nir import or train --weights-out); "
                        "(plasticore nir import --weights-out); the baseline")
    p.add_argument("--nir", metavar="FILE.nir",
                   help="with --weights: the NIR file the network was imported from; each "
                        "weight width is then a fresh import (without it, narrower widths "
                        "requantize the integer weights by a rounding shift; docs/explore.md)")
    p.add_argument("--dt", type=positive_float, default=1e-4, metavar="SECONDS",
                   help="with --nir: NIR's timestep, as given to plasticore nir import "
                        "(default 1e-4)")
    p.add_argument("--forward", metavar="ENGINES",
                   help="a network trained elsewhere: comma-separated forward engines to cost "
                        "every point on, accumulate and/or lut (the LUT PE on every layer "
                        "whose input is spikes); the accuracy is the same on all and scored "
                        "once (default: the configuration's engines only)")
    p.add_argument("--lut-group", metavar="K,...",
                   help="with --forward ...,lut: comma-separated LUT group sizes, 2..6 "
                        "(default 4)")
    p.add_argument("--constraints", default="accuracy_drop<=0.02",
                   help="comma-separated METRIC<=X / >=X (accuracy, accuracy_drop, "
                        "latency_us, cycles, memory_bits, energy_nj, ...; fractions for "
                        "accuracies; default: accuracy_drop<=0.02)")
    p.add_argument("--minimize", default="energy_nj", metavar="METRIC",
                   help="among feasible Pareto-optimal points pick the lowest (default: "
                        "energy_nj)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="report, plots, chosen.toml and the run cache (DIR/cache)")
    p.add_argument("--seeds", type=positive, default=3,
                   help="seeds per point (default 3)")
    p.add_argument("--workers", type=positive, default=2,
                   help="training processes, a local Dask cluster (default 2; 1: train in "
                        "this process; not used with --scheduler)")
    scheduler_options(p, "the runs")
    p.add_argument("--clock-mhz", type=positive_float,
                   help="core clock for latency in MHz (default: the config's "
                        "board.clock_mhz)")
    p.add_argument("--dataset", choices=DATASET_NAMES,
                   help="override data.dataset")
    p.add_argument("--data", metavar="DIR", help="dataset directory (overrides data.path)")
    p.add_argument("--samples", type=positive, help="training samples (default: config)")
    p.add_argument("--test-samples", type=positive, help="test samples (default: config)")
    p.add_argument("--no-search", action="store_true",
                   help="no parameter search: the fixed rule at reduced timesteps")
    p.add_argument("--search-rounds", type=positive, default=1,
                   help="coordinate-move rounds of the parameter search, at most (default 1)")
    p.add_argument("--search-seeds", type=positive, default=1,
                   help="seeds every candidate of the search is scored on (default 1; the "
                        "finalists get 2 more)")
    p.add_argument("--search-bits", default="",
                   help="weight widths at which to search the parameters again, from the "
                        "width-moved point, at every timesteps (default: none)")
    p.add_argument("--width-transform", choices=("scale", "shift"), default="scale",
                   help="how a narrower weight treats membrane units: scale the membrane "
                        "and its parameters with the weight (default), or keep them through "
                        "widths.current_shift (docs/explore.md)")
    p.add_argument("--validation", type=positive, default=300,
                   help="training samples held out from labelling to score the search "
                        "(default 300)")
    p.add_argument("--variants", default="floor-rounding,potentiation-only,update-every-4,"
                                         "membrane-2,stochastic-normalization",
                   help="single changes measured against their point, or none (default: "
                        "all of floor-rounding, potentiation-only, update-every-4, "
                        "membrane-2, stochastic-normalization)")
    p.add_argument("--variant-bits", default="4",
                   help="weight widths the variants are measured at (default 4)")
    p.add_argument("--variant-timesteps", type=positive,
                   help="timesteps the variants are measured at (default: the config's)")
    p.add_argument("--cost-samples", type=positive, default=20,
                   help="test samples per run the cycle and energy counts average over "
                        "(default 20)")
    p.add_argument("--synth", nargs="?", const="", metavar="BOARD",
                   help="synthesize every grid point's network core for BOARD (default: the "
                        "config's board.name; Yosys, cached under build/synth): LUTs, FFs, "
                        "block RAM, DSPs and the estimated Fmax, at which each point's "
                        "latency is then taken")
    p.add_argument("--no-plots", action="store_true", help="no PNGs")
    p.add_argument("--generate", action="store_true",
                   help="generate the chosen point's RTL and co-simulate its trained "
                        "network against the golden model")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                   help="simulator for --generate (default verilator)")
    p.add_argument("--cosim-samples", type=positive, default=3,
                   help="test samples co-simulated with --generate (default 3)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_explore)
