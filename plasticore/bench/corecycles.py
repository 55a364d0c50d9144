"""Cycles of the network core on digits samples against the event-driven lower bound.

The cycle model (``hdl/cycles.py``) equals the RTL's cycles timestep by timestep (every
co-simulation checks it), so it measures the core on many samples without a simulator.  For
each timestep the bound the design admits is ``A * W / R + W + learned words`` (every
spiking row's weight words, ``R = row_banks`` of them added per cycle, one neuron-update
pass, the learning pass; ``W = n_neurons / n_pe`` words, each ``n_pe`` synapses wide); the
table reports the mean cycles per timestep, the mean bound and their ratio, with learning
on (training samples) and off (test samples).

A network of several layers (``NetworkCore``, learning off) is measured per layer with the
pipeline's cycle model (``hdl.cycles.network_sample_cycles``): each layer's cycles per
timestep (from one of its timestep ends to the next, so the pipeline's pace as that layer
sees it) against its own bound, and the network's, whose bound per timestep is the largest
layer's (the layers run at once).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..config import ConfigError, load_config
from ..sim.core_session import layer_rasters  # every layer's raster: one definition

__all__ = ["measure", "measure_network", "layer_rasters", "format_table", "mnist_like",
           "latency", "format_latency"]


def measure(config_name: str, train_samples: int = 20, test_samples: int = 100,
            clock_mhz: float = 100.0, weights: str | None = None) -> dict[str, Any]:
    """Run the golden model on the config's samples and apply the cycle model: learning
    from the initial weights (``train_samples``), then inference with ``weights`` (a weights
    file; default: the initial weights).  A network of several layers, or one without a
    learning rule, is :func:`measure_network` (inference only)."""
    from ..golden.datasets import load_dataset
    from ..golden.network import Network
    from ..golden.train import load_weights
    from ..hdl.cycles import TimestepWork, lower_bound, sample_cycles, work_of

    config = load_config(config_name)
    if len(config.network.layers) > 1 or config.network.rule.kind == "none":
        return measure_network(config_name, test_samples, clock_mhz, weights)
    core = config.core
    train_set, test_set = load_dataset(config.data.dataset, config.data.path or None,
                                       core.encoder.pixel_bits)
    trained = None
    if weights is not None:
        loaded = load_weights(weights, core)
        trained = Network(core, weights=loaded["weights"], theta=loaded["theta"])
    net = Network(core)
    rows = []
    for mode, images, learn in (("learning", train_set.images[:train_samples], True),
                                ("inference", test_set.images[:test_samples], False)):
        if not learn and trained is not None:
            net = trained
        cycles, bound, totals = [], [], []
        for n, pixels in enumerate(images):
            res = net.run_sample(pixels, n, learn=learn, record=True)
            predicted = sample_cycles(core, res.input_raster, res.raster, learn)
            work: list[TimestepWork] = work_of(core, res.input_raster, res.raster)
            cycles += predicted.timesteps.tolist()
            bound += [lower_bound(core, w, learn) for w in work]
            totals.append(predicted.total)
        c, b = np.array(cycles, float), np.array(bound, float)
        rows.append({
            "mode": mode, "samples": len(images),
            "cycles_per_timestep": float(c.mean()), "bound_per_timestep": float(b.mean()),
            "ratio": float(c.sum() / b.sum()),
            "cycles_per_sample": float(np.mean(totals)),
            "us_per_sample": float(np.mean(totals)) / clock_mhz,
        })
    return {"config": config.source, "n_inputs": core.n_inputs, "n_neurons": core.n_neurons,
            "n_pe": core.n_pe, "timesteps": core.timesteps, "clock_mhz": clock_mhz,
            "weights": weights or "initial", "rows": rows}


def measure_network(config_name: str, test_samples: int = 100, clock_mhz: float = 100.0,
                    weights: str | None = None) -> dict[str, Any]:
    """The cycle model of a network of several layers on test samples (learning off), per
    layer and for the network, against the event-driven bound (module docstring); with
    several layers also "layers in turn": each layer's own cycles (``sample_cycles`` of its
    core on its input) added up, what one time-multiplexed engine running the layers one
    after the other would take at least, against the sum of the layers' bounds."""
    from ..golden.datasets import load_dataset
    from ..golden.network import initial_weights
    from ..golden.train import load_weights
    from ..hdl.cycles import lower_bound, network_sample_cycles, sample_cycles, work_of

    config = load_config(config_name)
    network = config.network
    cores = network.cores
    if weights is not None:
        layers = load_weights(weights, network)["layers"]
        w = [layer["weights"] for layer in layers]
        theta = [layer["theta"] for layer in layers]
        bias = [layer["bias"] for layer in layers]
    else:
        w = [initial_weights(core) for core in cores]
        theta = [np.zeros(core.n_neurons, np.int64) for core in cores]
        bias = [None for _ in cores]
    _, test_set = load_dataset(config.data.dataset, config.data.path or None,
                               cores[0].encoder.pixel_bits)
    images = test_set.images[:test_samples]
    L = len(cores)
    steps = [[0.0, 0.0] for _ in range(L + 2)]     # cycles per timestep and bound, summed
    periods = 0
    totals, in_turn = [], []
    for n, pixels in enumerate(images):
        input_raster, rasters = layer_rasters(network, w, theta, bias, pixels, n)
        predicted = network_sample_cycles(cores, input_raster, rasters, pixels=pixels)
        inputs = [input_raster, *rasters[:-1]]
        bounds = np.array([[lower_bound(core, work, False)
                            for work in work_of(core, inputs[index], rasters[index])]
                           for index, core in enumerate(cores)])
        for index in range(L):
            steps[index][0] += float(np.diff(predicted.step_ends[index]).sum())
            steps[index][1] += float(bounds[index, 1:].sum())
        steps[L][0] += float(np.diff(predicted.step_ends[-1]).sum())
        steps[L][1] += float(bounds[:, 1:].max(axis=0).sum())
        alone = [sample_cycles(core, inputs[index], rasters[index], False,
                               pixels=pixels if index == 0 else None)
                 for index, core in enumerate(cores)]
        steps[L + 1][0] += float(sum(a.timesteps[1:].sum() for a in alone))
        steps[L + 1][1] += float(bounds[:, 1:].sum())
        periods += network.timesteps - 1
        totals.append(predicted.total)
        in_turn.append(sum(a.total for a in alone))
    modes = [*(f"inference, layer {index}" for index in range(L)), "inference, network",
             "inference, layers in turn"]
    per_sample = [float(np.mean(totals))] * (L + 1) + [float(np.mean(in_turn))]
    rows = [{
        "mode": mode, "samples": len(images),
        "cycles_per_timestep": cycles / periods, "bound_per_timestep": bound / periods,
        "ratio": cycles / bound,
        "cycles_per_sample": sample, "us_per_sample": sample / clock_mhz,
    } for mode, (cycles, bound), sample in zip(modes, steps, per_sample, strict=True)]
    in_turn_row = rows.pop()
    return {"config": config.source, "n_inputs": cores[0].n_inputs,
            "n_neurons": "-".join(str(core.n_neurons) for core in cores),
            "n_pe": ", ".join(str(core.n_pe) for core in cores),
            "timesteps": network.timesteps, "clock_mhz": clock_mhz,
            "weights": weights or "initial", "rows": rows,
            **({"in_turn": in_turn_row} if L > 1 else {})}


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['n_inputs']} inputs, {result['n_neurons']} neurons, n_pe = "
        f"{result['n_pe']}, {result['timesteps']} timesteps; microseconds at "
        f"{result['clock_mhz']:.0f} MHz",
        "",
        "| mode | samples | cycles/timestep | bound/timestep | ratio | cycles/sample | "
        "µs/sample |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['mode']} | {r['samples']} | {r['cycles_per_timestep']:.1f} | "
                     f"{r['bound_per_timestep']:.1f} | {r['ratio']:.2f} | "
                     f"{r['cycles_per_sample']:.0f} | {r['us_per_sample']:.0f} |")
    if "in_turn" in result:
        r = result["in_turn"]
        lines += ["", "The layers one after the other on one time-multiplexed engine (at least "
                  f"their own cycles added up): {r['cycles_per_sample']:.0f} cycles/sample "
                  f"({r['us_per_sample']:.0f} µs), {r['cycles_per_timestep']:.1f} "
                  f"cycles/timestep (bound {r['bound_per_timestep']:.1f})."]
    return "\n".join(lines)


def mnist_like(images: Any, side: int = 28) -> Any:
    """Digits images (8x8) scaled up to ``side x side`` by nearest neighbour: stand-ins for
    images of a size no bundled dataset has, with the same strokes (at 28x28 they have more
    ink than MNIST's: about 45 % of pixels against 19 %)."""
    images = np.asarray(images)
    src = int(round(np.sqrt(images.shape[1])))
    index = (np.arange(side) * src) // side
    grid = images.reshape(-1, src, src)[:, index][:, :, index]
    return grid.reshape(len(images), side * side)


def latency(config_name: str, timesteps: int, clock_mhz: float, samples: int = 20,
            n_pe: tuple[int | None, ...] = (None,),
            lanes: tuple[int | None, ...] = (None,),
            row_banks: tuple[int | None, ...] = (None,),
            skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Inference latency and synaptic operations per second of ``config_name`` at
    ``timesteps`` (the TopSpark-style enhanced parameters of ``topspark.reduce_timesteps``
    below the configured count) and ``clock_mhz``, from the cycle model on test images: one
    row per PE lane count in ``n_pe``, encoder lane count in ``lanes`` and row bank count
    in ``row_banks`` (``None``: the config's).  All three are hardware only, so the golden
    model runs once and the cycle model prices its spikes for each.  A combination the
    configuration rules reject (say, more row banks than encoder lanes) gets no row; its
    reason goes to ``skipped``.

    A synaptic operation is one weight added to one membrane: every spiking input adds its
    row of ``n_neurons`` weights.  ``bound_ratio`` is the timesteps' cycles over their
    event-driven lower bound (``hdl.cycles.lower_bound``; load and counts not counted).
    """
    from ..golden.datasets import bundled_for, load_dataset
    from ..golden.network import Network
    from ..hdl.cycles import lower_bound, sample_cycles, work_of
    from ..topspark import reduce_timesteps

    config = load_config(config_name)
    core = config.core
    if timesteps != core.timesteps:
        core = reduce_timesteps(core, timesteps)
    variants, rejected = [], []
    for p, e, r in itertools.product(n_pe, lanes, row_banks):
        try:
            variants.append(core.replace(n_pe=p or core.n_pe, row_banks=r or core.row_banks,
                                         **{"encoder.lanes": e or core.encoder.lanes}))
        except ConfigError as exc:
            rejected.append(f"n_pe {p or core.n_pe}, lanes {e or core.encoder.lanes}, "
                            f"row_banks {r or core.row_banks}: {exc}")
    if not variants:
        raise ConfigError(f"{config_name}: no valid combination of n_pe, encoder lanes and "
                          f"row banks ({rejected[0]})")
    if skipped is not None:
        skipped.extend(rejected)
    bundled = bundled_for(core.n_inputs, core.encoder.pixel_bits)
    if bundled is not None:
        images = bundled[1].images[:samples]
        source = f"{bundled[1].name} test images"
    else:
        _, test_set = load_dataset("digits", None, core.encoder.pixel_bits)
        side = int(round(np.sqrt(core.n_inputs)))
        images = mnist_like(test_set.images[:samples], side)
        source = f"digits test images scaled to {side}x{side}"
        if images.shape[1] != core.n_inputs:
            raise ConfigError(f"{config_name}: {core.n_inputs} inputs are no square image "
                              "and match no bundled dataset (64 or 784 inputs)")
    net = Network(core)
    cycles: list[list[int]] = [[] for _ in variants]
    steps = [[0.0, 0.0] for _ in variants]    # timestep cycles and their bound, summed
    sops = []
    for n, pixels in enumerate(images):
        res = net.run_sample(pixels, n, learn=False, record=True)
        for v, variant in enumerate(variants):
            predicted = sample_cycles(variant, res.input_raster, res.raster, False)
            cycles[v].append(predicted.total)
            steps[v][0] += float(predicted.timesteps.sum())
            steps[v][1] += sum(lower_bound(variant, w, False)
                               for w in work_of(variant, res.input_raster, res.raster))
        sops.append(int(res.input_raster.sum()) * core.n_neurons)
    rows = []
    for variant, counts, (step_cycles, bound) in zip(variants, cycles, steps, strict=True):
        seconds = np.array(counts, float) / (clock_mhz * 1e6)
        rows.append({
            "config": config.source, "n_inputs": core.n_inputs, "n_neurons": core.n_neurons,
            "n_pe": variant.n_pe, "lanes": variant.encoder.lanes,
            "row_banks": variant.row_banks, "timesteps": timesteps,
            "clock_mhz": clock_mhz, "images": source, "samples": len(images),
            "cycles_per_sample": float(np.mean(counts)),
            "us_per_sample": float(seconds.mean() * 1e6),
            "sop_per_sample": float(np.mean(sops)),
            "bound_ratio": step_cycles / bound,
            "sops": float(np.sum(sops) / seconds.sum())})
    return rows


def format_latency(rows: list[dict[str, Any]]) -> str:
    lines = ["| network | n_pe | encoder lanes | row banks | timesteps | clock (MHz) | "
             "cycles/image | µs/image | synaptic ops/image | SOPS | timesteps/bound |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n_inputs']}-{r['n_neurons']} | {r['n_pe']} | {r['lanes']} | "
                     f"{r['row_banks']} | {r['timesteps']} | "
                     f"{r['clock_mhz']:.1f} | {r['cycles_per_sample']:.0f} | "
                     f"{r['us_per_sample']:.0f} | {r['sop_per_sample']:.0f} | "
                     f"{r['sops'] / 1e6:.1f} M | {r['bound_ratio']:.2f} |")
    return "\n".join(lines)
