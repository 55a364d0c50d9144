"""``DIR/report.md``, ``DIR/results.json`` and the PNG plots of an exploration.

Every number in the report is formatted from the sweep's rows (``results.json`` holds the
same rows), so the report can be checked against the run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Config, CoreConfig
from ..files import write_text
from ..plots import _pyplot, raster, receptive_fields, save_figure

__all__ = ["write_report", "write_plots", "membrane_traces", "pct"]


def pct(x: float) -> str:
    """A fraction as a percentage with two decimals (``0.8714 -> "87.14"``)."""
    return f"{100 * x:.2f}"


def _fmt_changes(changes: dict[str, Any]) -> str:
    if not changes:
        return "-"
    return ", ".join(f"{k.split('.')[-1]} {a}->{b}" for k, (a, b) in changes.items())


def _row_line(r: dict[str, Any], chosen: dict[str, Any] | None) -> str:
    mark = " **(chosen)**" if chosen is not None and r["label"] == chosen["label"] else ""
    lat = f"{r['cycles']:.0f} | {r['latency_us']:.1f}" if "cycles" in r else "- | -"
    en = f"{r['energy_nj']:.1f}" if "energy_nj" in r else "-"
    same = "no" if r["distinguishable"] else "yes"
    return (f"| {r['timesteps']} | {r['weight_width']} | {r['kind']}"
            f"{' ' + r['variant'] if r['variant'] else ''}{mark} | "
            f"{pct(r['accuracy'])} ± {pct(r['accuracy_std'])} | {pct(r['accuracy_min'])} | "
            f"{pct(r['accuracy_max'])} | {100 * r['accuracy_drop']:+.2f} | {same} | "
            f"{r['spikes_per_sample']:.1f} | {r['weight_memory_bits']} | "
            f"{r['state_memory_bits']} | {lat} | {en} |")


_HEADER = ("| timesteps | weight bits | point | accuracy % (mean ± std) | min | max | "
           "drop (pp) | same as baseline? | out spikes/sample | weight memory bits | "
           "state memory bits | cycles/sample | µs/sample | energy nJ/sample |\n"
           "|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")


def write_report(out: Path, summary: dict[str, Any], command: str, seconds: float,
                 trained: int, plots: Sequence[Path], cpu_seconds: float = 0.0) -> Path:
    """Write ``report.md`` and ``results.json`` from :func:`.sweep.explore`'s summary."""
    rows, chosen, base = summary["rows"], summary["chosen"], summary["baseline"]
    s = summary["settings"]
    lines = [
        f"# Design-space exploration of `{summary['config']}`",
        "",
        f"Command: `{command}`",
        "",
        f"Wall time {seconds:.0f} s, {trained} training runs (the rest from the cache) "
        f"taking {cpu_seconds:.0f} CPU seconds {s['where']}. "
        f"Accuracy is the mean over {s['seeds']} seeds "
        "(seeds 0..) on the test set, ± the sample standard deviation; the drop is in "
        "percentage points against the baseline's mean; \"same as baseline?\" is yes when "
        "Welch's t-test cannot tell the point from the baseline (p >= 0.05). Latency: the "
        f"cycle model on {s['cost_samples']} test samples (learning off) at "
        f"{s['clock_mhz']:g} MHz. Energy: an estimate from counted operations and memory "
        "accesses at 45 nm per-operation energies (docs/explore.md), not a measurement.",
        "",
        f"Baseline: {base['timesteps']} timesteps, {base['weight_width']}-bit weights, "
        f"{pct(base['accuracy'])} ± {pct(base['accuracy_std'])} %.",
        "",
    ]
    lines += ["## Choice", ""]
    cons = ", ".join(f"`{c}`" for c in s["constraints"]) or "none"
    if chosen is None:
        lines += [f"No point meets the constraints ({cons}).", ""]
    else:
        lines += [
            f"Constraints: {cons}; among the feasible Pareto-optimal points (accuracy, "
            f"latency, memory, energy) the one with the lowest `{s['minimize']}`:",
            "",
            f"- **{chosen['label']}**: accuracy {pct(chosen['accuracy'])} ± "
            f"{pct(chosen['accuracy_std'])} % (drop {100 * chosen['accuracy_drop']:+.2f} pp, "
            f"{'distinguishable from' if chosen['distinguishable'] else 'not distinguishable from'}"
            f" the baseline, p = {chosen['p_vs_baseline']:.3f}), "
            f"{chosen.get('latency_us', float('nan')):.1f} µs/sample, "
            f"{chosen['memory_bits']} memory bits, {chosen.get('energy_nj', float('nan')):.1f} "
            "nJ/sample",
            f"- parameters changed from the baseline: {_fmt_changes(chosen['changes'])}",
            "- configuration: `chosen.toml`",
            "",
        ]
    lines += ["## Timestep reduction with parameter enhancement", "",
              "At the baseline width: only the timesteps cut (naive), the fixed rule "
              "(`plasticore/topspark.py`), and the searched parameters (grid).", "",
              "| timesteps | naive % | fixed rule % | searched % | recovered (pp, searched - "
              "naive) | searched vs baseline (pp) | parameters changed by the search |",
              "|---:|---:|---:|---:|---:|---:|---|"]
    b0 = base["weight_width"]
    by = {(r["kind"], r["timesteps"], r["weight_width"], r["variant"]): r for r in rows}
    for T in sorted({r["timesteps"] for r in rows if r["kind"] == "naive"}, reverse=True):
        nv, rule, g = by[("naive", T, b0, "")], by[("rule", T, b0, "")], by.get(
            ("grid", T, b0, ""))
        if g is None:
            continue
        search = summary["searches"].get(str(T), {})
        lines.append(
            f"| {T} | {pct(nv['accuracy'])} ± {pct(nv['accuracy_std'])} | "
            f"{pct(rule['accuracy'])} ± {pct(rule['accuracy_std'])} | "
            f"{pct(g['accuracy'])} ± {pct(g['accuracy_std'])} | "
            f"{100 * (g['accuracy'] - nv['accuracy']):+.2f} | "
            f"{-100 * g['accuracy_drop']:+.2f} | {_fmt_changes(search.get('changes', {}))} |")
    if summary["searches"]:
        lines += ["", "Search (validation split, never the test set): "
                  + "; ".join(f"T={T}: {pct(v['start_score'])} % (fixed rule) -> "
                              f"{pct(v['best_score'])} % (searched), {v['runs']} runs"
                              for T, v in summary["searches"].items()), ""]
    lines += ["## Every point", "", _HEADER]
    lines += [_row_line(r, chosen) for r in rows]
    lines += ["", "Pareto front, accuracy against latency: "
              + ", ".join(summary["front_latency"]) + ".", "",
              "Pareto front, accuracy against memory: "
              + ", ".join(summary["front_memory"]) + ".", ""]
    quantized = [r for r in rows if r["kind"] == "quantized"]
    if quantized:
        lines += ["## Quantized after training", "",
                  f"The baseline trained at {b0} bits, then every weight rounded to fewer "
                  "bits (post-training quantization through `widths.current_shift`, "
                  "`docs/explore.md`), labelled and tested there, against learning at that "
                  "width from the start (the grid point):", "",
                  "| weight bits | learned at that width % | trained at "
                  f"{b0} bits, quantized % | difference (pp) | quantized vs baseline (pp) |",
                  "|---:|---:|---:|---:|---:|"]
        for r in quantized:
            g = by.get(("grid", r["timesteps"], r["weight_width"], ""))
            learned = f"{pct(g['accuracy'])} ± {pct(g['accuracy_std'])}" if g else "-"
            diff = f"{100 * (r['accuracy'] - g['accuracy']):+.2f}" if g else "-"
            lines.append(f"| {r['weight_width']} | {learned} | {pct(r['accuracy'])} ± "
                         f"{pct(r['accuracy_std'])} | {diff} | {-100 * r['accuracy_drop']:+.2f} |")
        lines.append("")
    synthesized = [r for r in rows if "synth" in r]
    if synthesized:
        board = synthesized[0]["synth"]["board"]
        lines += ["## FPGA resources", "",
                  f"The network core of each grid point synthesized for {board} (`plasticore "
                  "synth --design core`: Yosys `synth_xilinx`; the Fmax is an estimate from "
                  "the Artix-7 delay model, and each point's latency above is taken at it):",
                  "", "| timesteps | weight bits | LUT | FF | BRAM36 | DSP | est. Fmax MHz | "
                  "µs/sample | fits? |", "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in synthesized:
            f = r["synth"]
            lines.append(f"| {r['timesteps']} | {r['weight_width']} | {f['lut']:,} | "
                         f"{f['ff']:,} | {f['bram36']:g} | {f['dsp']} | {f['fmax_mhz']:.1f} | "
                         f"{r['latency_us']:.1f} | {'yes' if f['fits'] else '**no**'} |")
        lines.append("")
    variants = [r for r in rows if r["kind"] == "variant"]
    if variants:
        lines += ["## Precision and STDP simplifications", "",
                  "Each variant against its own point (same timesteps and width):", "",
                  "| timesteps | weight bits | variant | accuracy % | reference % | "
                  "difference (pp) | distinguishable? |", "|---:|---:|---|---:|---:|---:|---|"]
        for r in variants:
            ref = by[("grid", r["timesteps"], r["weight_width"], "")]
            from .sweep import welch

            p = welch(list(r["per_seed"].values()), list(ref["per_seed"].values()))
            lines.append(f"| {r['timesteps']} | {r['weight_width']} | {r['variant']} | "
                         f"{pct(r['accuracy'])} ± {pct(r['accuracy_std'])} | "
                         f"{pct(ref['accuracy'])} ± {pct(ref['accuracy_std'])} | "
                         f"{100 * (r['accuracy'] - ref['accuracy']):+.2f} | "
                         f"{'yes' if p < 0.05 else 'no'} (p = {p:.3f}) |")
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    report = out / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    data = {k: v for k, v in summary.items() if k not in ("points", "chosen_core")}
    data["command"], data["seconds"], data["trained_runs"] = command, seconds, trained
    data["cpu_seconds"] = cpu_seconds
    write_text(out / "results.json", json.dumps(data, indent=1, default=str) + "\n")
    return report


def membrane_traces(net: Any, sample: Any, key: int) -> tuple[Any, Any, Any]:
    """Membrane potential of every neuron at every timestep of one sample, learning off.

    Replays the sample's input raster through the golden model's own layer step
    (``Layer.step``: current, inhibition, neuron) and checks its output spikes against
    :meth:`Network.run_sample`; returns ``(v, input_raster, raster)`` with ``v`` of shape
    ``(timesteps, n_neurons)``.
    """
    core = net.core
    ref = net.run_sample(sample, key=key, learn=False, record=True)
    layer = net.layers[0]
    state = layer.reset()
    vs = np.zeros((core.timesteps, core.n_neurons), np.float64)
    raster_out = np.zeros((core.timesteps, core.n_neurons), bool)
    for t in range(core.timesteps):
        raster_out[t] = layer.step(state, ref.input_raster[t], learn=False)
        vs[t] = state.v
    if not np.array_equal(raster_out, ref.raster):
        raise AssertionError("membrane trace replay disagrees with the golden model")
    return vs, ref.input_raster, ref.raster


def write_plots(out: Path, summary: dict[str, Any], config: Config,
                trained: tuple[CoreConfig, Any, Any, Any] | None) -> list[Path]:
    """The report's PNGs: accuracy vs timesteps per width, the two Pareto fronts, and for
    the chosen point (``trained``: core, network, evaluation, test set) receptive fields, a
    raster and membrane traces of test sample 0."""
    plt = _pyplot()
    rows = summary["rows"]
    grid = [r for r in rows if r["kind"] == "grid"]
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for b in sorted({r["weight_width"] for r in grid}, reverse=True):
        rs = sorted((r for r in grid if r["weight_width"] == b), key=lambda r: r["timesteps"])
        ax.errorbar([r["timesteps"] for r in rs], [100 * r["accuracy"] for r in rs],
                    yerr=[100 * r["accuracy_std"] for r in rs], marker="o", capsize=3,
                    label=f"{b}-bit weights, enhanced")
    for kind, style in (("naive", "k--"), ("rule", "k:")):
        rs = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["timesteps"])
        if rs:
            ax.errorbar([r["timesteps"] for r in rs], [100 * r["accuracy"] for r in rs],
                        yerr=[100 * r["accuracy_std"] for r in rs], fmt=style, capsize=3,
                        label=f"{summary['baseline']['weight_width']}-bit, "
                              + ("only timesteps cut" if kind == "naive" else "fixed rule"))
    ax.set_xscale("log")
    ax.set_xlabel("timesteps per sample")
    ax.set_ylabel("test accuracy % (mean ± std over seeds)")
    ax.set_title("accuracy against timesteps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "accuracy_vs_timesteps.png")
    save_figure(fig, paths[-1])
    for metric, front_key, xlabel, name in (
            ("latency_us", "front_latency", "latency µs/sample (cycle model)",
             "pareto_latency.png"),
            ("memory_bits", "front_memory", "memory bits (weights + state, from the RTL)",
             "pareto_memory.png")):
        pts = [r for r in grid if metric in r]
        if not pts:
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        sc = ax.scatter([r[metric] for r in pts], [100 * r["accuracy"] for r in pts],
                        c=[r["weight_width"] for r in pts], cmap="viridis", s=30)
        fig.colorbar(sc, ax=ax, label="weight bits")
        front = sorted((r for r in pts if r["label"] in summary[front_key]),
                       key=lambda r: r[metric])
        ax.step([r[metric] for r in front], [100 * r["accuracy"] for r in front], "r-",
                where="post", label="Pareto front")
        for r in front:
            ax.annotate(f"T={r['timesteps']},{r['weight_width']}b",
                        (r[metric], 100 * r["accuracy"]), fontsize=6)
        chosen = summary["chosen"]
        if chosen is not None and metric in chosen:
            ax.scatter([chosen[metric]], [100 * chosen["accuracy"]], s=150,
                       facecolors="none", edgecolors="r", label="chosen")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / name)
        save_figure(fig, paths[-1])
    if trained is not None:
        core, net, evaluation, test_set = trained
        paths.append(receptive_fields(out / "receptive_fields.png", net.weights,
                                      test_set.shape, core.derived.w_max,
                                      evaluation.neuron_labels))
        v, in_raster, out_raster = membrane_traces(net, test_set.images[0], 0)
        paths.append(raster(out / "raster.png", in_raster, out_raster,
                            f"chosen point, test sample 0 (class {test_set.labels[0]}), "
                            f"{int(out_raster.sum())} output spikes"))
        fig, ax = plt.subplots(figsize=(8, 4))
        busiest = np.argsort(-out_raster.sum(axis=0), kind="stable")[:4]
        for i in busiest:
            ax.plot(v[:, i], lw=1, label=f"neuron {i}")
        ax.axhline(core.neuron.v_th, color="k", ls=":", lw=1, label="v_th (without theta)")
        ax.set_xlabel("timestep")
        ax.set_ylabel("membrane (LSB)")
        ax.set_title("membrane traces, chosen point, test sample 0 (the 4 busiest neurons)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / "membrane.png")
        save_figure(fig, paths[-1])
    return paths
