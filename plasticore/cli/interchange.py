"""Networks trained elsewhere: ``plasticore nir import`` and ``plasticore nir export``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from ..files import output_file
from .common import (
    UserError,
    argument,
    load,
    non_negative,
    positive,
    positive_float,
    print_json,
)

__all__ = ["add_commands"]

#: ``--max-rate``: a spike probability per timestep.
probability = argument(float, "a probability in (0, 1]", lambda v: 0.0 < v <= 1.0)


def cmd_nir_import(args: argparse.Namespace) -> int:
    from ..config import DATASET_NAMES
    from ..golden.datasets import load_dataset
    from ..golden.network import Network
    from ..golden.train import save_weights
    from ..interchange.graph import NirError, network_of, read_graph
    from ..interchange.quantize import ImportOptions, quantize

    if args.dataset not in DATASET_NAMES:
        raise UserError(f"--dataset {args.dataset}: must be one of {', '.join(DATASET_NAMES)}")
    out = output_file(args.out, "--out")
    weights_out = output_file(args.weights_out, "--weights-out")
    if out.resolve() == weights_out.resolve():
        raise UserError(f"--out and --weights-out name the same file: {out}")
    encoder = "current" if args.encoder == "direct" else args.encoder
    options = ImportOptions(dataset=args.dataset, timesteps=args.timesteps, encoder=encoder,
                            max_rate=args.max_rate, pixel_bits=args.pixel_bits, dt=args.dt,
                            reset=args.reset, weight_bits=args.weight_bits,
                            readout=args.readout, seed=args.seed)
    try:
        graph = read_graph(args.file)           # its errors name the file
    except NirError as exc:
        raise UserError(str(exc)) from None
    try:
        imported = quantize(network_of(graph, args.dt), options)
    except NirError as exc:                     # these name a node or an option
        raise UserError(f"{args.file}: {exc}") from None
    config = imported.config
    if args.data:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data,
                                                                      path=args.data))
    train_set, _ = load_dataset(config.data.dataset, config.data.path or None,
                                config.network.input.pixel_bits)
    n_inputs = config.network.input.n_inputs
    if train_set.n_pixels != n_inputs:
        raise UserError(f"{args.file}: the network takes {n_inputs} inputs, but "
                        f"{args.dataset} images have {train_set.n_pixels} pixels")
    classes = config.network.layers[-1].n_neurons
    if classes != train_set.n_classes:
        raise UserError(f"{args.file}: the last layer has {classes} neurons, but "
                        f"{args.dataset} has {train_set.n_classes} classes")
    net = Network(config.network, weights=imported.weights, theta=imported.theta,
                  bias=imported.bias)
    config.save(out)
    save_weights(weights_out, dataclasses.replace(config, source=str(out)), net)
    summary = {"file": str(args.file), "config": str(out), "weights": str(weights_out),
               **imported.report}
    if args.json:
        print_json(summary)
        return 0
    print_import_report(summary)
    return 0


def print_import_report(s: dict[str, Any]) -> None:
    a = s["assumed"]
    encoder = (f"rate-coded input (max rate {a['max_rate']})" if a["encoder"] == "rate"
               else "pixels as a constant input current")
    print(f"{s['file']}: {len(s['layers'])} layer(s), {a['timesteps']} timesteps of "
          f"dt = {a['dt_seconds']:g} s (assumed: NIR does not store it), {encoder}, reset by "
          f"{'subtraction' if a['reset'] == 'subtract' else 'setting to v_reset'} (assumed)")
    for i, r in enumerate(s["layers"]):
        leak = r["leak"]
        if leak["mode"] == "none":
            leak_text = "no leak (IF)"
        elif leak["mode"] == "shift":
            leak_text = f"leak shift {leak['leak_shift']} (beta = {leak['beta']:.6g}, exact)"
        else:
            leak_text = (f"leak multiply {leak['decay_q']}/2^{leak['decay_frac']} (beta = "
                         f"{leak['beta']:.6g}, 1 - beta off by "
                         f"{100 * leak['decay_error']:.3f} %)")
        print(f"  layer {i} ({r['synapse']} -> {r['neuron']}): {r['inputs']} -> "
              f"{r['neurons']}, {r['weight_bits']}-bit weights in {r['weight_range'][0]}.."
              f"{r['weight_range'][1]} (scale {r['weight_scale']:.4g}, rms error "
              f"{100 * r['weight_rms_error']:.2f} % of the largest, {r['weights_clipped']} "
              f"clipped), current shift {r['current_shift']}, {r['membrane_bits']}-bit "
              f"membrane (LSB {r['membrane_lsb']:.4g}), v_th {r['v_th']} (+ up to "
              f"{r['theta_max']} per neuron), bias "
              f"{'none' if r['bias_range'] is None else str(r['bias_bits']) + ' bits'}, "
              f"{leak_text}")
    print(f"wrote {s['config']} and {s['weights']}")


def cmd_nir_export(args: argparse.Namespace) -> int:
    from ..golden.train import load_weights
    from ..interchange.export import export_graph, write_graph
    from ..interchange.graph import NirError

    config = load(args.config)
    out = output_file(args.out, "--out")
    data = load_weights(args.weights, config.network)
    layers = data["layers"]
    try:
        graph, notes = export_graph(config, [layer["weights"] for layer in layers],
                                    [layer["theta"] for layer in layers],
                                    [layer["bias"] for layer in layers], args.dt,
                                    args.convention)
    except NirError as exc:
        raise UserError(f"{config.source}: {exc}") from None
    write_graph(graph, out)
    summary = {"config": config.source, "weights": str(args.weights), "nir": str(out),
               "dt_seconds": args.dt, "convention": args.convention,
               "nodes": list(graph.nodes), "notes": notes}
    if args.json:
        print_json(summary)
        return 0
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{config.source}: wrote {out} ({len(graph.nodes)} nodes, dt = {args.dt:g} s)")
    return 0


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``sub``."""
    from .common import Parser

    p = sub.add_parser("nir", help="import and export networks as NIR graphs (snnTorch, "
                                   "Norse, SpikingJelly, ...)")
    nsub = p.add_subparsers(dest="nir_command", required=True, parser_class=Parser)
    c = nsub.add_parser("import", help="quantize a NIR graph into a config and integer "
                                       "weights, with a report")
    c.add_argument("file", metavar="FILE.nir")
    c.add_argument("--dataset", required=True, help="the dataset the network classifies")
    c.add_argument("--timesteps", required=True, type=positive, help="timesteps per sample")
    c.add_argument("--encoder", choices=("rate", "current", "direct"), default="current",
                   help="the first layer's input: rate-coded spikes, or the pixel values as "
                        "a constant current (default; snnTorch calls it direct)")
    c.add_argument("--max-rate", type=probability, default=1.0,
                   help="rate encoder: spike probability per timestep at full scale")
    c.add_argument("--pixel-bits", type=argument(int, "an integer in 1..16",
                                                 lambda v: 1 <= v <= 16), default=8)
    c.add_argument("--dt", type=positive_float, default=1e-4, metavar="SECONDS",
                   help="the timestep NIR's time constants refer to (default 1e-4: "
                        "snnTorch's exporter)")
    c.add_argument("--reset", choices=("subtract", "zero"), default="subtract",
                   help="reset by subtracting the threshold (snnTorch's default) or to "
                        "v_reset (NIR's definition)")
    c.add_argument("--weight-bits", type=argument(int, "an integer in 2..16",
                                                  lambda v: 2 <= v <= 16), default=8)
    c.add_argument("--readout", choices=("count", "membrane_max", "membrane_final"),
                   default="count", help="the class: the output neuron with the most spikes "
                                         "(default) or the highest membrane")
    c.add_argument("--seed", type=non_negative, default=0, help="the generators' seed")
    c.add_argument("--data", metavar="DIR", help="dataset directory (IDX datasets)")
    c.add_argument("--out", required=True, metavar="NET.toml")
    c.add_argument("--weights-out", required=True, metavar="W.npz")
    c.add_argument("--json", action="store_true", help="print the report as one JSON object")
    c.set_defaults(func=cmd_nir_import)

    c = nsub.add_parser("export", help="write a config and its weights as a NIR graph")
    c.add_argument("config")
    c.add_argument("--weights", required=True, metavar="W.npz")
    c.add_argument("--out", required=True, metavar="FILE.nir")
    c.add_argument("--dt", type=positive_float, default=1e-4, metavar="SECONDS",
                   help="the timestep the NIR time constants refer to (default 1e-4)")
    c.add_argument("--for", dest="convention", choices=("snntorch", "norse"),
                   default="snntorch",
                   help="the reader, which ignores NIR's r and assumes its own: snnTorch "
                        "(default) r = tau / dt, Norse r = 1 (pass dt to its from_nir)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_nir_export)
