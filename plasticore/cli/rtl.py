"""The RTL: ``plasticore generate``, ``cosim`` (the core against the golden model) and
``sim`` (the cocotb regressions)."""

from __future__ import annotations

import argparse
from typing import Any

from ..files import output_dir
from .common import (
    UserError,
    load_for_rtl,
    print_json,
    simulating,
)

__all__ = ["add_commands"]


def cmd_sim(args: argparse.Namespace) -> int:
    from ..sim import regress

    sims = [args.sim] if args.sim and args.sim != "both" else []
    if args.sim == "both":
        sims = ["verilator", "icarus"]
    return regress.main(sims, args.waves, args.quick, args.pytest_args)


def cmd_generate(args: argparse.Namespace) -> int:
    from ..hdl.core.membrane import membrane_mode
    from ..hdl.generate import generate, generate_network, manifest_summary

    config = load_for_rtl(args.config, layers=True)
    out = output_dir(args.out, "--out")
    membrane = membrane_mode(config.classify)  # the core cosim and synth build
    if len(config.network.layers) > 1:        # one module: a core per layer
        manifest = generate_network(config.network, out, membrane)
    else:
        manifest = generate(config.core, out, membrane=membrane)
    if args.json:
        print_json(manifest)
        return 0
    print(f"{config.source}: wrote {len(manifest['modules'])} Verilog files and "
          f"manifest.json to {out}")
    print(manifest_summary(manifest))
    return 0


def cmd_cosim(args: argparse.Namespace) -> int:
    from ..golden.train import load_weights
    from ..hdl.core.membrane import membrane_mode
    from ..sim import cosim
    from ..sim.target import Target
    from ..tools import repo_root

    config = load_for_rtl(args.config, layers=True)
    network = config.network
    layered = len(network.layers) > 1           # NetworkCore, a core per layer
    design = Target.of(network if layered else config.core, membrane_mode(config.classify))
    if args.samples < 1:
        raise UserError(f"--samples {args.samples}: must be at least 1")
    weights = theta = bias = None
    if args.weights:
        layers = load_weights(args.weights, network)["layers"]
        weights, theta, bias = ([layer[name] for layer in layers]
                                for name in ("weights", "theta", "bias"))
        if not layered:
            weights, theta, bias = weights[0], theta[0], bias[0]
    try:
        with simulating():
            samples = cosim.session_samples(design, args.samples, args.learn)
            result = cosim.run(design, samples, args.simulator,
                               repo_root() / "build" / "cosim", weights, theta,
                               waves=args.waves, bias=bias)
    except ValueError as exc:
        raise UserError(f"{config.source}: {exc}") from None
    summary = result.summary()
    if args.json:
        print_json(summary)
    else:
        verdict = ("everything matched the golden model" if result.matched
                   else f"MISMATCH: {result.difference}")
        module = (f"network_core ({len(network.layers)} layers)" if layered
                  else "snn_core")
        learning = "off (no learning rule)" if layered else "on" if args.learn else "off"
        print(f"{config.source}: {module} on {args.simulator}, {summary['samples']} "
              f"sample(s) with learning {learning}, "
              f"{summary['spikes']} output spikes: {verdict}")
        if summary["timesteps"]:
            print(f"cycles per timestep: measured {summary['cycles_per_timestep_measured']:.1f}"
                  f" (max {summary['cycles_per_timestep_max']:.0f}), predicted by the cycle "
                  f"model {summary['cycles_per_timestep_predicted']:.1f}")
        for layer, (measured, predicted) in enumerate(zip(
                summary.get("layer_cycles_per_timestep_measured", []),
                summary.get("layer_cycles_per_timestep_predicted", []), strict=True)):
            if measured is not None and predicted is not None:
                print(f"  layer {layer}: measured {measured:.1f}, predicted {predicted:.1f}")
    return 0 if result.matched else 1


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``sub``."""
    p = sub.add_parser("generate", help="write the Verilog of the PEs and the core, and a "
                                        "JSON manifest")
    p.add_argument("config")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--json", action="store_true", help="print the manifest")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("cosim", help="co-simulate the network core of a config (one layer, "
                                     "or several) against the golden model (exit 1 on the "
                                     "first mismatch)")
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

    p = sub.add_parser("sim", help="cocotb regressions under Verilator and Icarus, with a "
                                   "summary table (extra arguments go to pytest)")
    p.add_argument("--sim", choices=("verilator", "icarus", "both"),
                   help="simulator (default: env SIM, else both)")
    p.add_argument("--waves", action="store_true", help="write waveforms (FST/VCD)")
    p.add_argument("--quick", action="store_true", help="the CI subset only")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_sim)
