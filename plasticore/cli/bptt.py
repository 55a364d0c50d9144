"""``plasticore train`` for a network with ``rule.kind = "bptt"``: supervised training by
backpropagation through time (:func:`plasticore.golden.bptt.train_bptt`), then the test pass
(:func:`plasticore.golden.train.evaluate`), a summary or one JSON object, the weights file
and the plots.

The trainer chooses the epoch on the validation samples it holds out of the training split
(``rule.validation``); the test split is only reported, never used to choose.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..config import SUPERVISED_READOUTS, Config
from ..files import output_dir, output_file
from .common import UserError, datasets, load, progress_bars, training_outputs

__all__ = ["cmd_train_bptt", "summary_of", "epoch_line"]


def cmd_train_bptt(args: argparse.Namespace) -> int:
    """``plasticore train CONFIG`` for ``rule.kind = "bptt"`` (the STDP-only options
    refused, one line each, before anything is read or written)."""
    if args.enhance:
        raise UserError(f"{args.config}: --enhance is for STDP training (TopSpark's neuron "
                        "parameters); rule.kind = 'bptt' trains at the timesteps it runs "
                        "(--timesteps)")
    if args.arithmetic != "integer":
        raise UserError(f"{args.config}: --arithmetic {args.arithmetic} is STDP's float "
                        "reference; a BPTT network's forward pass is integer, its backward "
                        "pass is rule.backward = 'float' | 'integer'")
    config = load(args.config, {"timesteps": args.timesteps, "seed": args.seed}, args.data)
    train_set, test_set = datasets(config, args.samples, args.test_samples)
    bptt = config.network.rule.bptt
    assert bptt is not None                     # rule.kind = "bptt" always has its table
    if config.classify.readout not in SUPERVISED_READOUTS:
        raise UserError(f"{config.source}: classify.readout = {config.classify.readout!r}: "
                        "BPTT trains a supervised readout (output neuron c is class c: "
                        f"{', '.join(SUPERVISED_READOUTS)})")
    if bptt.validation >= len(train_set):
        raise UserError(f"{config.source}: rule.validation = {bptt.validation}: must be "
                        f"below the {len(train_set)} training samples (--samples)")
    if args.weights_out:
        output_file(args.weights_out, "--weights-out")
    if args.plots:
        output_dir(args.plots, "--plots")
    from ..golden.bptt import train_bptt
    from ..golden.train import evaluate

    progress = progress_bars(sys.stderr.isatty() and not args.quiet)
    planned = args.epochs or config.data.epochs

    def show(stats: Any) -> None:
        """An epoch's line on stderr as it ends (above the progress bars, if any)."""
        line = epoch_line(stats, planned)
        if progress is None:
            print(line, file=sys.stderr, flush=True)
        else:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr)

    result = train_bptt(config, train_set, args.epochs, progress,
                        None if args.quiet else show)
    evaluation = evaluate(result.network, train_set, test_set, progress,
                          config.classify.readout)
    summary = summary_of(config, result, evaluation, len(train_set), bptt.validation)

    def plots(folder: Path) -> list[Path]:
        from ..plots_bptt import bptt_plots

        return bptt_plots(folder, config, result, evaluation, test_set)

    return training_outputs(args, config, result.network, evaluation, summary, plots,
                            print_summary)


def epoch_line(stats: Any, epochs: int) -> str:
    """One epoch of the trainer's history (``EpochStats``, epochs counted from 0) as the
    line printed on stderr (counted from 1, as everything the user sees)."""
    validation = ("" if stats.validation_accuracy is None
                  else f", validation {100 * stats.validation_accuracy:.2f}%")
    return (f"plasticore: epoch {stats.epoch + 1}/{epochs}: loss {stats.loss:.4f}, train "
            f"{100 * stats.train_accuracy:.2f}%{validation}, learning rate "
            f"{stats.learning_rate:.3g}, {stats.seconds:.1f} s")


def summary_of(config: Config, result: Any, evaluation: Any, train_samples: int,
               validation: int) -> dict[str, Any]:
    """The JSON-ready summary: the test accuracy (``accuracy``, as ``plasticore eval``
    reports it), the kept epoch's validation accuracy, the history and the speed.  Epochs
    count from 1 here (``best_epoch``, ``history[i]["epoch"]``); the trainer's from 0."""
    bptt = config.network.rule.bptt
    assert bptt is not None
    best = next((s for s in result.history if s.epoch == result.best_epoch), None)
    n_test = int(len(evaluation.predictions))
    return {
        "config": config.source,
        "dataset": config.data.dataset,
        "rule": "bptt",
        "backward": bptt.backward,
        "readout": config.classify.readout,
        "accuracy": round(evaluation.accuracy, 6),
        "validation_accuracy": (None if best is None or best.validation_accuracy is None
                                else round(best.validation_accuracy, 6)),
        "best_epoch": result.best_epoch + 1,
        "epochs": len(result.history),
        "timesteps": config.network.timesteps,
        "layers": [layer.n_neurons for layer in config.network.layers],
        "train_samples": train_samples - validation,
        "validation_samples": validation,
        "test_samples": n_test,
        "spikes_per_sample": round(evaluation.spikes_per_sample, 3),
        "layer_spikes_per_sample": [round(x, 3) for x in evaluation.layer_spikes_per_sample],
        "train_seconds": round(result.seconds, 3),
        "samples_per_second": round(result.samples_per_second, 3),
        "eval_seconds": round(evaluation.seconds, 3),
        "seconds": round(result.seconds + evaluation.seconds, 3),
        "seed": config.network.seed,
        "history": [_epoch_dict(s) for s in result.history],
    }


def _epoch_dict(stats: Any) -> dict[str, Any]:
    return {"epoch": stats.epoch + 1, "loss": round(float(stats.loss), 6),
            "train_accuracy": round(float(stats.train_accuracy), 6),
            "validation_accuracy": (None if stats.validation_accuracy is None
                                    else round(float(stats.validation_accuracy), 6)),
            "learning_rate": float(stats.learning_rate),
            "seconds": round(float(stats.seconds), 3),
            "layer_rates": [round(float(r), 6) for r in stats.layer_rates]}


def print_summary(config: Config, s: dict[str, Any]) -> None:
    network = config.network
    shape = "-".join(str(n) for n in [network.input.n_inputs, *s["layers"]])
    bptt = network.rule.bptt
    assert bptt is not None
    print(f"{config.source}: {shape} network, {s['timesteps']} timesteps, BPTT ("
          f"{bptt.optimizer}, {bptt.backward} backward pass)")
    held = f", {s['validation_samples']} held out for validation" if s["validation_samples"] \
        else ""
    print(f"trained on {s['train_samples']} samples{held} x {s['epochs']} epoch(s) in "
          f"{s['train_seconds']:.1f} s ({s['samples_per_second']:.0f} samples/s); "
          f"best epoch {s['best_epoch']}")
    validation = ("" if s["validation_accuracy"] is None
                  else f" (validation {100 * s['validation_accuracy']:.2f}%)")
    spikes = " + ".join(f"{x:.1f}" for x in s["layer_spikes_per_sample"])
    print(f"accuracy {100 * s['accuracy']:.2f}% on {s['test_samples']} test samples"
          f"{validation}, spikes/sample by layer {spikes}")
    if "weights" in s:
        print(f"weights written to {s['weights']}")
    for p in s.get("plots", []):
        print(f"plot written to {p}")
