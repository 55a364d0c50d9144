"""``plasticore bench nir``: networks trained in snnTorch, imported, against their float
source.

For every NIR file shipped in ``examples/nir`` (:data:`NETWORKS`: trained by
``examples/snntorch_mlp.py``), on its dataset's test split:

- the float source network as snnTorch runs it (:func:`plasticore.interchange.reference.
  run_float`, float32, snnTorch's delayed reset by subtraction);
- plasticore's integer network imported at 8, 6 and 4 bits (``plasticore nir import``'s
  quantization, the golden model: bit for bit what the RTL runs).

A rate-coded network sees plasticore's encoder spikes in both (the same spikes for the float
and the integer network), over ``seeds`` encoder seeds: mean and spread.  A network with
current input has no randomness: one run.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["NETWORKS", "WEIGHT_BITS", "measure", "format_table"]

#: The shipped NIR files: file, dataset, input encoding, timesteps.
NETWORKS = (("digits-mlp.nir", "digits", "current", 25),
            ("digits-mlp-rate.nir", "digits", "rate", 25),
            ("mnist-5k-mlp.nir", "mnist-5k", "current", 25))
#: Weight widths each network is imported at.
WEIGHT_BITS = (8, 6, 4)


def measure(seeds: int = 3, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Float and integer test accuracy of every network in :data:`NETWORKS`."""
    from ..golden.datasets import load_dataset
    from ..golden.network import Network
    from ..interchange.graph import network_of, read_graph
    from ..interchange.quantize import ImportOptions, quantize
    from ..interchange.reference import run_float
    from ..tools import repo_root

    rows = []
    for name, dataset, encoder, timesteps in NETWORKS:
        path = repo_root() / "examples" / "nir" / name
        source = network_of(read_graph(path), 1e-4)
        _, test = load_dataset(dataset, None, 8)
        keys = np.arange(len(test))
        runs: dict[str, list[float]] = {"float": [], **{str(b): [] for b in WEIGHT_BITS}}
        for seed in range(seeds if encoder == "rate" else 1):
            first = None
            for bits in WEIGHT_BITS:
                options = ImportOptions(dataset=dataset, timesteps=timesteps, encoder=encoder,
                                        weight_bits=bits, seed=seed)
                imported = quantize(source, options)
                net = Network(imported.config.network, weights=imported.weights,
                              theta=imported.theta, bias=imported.bias)
                counts = net.run_batch(test.images, keys, chunk=256)
                runs[str(bits)].append(_accuracy(counts, test.labels))
                first = first or net
            assert first is not None
            if encoder == "rate":
                inputs = np.stack([first.input_spikes(image, int(k))
                                   for image, k in zip(test.images, keys, strict=True)])
            else:
                inputs = np.asarray(test.images, np.float32) / np.float32(255)
            runs["float"].append(_accuracy(run_float(source, inputs, timesteps), test.labels))
            if say is not None:
                say(f"bench nir: {name} seed {seed}: float {100 * runs['float'][-1]:.2f}%, "
                    + ", ".join(f"{b} bits {100 * runs[str(b)][-1]:.2f}%"
                                for b in WEIGHT_BITS))
        rows.append({"file": f"examples/nir/{name}", "dataset": dataset, "encoder": encoder,
                     "timesteps": timesteps, "test_samples": len(test), "runs": runs,
                     **{key: _spread(values) for key, values in runs.items()}})
    return {"seeds": seeds, "rows": rows}


def _accuracy(counts: Any, labels: Any) -> float:
    return float(np.mean(np.argmax(counts, axis=1) == labels))


def _spread(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def format_table(result: dict[str, Any]) -> str:
    """Markdown: one row per network, float and each weight width, and the 8-bit gap."""
    head = ("| network | input | float (snnTorch semantics) | "
            + " | ".join(f"{b}-bit" for b in WEIGHT_BITS) + " | 8-bit - float |")
    lines = [head, "|" + "---|" * (4 + len(WEIGHT_BITS))]

    def cell(s: dict[str, float]) -> str:
        return f"{100 * s['mean']:.2f} ± {100 * s['sd']:.2f} %" if s["sd"] else \
            f"{100 * s['mean']:.2f} %"

    for r in result["rows"]:
        seeds = len(r["runs"]["float"])
        encoder = (f"rate ({seeds} seeds)" if r["encoder"] == "rate" else "current")
        gap = 100 * (r["8"]["mean"] - r["float"]["mean"])
        lines.append(f"| {r['file']} ({r['dataset']}, T = {r['timesteps']}) | {encoder} | "
                     f"{cell(r['float'])} | "
                     + " | ".join(cell(r[str(b)]) for b in WEIGHT_BITS)
                     + f" | {gap:+.2f} points |")
    return "\n".join(lines)
