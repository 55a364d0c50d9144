"""What every subcommand shares: one-line errors, argument types, loading a configuration
and its datasets, progress, JSON output, simulator runs."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from ..config import Config, ConfigError, load_config

__all__ = [
    "UserError", "RunFailed", "Parser", "argument", "positive", "non_negative",
    "positive_float", "int_list", "progress_bars", "stderr_progress", "load", "datasets",
    "simulating", "print_json", "scheduler_options",
]


class UserError(Exception):
    """A problem with the user's input; reported as one line, without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, ``plasticore: error: [SUBCOMMAND: ]...``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("plasticore").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"plasticore: error: {where}{message} (see plasticore {command} "
                     "--help)\n".replace("  ", " "))


def argument(convert: Callable[[str], Any], what: str,
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


positive = argument(int, "a positive integer", lambda v: v >= 1)
non_negative = argument(int, "an integer >= 0", lambda v: v >= 0)
#: ``nan`` and ``inf`` are refused
positive_float = argument(float, "a finite positive number",
                            lambda v: math.isfinite(v) and v > 0)


def progress_bars(enabled: bool) -> Callable[[str, int, int], None] | None:
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


def load(path: str, overrides: dict[str, Any] | None = None,
          data_path: str | None = None) -> Config:
    config = load_config(path)
    if data_path is not None:
        try:
            data = dataclasses.replace(config.data, path=data_path)
        except ConfigError as exc:
            raise UserError(f"--data {data_path}: {exc}") from None
        config = dataclasses.replace(config, data=data)
    if overrides:
        run = {k: v for k, v in overrides.items() if v is not None}
        if run:
            try:
                config = config.replace_network(dataclasses.replace(config.network, **run))
            except ConfigError as exc:
                raise UserError(f"{config.source}: {exc}") from None
    return config


def load_for_rtl(path: str, data_path: str | None = None, layers: bool = False) -> Config:
    """:func:`load`, then refuse (one line) a network the RTL core cannot run yet
    (``plasticore.hdl.core.check_network``); ``layers``: the caller builds the network
    core (``hdl.network.NetworkCore``) for a network of several layers."""
    from ..hdl.core import check_network

    config = load(path, data_path=data_path)
    try:
        check_network(config.network, layers=layers)
    except ConfigError as exc:
        raise UserError(f"{config.source}: {exc}") from None
    return config


def datasets(config: Config, train_samples: int | None, test_samples: int | None):
    from ..golden.datasets import load_dataset

    data, core = config.data, config.core
    if core.encoder.kind == "direct":
        raise UserError(f"{config.source}: input.kind = 'direct': a dataset of images needs "
                        "the rate encoder or current input")
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


class RunFailed(Exception):
    """A simulation that could not finish (no report): one line, exit 1."""


@contextlib.contextmanager
def simulating() -> Iterator[None]:
    """Around a simulator run: a missing simulator is a user error (exit 2), a run that
    wrote no report (a build error, a crash) a one-line failure (exit 1)."""
    from ..sim.cosim import CosimError
    from ..sim.runner import SimulatorNotFoundError

    try:
        yield
    except SimulatorNotFoundError as exc:
        raise UserError(str(exc)) from None
    except CosimError as exc:
        raise RunFailed(str(exc)) from None


def print_json(obj: Any) -> None:
    print(json.dumps(obj, sort_keys=False))


def stderr_progress(message: str) -> None:
    print(f"plasticore: {message}", file=sys.stderr, flush=True)


def int_list(option: str, text: str, lo: int, hi: int) -> list[int]:
    """``"350,200,100"`` -> ``[350, 200, 100]``; each in ``lo..hi``, no repeats (the
    explorer's rule for its lists, :func:`plasticore.explore.settings.int_list`)."""
    from ..explore.settings import SettingsError, int_list

    try:
        return int_list(option, text, lo, hi)
    except SettingsError as exc:
        raise UserError(str(exc)) from None


def scheduler_options(p: argparse.ArgumentParser, what: str) -> None:
    """``--scheduler`` / ``--scheduler-file``: train ``what`` on an existing Dask cluster
    (``docs/explore.md``, README "Sweeps on a cluster")."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help=f"train {what} on the workers of this running Dask scheduler")
    group.add_argument("--scheduler-file", metavar="FILE",
                       help="the same, the address read from the file `dask scheduler "
                            "--scheduler-file FILE` writes")


def training_outputs(args: argparse.Namespace, config: Config, net: Any, evaluation: Any,
                     summary: dict[str, Any], plots: Callable[[Path], list[Path]],
                     show: Callable[[Config, dict[str, Any]], None]) -> int:
    """The end of ``plasticore train``, whatever the rule: the weights file
    (``--weights-out``), the pictures ``plots(folder)`` writes (``--plots``), then the
    summary as JSON (``--json``) or as ``show`` prints it; the files are named in it."""
    from ..golden.train import save_weights

    if args.weights_out:
        save_weights(args.weights_out, config, net, evaluation.readout)
        summary["weights"] = str(args.weights_out)
    if args.plots:
        summary["plots"] = [str(p) for p in plots(Path(args.plots))]
    if args.json:
        print_json(summary)
    else:
        show(config, summary)
    return 0
