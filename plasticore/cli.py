"""The ``plasticore`` command line.

Every user-facing job is a subcommand; the Makefile targets are thin wrappers over these.
User errors (bad config, dataset path, weights file, arguments) print one line,
``plasticore: error: ...``, and exit with status 2; nothing else is written.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .config import Config, ConfigError, load_config
from .files import OutputError, output_dir, output_file, write_text
from .golden.datasets import DATASET_NAMES

__all__ = ["main", "UserError"]


class UserError(Exception):
    """A problem with the user's input; reported as one line, without a traceback."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, ``plasticore: error: [SUBCOMMAND: ]...``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("plasticore").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"plasticore: error: {where}{message} (see plasticore {command} "
                     "--help)\n".replace("  ", " "))


# -- helpers ----------------------------------------------------------------------------


def _argument(convert: Callable[[str], Any], what: str,
              valid: Callable[[Any], bool]) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert(text)``, refused (one line) unless ``valid``."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not valid(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what          # argparse names the type by it in some messages
    return parse


_positive = _argument(int, "a positive integer", lambda v: v >= 1)
_non_negative = _argument(int, "an integer >= 0", lambda v: v >= 0)
#: ``nan`` and ``inf`` are refused
_positive_float = _argument(float, "a finite positive number",
                            lambda v: math.isfinite(v) and v > 0)


def _progress(enabled: bool) -> Callable[[str, int, int], None] | None:
    """A ``(phase, done, total)`` callback drawing tqdm bars on a terminal, else ``None``."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=total, desc=f"{phase:>5}", unit="sample",
                                     leave=False, file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def _load(path: str, overrides: dict[str, Any] | None = None,
          data_path: str | None = None) -> Config:
    config = load_config(path)
    if data_path is not None:
        try:
            data = dataclasses.replace(config.data, path=data_path)
        except ConfigError as exc:
            raise UserError(f"--data {data_path}: {exc}") from None
        config = dataclasses.replace(config, data=data)
    if overrides:
        core = config.core.replace(**{k: v for k, v in overrides.items() if v is not None})
        config = dataclasses.replace(config, core=core)
    return config


def _datasets(config: Config, train_samples: int | None, test_samples: int | None):
    from .golden.datasets import load_dataset

    data, core = config.data, config.core
    if core.encoder.kind != "rate":
        raise UserError(f"{config.source}: encoder.kind = {core.encoder.kind!r}: training on "
                        "a dataset needs the rate encoder")
    train_set, test_set = load_dataset(data.dataset, data.path or None, core.encoder.pixel_bits)
    if train_set.n_pixels != core.n_inputs:
        raise UserError(f"{config.source}: n_inputs = {core.n_inputs}, but {data.dataset} "
                        f"images have {train_set.n_pixels} pixels")
    if train_set.n_classes != config.classify.n_classes:
        raise UserError(f"{config.source}: classify.n_classes = {config.classify.n_classes}, "
                        f"but {data.dataset} has {train_set.n_classes} classes")

    def take(ds, wanted: int | None, default: int, what: str):
        n = wanted if wanted is not None else (default or len(ds))
        if n > len(ds):
            raise UserError(f"{what} = {n}: the {data.dataset} split has only {len(ds)}")
        return ds.subset(0, n)

    return (take(train_set, train_samples, data.train_samples, "train samples"),
            take(test_set, test_samples, data.test_samples, "test samples"))


class _RunFailed(Exception):
    """A simulation that could not finish (no report): one line, exit 1."""


@contextlib.contextmanager
def _simulating() -> Iterator[None]:
    """Around a simulator run: a missing simulator is a user error (exit 2), a run that
    wrote no report (a build error, a crash) a one-line failure (exit 1)."""
    from .sim.cosim import CosimError
    from .sim.runner import SimulatorNotFoundError

    try:
        yield
    except SimulatorNotFoundError as exc:
        raise UserError(str(exc)) from None
    except CosimError as exc:
        raise _RunFailed(str(exc)) from None


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=False))


# -- subcommands ------------------------------------------------------------------------


def cmd_config_check(args: argparse.Namespace) -> int:
    """The configuration resolved in the layered form (also from a file in the old flat
    form), and every derived width of each layer: in TOML with the widths as comments after
    it (a valid file), or with ``--json`` in each layer's ``derived``."""
    config = _load(args.config)
    network = config.network
    derived = [network.core(i).derived.to_dict() for i in range(len(network.layers))]
    if args.json:
        out = config.to_dict()
        for layer, widths in zip(out["layers"], derived, strict=True):
            layer["derived"] = widths
        _print_json(out)
        return 0
    print(f"# {config.source}: valid")
    print(config.to_toml(), end="")
    for i, widths in enumerate(derived):
        print(f"\n# layers[{i}]: derived (computed, read-only)")
        for key, value in widths.items():
            print(f"# {key} = {value}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .golden.train import TrainResult, evaluate, save_weights, train

    if args.enhance and args.timesteps is None:
        raise UserError("--enhance needs --timesteps T (fewer than the config's)")
    timesteps = None if args.enhance else args.timesteps
    config = _load(args.config, {"timesteps": timesteps, "seed": args.seed}, args.data)
    if args.enhance:
        from .topspark import reduce_timesteps

        config = dataclasses.replace(config,
                                     core=reduce_timesteps(config.core, args.timesteps))
    if not config.core.stdp.learn:
        raise UserError(f"{config.source}: stdp.learn = false: nothing to train")
    epochs = args.epochs or config.data.epochs
    train_set, test_set = _datasets(config, args.samples, args.test_samples)
    progress = _progress(sys.stderr.isatty() and not args.quiet)
    if args.weights_out:
        if args.arithmetic != "integer":
            raise UserError("--weights-out needs --arithmetic integer (the float reference "
                            "has no fixed-point weights)")
        output_file(args.weights_out, "--weights-out")
    if args.plots:
        output_dir(args.plots, "--plots")
    net, seconds, input_spikes = train(config.core, train_set, epochs, args.arithmetic,
                                       progress)
    evaluation = evaluate(net, train_set, test_set, progress, config.classify.readout)
    result = TrainResult(net, evaluation, len(train_set), epochs, seconds, input_spikes)
    summary = result.summary(config)
    if args.weights_out:
        save_weights(args.weights_out, config, net, evaluation.readout)
        summary["weights"] = str(args.weights_out)
    if args.plots:
        from .plots import training_plots

        summary["plots"] = [str(p) for p in training_plots(Path(args.plots), config, net,
                                                            evaluation, test_set)]
    if args.json:
        _print_json(summary)
    else:
        _print_summary(config, summary)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .golden.network import Network
    from .golden.train import evaluate, load_weights

    config = _load(args.config, data_path=args.data)
    data = load_weights(args.weights, config.core)
    net = Network(config.core, weights=data["weights"], theta=data["theta"])
    train_set, test_set = _datasets(config, args.label_samples, args.test_samples)
    progress = _progress(sys.stderr.isatty() and not args.quiet)
    evaluation = evaluate(net, train_set, test_set, progress, config.classify.readout)
    summary = {
        "config": config.source,
        "weights": str(args.weights),
        "accuracy": round(evaluation.accuracy, 6),
        "timesteps": config.core.timesteps,
        "label_samples": len(train_set),
        "test_samples": len(test_set),
        "spikes_per_sample": round(evaluation.spikes_per_sample, 3),
        "seconds": round(evaluation.seconds, 3),
    }
    if "config_mismatch" in data:
        summary["warning"] = "the weights were trained with a different core configuration"
    if args.json:
        _print_json(summary)
    else:
        if "warning" in summary:
            print(f"warning: {summary['warning']}", file=sys.stderr)
        print(f"accuracy {100 * evaluation.accuracy:.2f}% on {len(test_set)} test samples "
              f"(labels from {len(train_set)} training samples), "
              f"{evaluation.spikes_per_sample:.1f} output spikes/sample, "
              f"{evaluation.seconds:.1f} s")
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from .sim import regress

    sims = [args.sim] if args.sim and args.sim != "both" else []
    if args.sim == "both":
        sims = ["verilator", "icarus"]
    return regress.main(sims, args.waves, args.quick, args.pytest_args)


def cmd_generate(args: argparse.Namespace) -> int:
    from .hdl.generate import generate, manifest_summary

    config = _load(args.config)
    out = output_dir(args.out, "--out")
    manifest = generate(config.core, out)
    if args.json:
        _print_json(manifest)
        return 0
    print(f"{config.source}: wrote {len(manifest['modules'])} Verilog files and "
          f"manifest.json to {out}")
    print(manifest_summary(manifest))
    return 0


def cmd_cosim(args: argparse.Namespace) -> int:
    from .golden.train import load_weights
    from .sim import cosim
    from .sim.regress import repo_root

    config = _load(args.config)
    core = config.core
    if args.samples < 1:
        raise UserError(f"--samples {args.samples}: must be at least 1")
    weights = theta = None
    if args.weights:
        loaded = load_weights(args.weights, core)
        weights, theta = loaded["weights"], loaded["theta"]
    try:
        with _simulating():
            samples = cosim.session_samples(core, args.samples, args.learn)
            result = cosim.run(core, samples, args.simulator,
                               repo_root() / "build" / "cosim", weights, theta,
                               waves=args.waves)
    except ValueError as exc:
        raise UserError(f"{config.source}: {exc}") from None
    summary = result.summary()
    if args.json:
        _print_json(summary)
    else:
        verdict = ("everything matched the golden model" if result.matched
                   else f"MISMATCH: {result.difference}")
        print(f"{config.source}: snn_core on {args.simulator}, {summary['samples']} "
              f"sample(s) with learning {'on' if args.learn else 'off'}, "
              f"{summary['spikes']} output spikes: {verdict}")
        if summary["timesteps"]:
            print(f"cycles per timestep: measured {summary['cycles_per_timestep_measured']:.1f}"
                  f" (max {summary['cycles_per_timestep_max']:.0f}), predicted by the cycle "
                  f"model {summary['cycles_per_timestep_predicted']:.1f}")
    return 0 if result.matched else 1


def _board_network(config: Config, weights_path: str):
    """Weights, thresholds and the readout's class rates of a trained network."""
    from .golden.train import load_weights

    loaded = load_weights(weights_path, config.core)
    if "class_rates" not in loaded:
        raise UserError(f"{weights_path}: no readout in the weights file (class_rates); "
                        "write it with `plasticore train --weights-out`")
    rates = loaded["class_rates"]
    if rates.shape != (config.classify.n_classes, config.core.n_neurons):
        raise UserError(f"{weights_path}: class_rates have shape {rates.shape}, the config "
                        f"needs ({config.classify.n_classes}, {config.core.n_neurons})")
    return loaded["weights"], loaded["theta"], rates.astype(float)   # checked by load_weights


def cmd_board_run(args: argparse.Namespace) -> int:
    from .boards.host import BoardLink, LinkError, SerialTransport, run_test_set
    from .boards.protocol import Geometry

    config = _load(args.config)
    Geometry.of(config)                 # a configuration the host link cannot carry: exit 2
    weights, theta, rates = _board_network(config, args.weights)
    _, test_set = _datasets(config, 0, args.samples)
    images, labels = test_set.images, test_set.labels
    if args.simulate:
        from .boards import board_sim
        from .sim.regress import repo_root

        with _simulating():
            sim = board_sim.run(config, weights, theta, rates, images, labels,
                                args.simulate, repo_root() / "build" / "board-sim")
        summary = dict(sim.report)
        where = f"simulated board ({args.simulate})"
    else:
        bar = _progress(sys.stderr.isatty())
        transport = None
        try:
            transport = SerialTransport(args.port, config.board.baud)
            link = BoardLink(transport, config)
            report = run_test_set(link, weights, theta, rates, images, labels,
                                  progress=(lambda d, t: bar("board", d, t)) if bar else None)
        except LinkError as exc:
            message = str(exc)
            raise UserError(message if message.startswith(args.port)
                            else f"{args.port}: {message}") from None
        finally:
            if transport is not None:
                transport.close()
        summary = {"samples": report.samples, "counts_equal": report.counts_equal,
                   "class_equal": report.class_equal, "correct": report.correct,
                   "float_agree": report.float_agree, "cycles": report.cycles,
                   "first_mismatch": report.first_mismatch}
        where = f"board on {args.port}"
    n = summary["samples"]
    matched = n == len(labels) and summary["counts_equal"] == summary["class_equal"] == n
    cycles = summary.pop("cycles", [])
    summary["cycles_per_sample"] = sum(cycles) / len(cycles) if cycles else 0.0
    summary["matched"] = matched
    if args.json:
        _print_json(summary)
    else:
        verdict = ("every count and class equal to the golden model" if matched
                   else f"MISMATCH: {summary['first_mismatch'] or 'samples missing'}")
        print(f"{config.source}: {where}, {n} test sample(s): {verdict}")
        if n:
            print(f"accuracy {100 * summary['correct'] / n:.2f} % (on-board integer readout; "
                  f"it agrees with the float readout on {summary['float_agree']}/{n}); "
                  f"{summary['cycles_per_sample']:.0f} core cycles per sample")
    return 0 if matched else 1


def cmd_board_fuzz(args: argparse.Namespace) -> int:
    import numpy as np

    from .boards import board_sim
    from .golden.network import Network
    from .sim.regress import repo_root

    config = _load(args.config)
    net = Network(config.core)
    rng = np.random.default_rng(args.seed)
    rates = rng.random((config.classify.n_classes, config.core.n_neurons))
    with _simulating():
        sim = board_sim.run(config, net.weights, net.theta, rates, np.zeros((0, 1)),
                            np.zeros(0), args.simulator, repo_root() / "build" / "board-sim",
                            fuzz_frames=args.frames, seed=args.seed)
    if args.json:
        _print_json({"passed": sim.passed, **sim.report})
    elif sim.passed:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(sim.report["kinds"].items()))
        print(f"{config.source}: {args.frames} fuzz frames on {args.simulator} ({kinds}): "
              "every one answered as the protocol says, weights, thresholds and votes "
              "unchanged")
    else:
        print(f"{config.source}: fuzzing FAILED; see build/board-sim/*{args.simulator}*/"
              "sim.log", file=sys.stderr)
    return 0 if sim.passed else 1


def cmd_board_serve(args: argparse.Namespace) -> int:
    import time

    from .boards.fakeboard import FakeBoard, PtyBoard
    from .boards.protocol import Geometry

    config = _load(args.config)
    Geometry.of(config)                 # a configuration the host link cannot carry: exit 2
    with PtyBoard(FakeBoard(config), line_rate=args.line_rate) as pty:
        print(f"{config.source}: fake board on {pty.path}: plasticore board run "
              f"{args.config} --weights F.npz --port {pty.path} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while pty.error is None:
                time.sleep(0.2)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import runner as bench_runner

    args.timesteps = _int_list("--timesteps", args.timesteps, 1, 1 << 20)
    # the core benchmark's 784-400 latency rows, per PE and encoder lane count
    if args.n_pe:
        args.n_pe = _int_list("--n-pe", args.n_pe, 1, 1024)
    if args.lanes:
        args.lanes = _int_list("--lanes", args.lanes, 1, 1 << 16)
    if args.row_banks:
        args.row_banks = _int_list("--row-banks", args.row_banks, 1, 1024)
    output_dir(args.out, "--out")
    from .explore.cluster import ClusterError

    try:
        return bench_runner.main(args)
    except ClusterError as exc:
        raise UserError(str(exc)) from None


def _stderr_progress(message: str) -> None:
    print(f"plasticore: {message}", file=sys.stderr, flush=True)


def cmd_synth(args: argparse.Namespace) -> int:
    from .boards.synth import SynthError, synthesize

    config = _load(args.config)
    if args.build_dir:
        output_dir(args.build_dir, "--build-dir")
    try:
        report = synthesize(config, args.board, args.design, build_root=args.build_dir,
                            force=args.force,
                            progress=None if args.quiet else _stderr_progress)
    except SynthError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        _print_json(report.to_dict())
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
    from .boards.bitstream import BitstreamError, build_bitstream

    config = _load(args.config)
    if args.build_dir:
        output_dir(args.build_dir, "--build-dir")
    try:
        result = build_bitstream(config, args.board, args.toolchain, build_root=args.build_dir,
                                 progress=None if args.quiet else _stderr_progress)
    except BitstreamError as exc:
        raise UserError(str(exc)) from None
    timing = result.timing
    if args.json:
        _print_json(result.to_dict())
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


def _int_list(option: str, text: str, lo: int, hi: int) -> list[int]:
    """``"350,200,100"`` -> ``[350, 200, 100]``; each in ``lo..hi``, no repeats (the
    explorer's rule for its lists, :func:`plasticore.explore.settings.int_list`)."""
    from .explore.settings import SettingsError, int_list

    try:
        return int_list(option, text, lo, hi)
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def cmd_explore(args: argparse.Namespace) -> int:
    import shlex
    import time

    from .boards.synth import SynthError
    from .explore.cluster import ClusterError
    from .explore.grid import Evaluator
    from .explore.settings import Settings, SettingsError
    from .explore.sweep import explore

    config = _load(args.config, data_path=args.data)
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
    synth = None
    if args.synth is not None:
        from .boards.catalog import board_named
        from .boards.synth import find_yosys
        from .explore.cost import synth_hook

        board = args.synth or config.board.name
        try:
            board_named(board)
            find_yosys()
        except (ConfigError, SynthError) as exc:
            raise UserError(f"--synth {board}: {exc}") from None
        synth = synth_hook(config, board, progress=None if args.quiet else _stderr_progress)
    out = output_dir(args.out, "--out")
    train_set, test_set = _datasets(config, None, None)   # fails early on a bad dataset
    try:
        settings = Settings.from_text(
            config, timesteps=args.timesteps, weight_bits=args.weight_bits,
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
            from .golden.train import evaluate, save_weights, train

            net, _, _ = train(chosen_config.core, train_set, chosen_config.data.epochs)
            evaluation = evaluate(net, train_set, test_set,
                                  readout=chosen_config.classify.readout)
            save_weights(out / "chosen_weights.npz", chosen_config, net, evaluation.readout)
            trained = (chosen_config.core, net, evaluation, test_set)
    if not args.no_plots:
        from .explore.report import write_plots

        plots = write_plots(out, summary, config, trained)
    seconds = time.perf_counter() - start
    from .explore.report import write_report

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
        return _generate_chosen(out, chosen_config, trained[1], args)
    return 0


def _generate_chosen(out: Path, config: Config, net: Any, args: argparse.Namespace) -> int:
    """Generate the chosen point's RTL and co-simulate its trained network."""
    from .hdl.generate import generate, manifest_summary
    from .sim import cosim

    manifest = generate(config.core, out / "rtl")
    print(f"explore: wrote {len(manifest['modules'])} Verilog files to {out / 'rtl'}")
    print(manifest_summary(manifest))
    try:
        with _simulating():
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


def _print_summary(config: Config, s: dict[str, Any]) -> None:
    c = config.core
    print(f"{config.source}: {c.n_inputs} inputs, {c.n_neurons} neurons, {c.timesteps} "
          f"timesteps, {c.widths.weight}-bit weights ({s['arithmetic']} arithmetic)")
    print(f"trained on {s['train_samples']} samples x {s['epochs']} epoch(s) in "
          f"{s['train_seconds']:.1f} s ({s['ms_per_train_sample']:.1f} ms/sample)")
    print(f"accuracy {100 * s['accuracy']:.2f}% on {s['test_samples']} test samples, "
          f"{s['spikes_per_sample']:.1f} output spikes/sample")
    if "weights" in s:
        print(f"weights written to {s['weights']}")
    for p in s.get("plots", []):
        print(f"plot written to {p}")


# -- parser -----------------------------------------------------------------------------


def _board_job(sub: Any, name: str, help: str, build_dir: str) -> argparse.ArgumentParser:
    """A subcommand that builds for a board: CONFIG, --board, --build-dir, --json, --quiet."""
    from .config import BOARD_NAMES

    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.add_argument("config")
    p.add_argument("--board", choices=BOARD_NAMES,
                   help="board (default: the config's [board] name)")
    p.add_argument("--build-dir", metavar="DIR", help=build_dir)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def _scheduler_options(p: argparse.ArgumentParser, what: str) -> None:
    """``--scheduler`` / ``--scheduler-file``: train ``what`` on an existing Dask cluster
    (``docs/explore.md``, README "Sweeps on a cluster")."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help=f"train {what} on the workers of this running Dask scheduler")
    group.add_argument("--scheduler-file", metavar="FILE",
                       help="the same, the address read from the file `dask scheduler "
                            "--scheduler-file FILE` writes")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="plasticore", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"plasticore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="unsupervised STDP training, label assignment, test")
    p.add_argument("config", help="config file or built-in name (digits, mnist-400, ...)")
    p.add_argument("--samples", type=_positive, help="training samples (default: config)")
    p.add_argument("--test-samples", type=_positive, help="test samples (default: config)")
    p.add_argument("--timesteps", type=_positive, help="timesteps per sample")
    p.add_argument("--enhance", action="store_true",
                   help="with fewer --timesteps than the config: enhance the neuron "
                        "parameters for the shorter sample (TopSpark-style, see "
                        "plasticore/topspark.py)")
    p.add_argument("--epochs", type=_positive, help="training epochs (default: config)")
    p.add_argument("--seed", type=_non_negative, help="override the config seed")
    p.add_argument("--data", metavar="DIR", help="dataset directory (overrides data.path)")
    p.add_argument("--arithmetic", choices=("integer", "float"), default="integer",
                   help="fixed-point model (default) or the float64 reference")
    p.add_argument("--weights-out", metavar="F.npz", help="write the trained weights here")
    p.add_argument("--plots", metavar="DIR", help="write receptive-field and raster PNGs")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate trained weights (label pass + test pass)")
    p.add_argument("config")
    p.add_argument("--weights", required=True, metavar="F.npz")
    p.add_argument("--data", metavar="DIR", help="dataset directory (overrides data.path)")
    p.add_argument("--label-samples", type=_positive,
                   help="training samples used to label neurons (default: config)")
    p.add_argument("--test-samples", type=_positive)
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", required=True, parser_class=_Parser)
    c = csub.add_parser("check", help="validate and print the resolved config (layered "
                                      "form) and every derived width of each layer")
    c.add_argument("config")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_config_check)

    p = sub.add_parser("generate", help="write the Verilog of the PEs and the core, and a "
                                        "JSON manifest")
    p.add_argument("config")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print the manifest")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("cosim", help="co-simulate the network core of a config against "
                                     "the golden model (exit 1 on the first mismatch)")
    p.add_argument("config")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.add_argument("--samples", type=int, default=4, metavar="N",
                   help="samples to run (digits test images for 64 inputs, random pixels "
                        "otherwise; default 4)")
    p.add_argument("--learn", action="store_true", help="learning on")
    p.add_argument("--weights", metavar="F.npz", help="trained weights and thresholds")
    p.add_argument("--waves", action="store_true", help="write waveforms (FST/VCD)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_cosim)

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
    b.add_argument("--samples", type=_positive, metavar="N",
                   help="test samples (default: the config's data.test_samples, else all)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_board_run)
    b = bsub.add_parser("fuzz", help="random and malformed frames against the simulated "
                                     "board: every one answered, nothing changed")
    b.add_argument("config")
    b.add_argument("--frames", type=_positive, default=1000, metavar="N",
                   help="frames to send (default 1000)")
    b.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    b.add_argument("--seed", type=_non_negative, default=0)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=cmd_board_fuzz)
    b = bsub.add_parser("serve", help="a fake board on a new pseudo-terminal, answering the "
                                      "host link from the golden model (Ctrl-C stops it)")
    b.add_argument("config")
    b.add_argument("--line-rate", action="store_true",
                   help="pace the replies at board.baud (10 bits a byte), as a UART would")
    b.set_defaults(func=cmd_board_serve)

    p = sub.add_parser("sim", help="cocotb regressions under Verilator and Icarus, with a "
                                   "summary table (extra arguments go to pytest)")
    p.add_argument("--sim", choices=("verilator", "icarus", "both"),
                   help="simulator (default: env SIM, else both)")
    p.add_argument("--waves", action="store_true", help="write waveforms (FST/VCD)")
    p.add_argument("--quick", action="store_true", help="the CI subset only")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("bench", help="benchmarks: BindsNET side by side, accuracy over "
                                     "seeds and timesteps, core cycles against their "
                                     "bound, Verilator/Icarus ratio")
    p.add_argument("what", nargs="?", default="all",
                   choices=("all", "peer", "accuracy", "core", "sim", "link"),
                   help="which benchmark (default: all)")
    p.add_argument("--config", default="digits", help="config (default: digits)")
    p.add_argument("--seeds", type=_positive, default=3, help="seeds per setting (default 3)")
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
    p.add_argument("--clock-mhz", type=_positive_float, metavar="MHZ",
                   help="core clock of the core benchmark's latencies (default: each "
                        "config's board.clock_mhz)")
    p.add_argument("--out", default="build/bench", metavar="DIR",
                   help="where JSON results and tables go (default: build/bench)")
    p.add_argument("--workers", type=_positive,
                   help="worker processes for the accuracy grid (default: the CPU count)")
    _scheduler_options(p, "the accuracy grid's runs")
    p.add_argument("--samples", type=_positive, default=200, metavar="N",
                   help="samples the link benchmark sends (default 200)")
    p.add_argument("--setup", action="store_true",
                   help="install the bench extra (CPU torch, BindsNET) and exit")
    p.set_defaults(func=cmd_bench)

    p = _board_job(sub, "synth", "Yosys synthesis for a board's FPGA: utilization, logic "
                                 "depth, estimated Fmax (exit 1 when it does not fit)",
                   "cache root (default: build/synth)")
    p.add_argument("--design", choices=("board", "core"), default="board",
                   help="the board top (default) or the bare network core, whose streams "
                        "are top-level ports")
    p.add_argument("--force", action="store_true", help="re-run even when a report is cached")
    p.set_defaults(func=cmd_synth)

    p = _board_job(sub, "bitstream", "Amaranth's Xilinx build of the board top (Vivado "
                                     "or the open Xray flow); without either, write the "
                                     "build tree and say what is missing",
                   "build root (default: build/bitstream)")
    p.add_argument("--toolchain", choices=("auto", "vivado", "xray"), default="auto",
                   help="auto (default): Vivado when on PATH, else the Xray flow")
    p.set_defaults(func=cmd_bitstream)


    p = sub.add_parser("explore", help="design-space explorer: timesteps and weight widths "
                                       "against accuracy, latency, memory and energy; "
                                       "picks a point under constraints")
    p.add_argument("config", help="config file or built-in name (digits, mnist-400, ...)")
    p.add_argument("--timesteps",
                   help="comma-separated timesteps per sample, at most the config's "
                        "(default: 350,200,100,50,25,10 for a 350-timestep config, the "
                        "same fractions of others)")
    p.add_argument("--weight-bits", default="16,8,6,4,2",
                   help="comma-separated weight widths, 1..16 (default: 16,8,6,4,2)")
    p.add_argument("--constraints", default="accuracy_drop<=0.02",
                   help="comma-separated METRIC<=X / >=X (accuracy, accuracy_drop, "
                        "latency_us, cycles, memory_bits, energy_nj, ...; fractions for "
                        "accuracies; default: accuracy_drop<=0.02)")
    p.add_argument("--minimize", default="energy_nj", metavar="METRIC",
                   help="among feasible Pareto-optimal points pick the lowest (default: "
                        "energy_nj)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="report, plots, chosen.toml and the run cache (DIR/cache)")
    p.add_argument("--seeds", type=_positive, default=3,
                   help="seeds per point (default 3)")
    p.add_argument("--workers", type=_positive, default=2,
                   help="training processes, a local Dask cluster (default 2; 1: train in "
                        "this process; not used with --scheduler)")
    _scheduler_options(p, "the runs")
    p.add_argument("--clock-mhz", type=_positive_float,
                   help="core clock for latency in MHz (default: the config's "
                        "board.clock_mhz)")
    p.add_argument("--dataset", choices=DATASET_NAMES,
                   help="override data.dataset")
    p.add_argument("--data", metavar="DIR", help="dataset directory (overrides data.path)")
    p.add_argument("--samples", type=_positive, help="training samples (default: config)")
    p.add_argument("--test-samples", type=_positive, help="test samples (default: config)")
    p.add_argument("--no-search", action="store_true",
                   help="no parameter search: the fixed rule at reduced timesteps")
    p.add_argument("--search-rounds", type=_positive, default=1,
                   help="coordinate-move rounds of the parameter search, at most (default 1)")
    p.add_argument("--search-seeds", type=_positive, default=1,
                   help="seeds every candidate of the search is scored on (default 1; the "
                        "finalists get 2 more)")
    p.add_argument("--search-bits", default="",
                   help="weight widths at which to search the parameters again, from the "
                        "width-moved point, at every timesteps (default: none)")
    p.add_argument("--width-transform", choices=("scale", "shift"), default="scale",
                   help="how a narrower weight treats membrane units: scale the membrane "
                        "and its parameters with the weight (default), or keep them through "
                        "widths.current_shift (docs/explore.md)")
    p.add_argument("--validation", type=_positive, default=300,
                   help="training samples held out from labelling to score the search "
                        "(default 300)")
    p.add_argument("--variants", default="floor-rounding,potentiation-only,update-every-4,"
                                         "membrane-2,stochastic-normalization",
                   help="single changes measured against their point, or none (default: "
                        "all of floor-rounding, potentiation-only, update-every-4, "
                        "membrane-2, stochastic-normalization)")
    p.add_argument("--variant-bits", default="4",
                   help="weight widths the variants are measured at (default 4)")
    p.add_argument("--variant-timesteps", type=_positive,
                   help="timesteps the variants are measured at (default: the config's)")
    p.add_argument("--cost-samples", type=_positive, default=20,
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
    p.add_argument("--cosim-samples", type=_positive, default=3,
                   help="test samples co-simulated with --generate (default 3)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_explore)

    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that it unwinds as on Ctrl-C: worker pools
    stopped, temporary files removed (``plasticore.files.replacing``)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return int(args.func(args))
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        print(f"plasticore: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        return 1
    except (UserError, ConfigError, OutputError) as exc:
        return _user_error(exc)
    except _RunFailed as exc:
        print(f"plasticore: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        # Dataset, weights-file and other input checks raise ValueError subclasses.
        from .golden.datasets import DatasetError
        from .golden.train import WeightsError

        if isinstance(exc, DatasetError | WeightsError):
            return _user_error(exc)
        raise
    except OSError as exc:
        return _user_error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _user_error(exc: object) -> int:
    message = " ".join(str(exc).split())
    print(f"plasticore: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
