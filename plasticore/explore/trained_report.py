"""``DIR/report.md``, ``DIR/results.json`` and the PNGs of the sweep of a network trained
elsewhere (:func:`.trained_sweep.explore_trained`).

Every number is formatted from the sweep's rows (``results.json`` holds the same rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..files import write_text
from ..plots import _pyplot, save_figure
from .report import pct

__all__ = ["write_trained_report", "write_trained_plots"]


def _layer_text(r: dict[str, Any], key: str, fmt: str = "{:,.0f}") -> str:
    return " + ".join(fmt.format(layer[key]) for layer in r["layers"])


def _engines_text(s: dict[str, Any], rows: list[dict[str, Any]], own: str) -> list[str]:
    """The paragraph on forward engines, when the sweep has several (``own``: the
    configuration's)."""
    if not s.get("engines"):
        return []
    names = [f"{e} (the configuration's)" if e == own else e
             for e in dict.fromkeys(r["engine"] for r in rows)]
    return [f"Forward engines: {', '.join(names)} "
            "(`--forward`, `--lut-group`; `lutK` puts every layer whose input is spikes on "
            "the LUT PE with groups of K, a layer 0 with current input stays on the "
            "accumulate PE). **Accuracy is the same on every engine** (the LUT's subset sums "
            "equal the accumulated weights bit for bit, docs/numerics.md), so it is scored "
            "once per (timesteps, width) and the engines' rows share it; each engine has "
            "its own memory (LUT tables: 2^k/k words per weight), cycles (the cycle model on "
            "the same spikes: a LUT layer's depend on its non-zero groups, an accumulating "
            "layer's on its spiking inputs), energy and resources.", ""]


def _row_line(r: dict[str, Any], chosen: dict[str, Any] | None) -> str:
    mark = " **(chosen)**" if chosen is not None and r["label"] == chosen["label"] else ""
    return (f"| {r['timesteps']} | {r['weight_width']}{mark} | {r['engine']} | {r['how']} | "
            f"{pct(r['validation_accuracy'])} ± {pct(r['validation_accuracy_std'])} | "
            f"{pct(r['accuracy'])} ± {pct(r['accuracy_std'])} | {pct(r['accuracy_min'])} | "
            f"{pct(r['accuracy_max'])} | {100 * r['accuracy_drop']:+.2f} | "
            f"{'no' if r['distinguishable'] else 'yes'} | {r['spikes_per_sample']:.1f} | "
            f"{_layer_text(r, 'weight_memory_bits')} | {_layer_text(r, 'state_memory_bits')} | "
            f"{_layer_text(r, 'lanes', '{}')} | "
            f"{_layer_text(r, 'input_spikes_per_timestep', '{:.1f}')} | "
            f"{_layer_text(r, 'rows_per_timestep', '{:.1f}')} | "
            f"{_layer_text(r, 'cycles_per_timestep', '{:.0f}')}"
            f" | {r['cycles']:.0f} | {r['latency_us']:.1f} | {r['energy_nj']:.1f} |")


_HEADER = ("| timesteps | weight bits | forward engine | network | validation % | test % "
           "(mean ± std) | min | max | test drop (pp) | same as baseline? | out spikes/sample "
           "| weight memory bits per layer | state memory bits per layer | lanes per layer | "
           "input spikes/timestep per layer | rows read/timestep per layer | cycles/timestep "
           "per layer | cycles/sample | µs/sample | energy nJ/sample |\n"
           "|---:|---:|---|---|---:|---:|---:|---:|---:|---|---:|---|---|---|---|---|---|---:"
           "|---:|---:|")


def write_trained_report(out: Path, summary: dict[str, Any], command: str, seconds: float,
                         runs: int, plots: Sequence[Path], cpu_seconds: float = 0.0) -> Path:
    """Write ``report.md`` and ``results.json`` from the sweep's summary."""
    rows, chosen, base = summary["rows"], summary["chosen"], summary["baseline"]
    s = summary["settings"]
    lines = [
        f"# Design-space exploration of `{summary['config']}` (a network trained elsewhere)",
        "",
        f"Command: `{command}`",
        "",
        f"Wall time {seconds:.0f} s, {runs} scoring runs (the rest from the cache) taking "
        f"{cpu_seconds:.0f} CPU seconds {s['where']}. Nothing trains: every point is the "
        f"network at its timesteps and weight width ({s['source']}), run by the golden "
        f"model with learning off. Accuracy is the mean over {s['seeds']} encoder seed(s) "
        "(seeds 0..), ± the sample standard deviation. The **validation** split (the last "
        f"{s['validation']} training samples) chooses the point and draws the Pareto "
        "fronts; the **test** split is only reported (the drop is in percentage points "
        "against the baseline's test mean; \"same as baseline?\" is yes when Welch's t-test "
        "cannot tell them apart, p >= 0.05). The network may have been trained on the "
        "validation samples elsewhere, so its validation accuracy can be the higher: it "
        "ranks points. Latency: the exact cycle model of the layer pipeline "
        f"(`hdl/cycles.py: network_sample_cycles`) on {s['cost_samples']} test samples at "
        + ("each point's estimated Fmax (below)" if s.get("synth")
           else f"{s['clock_mhz']:g} MHz")
        + "; memory from the RTL (`NetworkCore`), per layer; energy an estimate "
        "(docs/explore.md), summed over the layers.",
        "",
        *_engines_text(s, rows, base.get("engine", "accumulate")),
        f"Baseline: {base['timesteps']} timesteps, {base['weight_width']}-bit weights, "
        f"forward engine {base.get('engine', 'accumulate')}, test "
        f"{pct(base['accuracy'])} ± {pct(base['accuracy_std'])} %, validation "
        f"{pct(base['validation_accuracy'])} %.",
        "",
        "## Choice", "",
    ]
    cons = ", ".join(f"`{c}`" for c in s["constraints"]) or "none"
    if chosen is None:
        lines += [f"No point meets the constraints ({cons}) on the validation split.", ""]
    else:
        lines += [
            f"Constraints (validation split): {cons}; among the feasible Pareto-optimal points "
            f"(validation accuracy, latency, memory, energy) the one with the lowest "
            f"`{s['minimize']}`:",
            "",
            f"- **{chosen['label']}**: validation {pct(chosen['validation_accuracy'])} % "
            f"(drop {100 * chosen['validation_accuracy_drop']:+.2f} pp), test "
            f"{pct(chosen['accuracy'])} ± {pct(chosen['accuracy_std'])} % (drop "
            f"{100 * chosen['accuracy_drop']:+.2f} pp, p = {chosen['p_vs_baseline']:.3f}), "
            f"{chosen['cycles']:.0f} cycles = {chosen['latency_us']:.1f} µs/sample, "
            f"{chosen['memory_bits']:,} memory bits, {chosen['energy_nj']:.1f} nJ/sample",
            "- configuration and weights: `chosen.toml`, `chosen_weights.npz`",
            "",
        ]
    lines += ["## Every point", "", _HEADER]
    lines += [_row_line(r, chosen) for r in rows]
    lines += ["", "Per layer, in order (layer 0 first), joined by `+`. Rows read: what the "
              "neuron pass reads per neuron word, the spiking inputs (accumulate) or the groups "
              "with a spike (LUT). Pareto front "
              "(validation accuracy against latency): " + ", ".join(summary["front_latency"])
              + ". Against memory: " + ", ".join(summary["front_memory"]) + ".", ""]
    synthesized = [r for r in rows if "synth" in r]
    if synthesized:
        board = synthesized[0]["synth"]["board"]
        lines += ["## FPGA resources", "",
                  f"Each point's `NetworkCore` (every layer) synthesized for {board} "
                  "(`plasticore synth --design core`: Yosys `synth_xilinx`; the Fmax is an "
                  "estimate from the Artix-7 delay model, and each point's latency above is "
                  "taken at it):", "",
                  "| timesteps | weight bits | forward engine | LUT | FF | BRAM36 | DSP | "
                  "est. Fmax MHz | µs/sample | fits? |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in synthesized:
            f = r["synth"]
            lines.append(f"| {r['timesteps']} | {r['weight_width']} | {r['engine']} | "
                         f"{f['lut']:,} | "
                         f"{f['ff']:,} | {f['bram36']:g} | {f['dsp']} | {f['fmax_mhz']:.1f} | "
                         f"{r['latency_us']:.1f} | {'yes' if f['fits'] else '**no**'} |")
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    report = out / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    data = {k: v for k, v in summary.items() if k != "chosen_network"}
    data["command"], data["seconds"], data["scoring_runs"] = command, seconds, runs
    data["cpu_seconds"] = cpu_seconds
    write_text(out / "results.json", json.dumps(data, indent=1, default=str) + "\n")
    return report


def write_trained_plots(out: Path, summary: dict[str, Any]) -> list[Path]:
    """Accuracy against timesteps per width (test, and validation dashed), and the two
    Pareto fronts (against latency and memory: validation accuracy with the front and the
    choice, and beside it the test accuracy of the same points)."""
    plt = _pyplot()
    rows = summary["rows"]
    engines = len({r["engine"] for r in rows}) > 1
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    # one row per (timesteps, width): the engines share its accuracy
    firsts = list({(r["timesteps"], r["weight_width"]): r for r in reversed(rows)}.values())
    for n, b in enumerate(sorted({r["weight_width"] for r in rows}, reverse=True)):
        rs = sorted((r for r in firsts if r["weight_width"] == b),
                    key=lambda r: r["timesteps"])
        colour = f"C{n}"
        ax.errorbar([r["timesteps"] for r in rs], [100 * r["accuracy"] for r in rs],
                    yerr=[100 * r["accuracy_std"] for r in rs], marker="o", capsize=3,
                    color=colour, label=f"{b}-bit weights, test")
        ax.plot([r["timesteps"] for r in rs], [100 * r["validation_accuracy"] for r in rs],
                "--", marker="x", color=colour, alpha=0.6, label=f"{b}-bit, validation")
    ax.set_xlabel("timesteps per sample")
    ax.set_ylabel("accuracy % (mean ± std over seeds)")
    ax.set_title("accuracy against timesteps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "accuracy_vs_timesteps.png")
    save_figure(fig, paths[-1])
    for metric, front_key, xlabel, name in (
            ("latency_us", "front_latency", "latency µs/sample (cycle model)",
             "pareto_latency.png"),
            ("memory_bits", "front_memory", "memory bits (every layer, from the RTL)",
             "pareto_memory.png")):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True, layout="constrained")
        front = sorted((r for r in rows if r["label"] in summary[front_key]),
                       key=lambda r: r[metric])
        chosen = summary["chosen"]
        for ax, key, title in ((axes[0], "validation_accuracy",
                                "validation split: the front and the choice"),
                               (axes[1], "accuracy", "test split: reported, never chosen on")):
            sc = ax.scatter([r[metric] for r in rows], [100 * r[key] for r in rows],
                            c=[r["weight_width"] for r in rows], cmap="viridis", s=30)
            if key == "accuracy":
                ax.errorbar([r[metric] for r in rows], [100 * r[key] for r in rows],
                            yerr=[100 * r["accuracy_std"] for r in rows], fmt="none",
                            ecolor="grey", capsize=2)
            ax.step([r[metric] for r in front], [100 * r[key] for r in front], "r-",
                    where="post", label="Pareto front (validation)")
            for r in rows:
                ax.annotate(f"T={r['timesteps']},{r['weight_width']}b"
                            + (f",{r['engine']}" if engines else ""),
                            (r[metric], 100 * r[key]), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
            if chosen is not None:
                ax.scatter([chosen[metric]], [100 * chosen[key]], s=150, facecolors="none",
                           edgecolors="r", label="chosen")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{'validation' if key != 'accuracy' else 'test'} accuracy %")
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.colorbar(sc, ax=axes, label="weight bits")
        paths.append(out / name)
        save_figure(fig, paths[-1])
    return paths
