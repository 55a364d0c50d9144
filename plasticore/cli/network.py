"""Training and evaluating networks, and checking configurations: ``plasticore train``,
``eval``, ``config check``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from ..config import Config
from ..files import output_dir, output_file
from .common import (
    Parser,
    UserError,
    datasets,
    load,
    non_negative,
    positive,
    print_json,
    progress_bars,
    training_outputs,
)

__all__ = ["add_commands"]


def cmd_config_check(args: argparse.Namespace) -> int:
    """The configuration resolved in the layered form (also from a file in the old flat
    form), and every derived width of each layer: in TOML with the widths as comments after
    it (a valid file), or with ``--json`` in each layer's ``derived``."""
    config = load(args.config)
    network = config.network
    derived = [network.core(i).derived.to_dict() for i in range(len(network.layers))]
    if args.json:
        out = config.to_dict()
        for layer, widths in zip(out["layers"], derived, strict=True):
            layer["derived"] = widths
        print_json(out)
        return 0
    print(f"# {config.source}: valid")
    print(config.to_toml(), end="")
    for i, widths in enumerate(derived):
        print(f"\n# layers[{i}]: derived (computed, read-only)")
        for key, value in widths.items():
            print(f"# {key} = {value}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ..golden.train import TrainResult, evaluate, train

    if load(args.config, data_path=args.data).network.rule.kind == "bptt":
        from .bptt import cmd_train_bptt

        return cmd_train_bptt(args)
    if args.enhance and args.timesteps is None:
        raise UserError("--enhance needs --timesteps T (fewer than the config's)")
    timesteps = None if args.enhance else args.timesteps
    config = load(args.config, {"timesteps": timesteps, "seed": args.seed}, args.data)
    if args.enhance:
        from ..topspark import reduce_timesteps

        config = dataclasses.replace(config,
                                     core=reduce_timesteps(config.core, args.timesteps))
    if config.network.rule.kind == "none":
        raise UserError(f"{config.source}: rule.kind = 'none': nothing to train (the weights "
                        "come from elsewhere: plasticore eval --weights, plasticore nir "
                        "import)")
    if not config.core.stdp.learn:
        raise UserError(f"{config.source}: stdp.learn = false: nothing to train")
    epochs = args.epochs or config.data.epochs
    train_set, test_set = datasets(config, args.samples, args.test_samples)
    progress = progress_bars(sys.stderr.isatty() and not args.quiet)
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

    def plots(folder: Path) -> list[Path]:
        from ..plots import training_plots

        return training_plots(folder, config, net, evaluation, test_set)

    return training_outputs(args, config, net, evaluation, summary, plots, print_summary)


def cmd_eval(args: argparse.Namespace) -> int:
    from ..golden.network import Network
    from ..golden.train import evaluate, load_weights

    config = load(args.config, data_path=args.data)
    data = load_weights(args.weights, config.network)
    layers = data["layers"]
    net = Network(config.network, weights=[layer["weights"] for layer in layers],
                  theta=[layer["theta"] for layer in layers],
                  bias=[layer["bias"] for layer in layers])
    train_set, test_set = datasets(config, args.label_samples, args.test_samples)
    progress = progress_bars(sys.stderr.isatty() and not args.quiet)
    readout = config.classify.readout
    evaluation = evaluate(net, train_set, test_set, progress, readout)
    labelled = evaluation.readout.rates is not None
    summary = {
        "config": config.source,
        "weights": str(args.weights),
        "readout": readout,
        "accuracy": round(evaluation.accuracy, 6),
        "timesteps": config.core.timesteps,
        "label_samples": len(train_set) if labelled else 0,
        "test_samples": len(test_set),
        "spikes_per_sample": round(evaluation.spikes_per_sample, 3),
        "layer_spikes_per_sample": [round(x, 3) for x in evaluation.layer_spikes_per_sample],
        "seconds": round(evaluation.seconds, 3),
    }
    if "config_mismatch" in data:
        summary["warning"] = "the weights were trained with a different core configuration"
    if args.json:
        print_json(summary)
    else:
        if "warning" in summary:
            print(f"warning: {summary['warning']}", file=sys.stderr)
        labels = (f"labels from {len(train_set)} training samples" if labelled
                  else f"readout {readout}")
        spikes = " + ".join(f"{x:.1f}" for x in evaluation.layer_spikes_per_sample)
        print(f"accuracy {100 * evaluation.accuracy:.2f}% on {len(test_set)} test samples "
              f"({labels}), spikes/sample by layer {spikes}, {evaluation.seconds:.1f} s")
    return 0


def print_summary(config: Config, s: dict[str, Any]) -> None:
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


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``sub``."""
    p = sub.add_parser("train", help="train a network (STDP: unsupervised, label "
                                     "assignment; BPTT: supervised), then test it")
    p.add_argument("config", help="config file or built-in name (digits, mnist-400, ...)")
    p.add_argument("--samples", type=positive, help="training samples (default: config)")
    p.add_argument("--test-samples", type=positive, help="test samples (default: config)")
    p.add_argument("--timesteps", type=positive, help="timesteps per sample")
    p.add_argument("--enhance", action="store_true",
                   help="with fewer --timesteps than the config: enhance the neuron "
                        "parameters for the shorter sample (TopSpark-style, see "
                        "plasticore/topspark.py)")
    p.add_argument("--epochs", type=positive, help="training epochs (default: config)")
    p.add_argument("--seed", type=non_negative, help="override the config seed")
    p.add_argument("--data", metavar="DIR", help="dataset directory (overrides data.path)")
    p.add_argument("--arithmetic", choices=("integer", "float"), default="integer",
                   help="STDP: fixed-point model (default) or the float64 reference")
    p.add_argument("--weights-out", metavar="F.npz", help="write the trained weights here")
    p.add_argument("--plots", metavar="DIR",
                   help="write PNG plots here (STDP: receptive fields, raster, confusion; "
                        "BPTT: learning curves, confusion, spike rates, raster)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate trained weights (label pass + test pass)")
    p.add_argument("config")
    p.add_argument("--weights", required=True, metavar="F.npz")
    p.add_argument("--data", metavar="DIR", help="dataset directory (overrides data.path)")
    p.add_argument("--label-samples", type=positive,
                   help="training samples used to label neurons (default: config)")
    p.add_argument("--test-samples", type=positive)
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", required=True, parser_class=Parser)
    c = csub.add_parser("check", help="validate and print the resolved config (layered "
                                      "form) and every derived width of each layer")
    c.add_argument("config")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_config_check)
