#!/usr/bin/env python3
"""Run a NIR file written by ``snntorch_mlp.py`` in plain numpy, under several neuron semantics.

A reference for reading snnTorch's NIR: it needs only ``nir`` and numpy (no torch), walks
the graph from ``input`` to ``output`` along the edges (the file stores them in no
particular order), and steps every ``LIF`` node in float32 as

* ``--reset snntorch``: what snnTorch trained (``Leaky``, reset "subtract", the default
  ``reset_delay=True``)::

      v[t] = beta * v[t-1] + I[t] - v_threshold * z[t-1]      z[t] = v[t] > v_threshold

* ``--reset subtract``: subtraction in the same step (``reset_delay=False``)::

      u = beta * v[t-1] + I[t]      z[t] = u > v_threshold      v[t] = u - v_threshold * z[t]

* ``--reset subtract-beta``: the same in the same step, but subtracting ``v_threshold /
  beta``; algebraically identical to ``snntorch`` (``beta * (u - thr / beta * z) = beta * u
  - thr * z``), so a core that resets at once reproduces snnTorch by this larger step::

      u = beta * v[t-1] + I[t]      z[t] = u > v_threshold      v[t] = u - v_threshold / beta * z[t]

* ``--reset zero``: the NIR ``LIF`` definition, reset to ``v_reset`` (what
  ``snntorch.import_nir`` builds)::

      u = beta * v[t-1] + I[t]      z[t] = u > v_threshold      v[t] = v_reset if z[t] else u

with ``beta = 1 - dt / tau`` (float32, ``dt = 1e-4`` s, which snnTorch writes into ``tau``
and ``r`` but not into the file) and ``I`` the ``Affine`` output times ``r * dt / tau``
(1 for snnTorch's files). ``--spike ge`` tests ``>=`` instead of ``>`` (plasticore's
neuron). It reports the test accuracy (argmax of the output spike counts, ties to the
lowest index) on plasticore's split of the dataset the input size names::

    python examples/nir_sim.py examples/nir/digits-mlp.nir
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nir
import numpy as np

from plasticore.golden.datasets import load_dataset

DT = np.float32(1e-4)


def chain(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRNode]]:
    """The nodes from ``input`` to ``output`` in order (the graph must be a simple chain)."""
    succ: dict[str, str] = {}
    for src, dst in graph.edges:
        if src in succ:
            raise ValueError(f"node {src!r} has two successors: not a feed-forward chain")
        succ[src] = dst
    name, order = "input", []
    while True:
        order.append((name, graph.nodes[name]))
        if name == "output":
            return order
        name = succ[name]


def simulate(graph: nir.NIRGraph, x: np.ndarray, timesteps: int, reset: str, spike: str,
             encoding: str = "direct", seed: int = 0, max_rate: float = 1.0) -> np.ndarray:
    """Output spike counts (n, k) for inputs ``x`` in [0, 1] of shape (n, m)."""
    nodes = [n for _, n in chain(graph)]
    fire = np.greater if spike == "gt" else np.greater_equal
    state = {}
    for i, n in enumerate(nodes):
        if isinstance(n, nir.LIF):
            if not np.allclose(n.v_leak, 0):
                raise ValueError("v_leak != 0 is not handled here")
            beta = (np.float32(1) - DT / n.tau.astype(np.float32)).astype(np.float32)
            gain = (n.r.astype(np.float32) * DT / n.tau.astype(np.float32)).astype(np.float32)
            state[i] = (beta, gain)
    rng = np.random.default_rng(seed)
    v = {i: np.zeros((len(x), len(state[i][0])), np.float32) for i in state}
    z = {i: np.zeros((len(x), len(state[i][0])), np.float32) for i in state}
    counts = None
    for _ in range(timesteps):
        if encoding == "direct":
            a = x.astype(np.float32)
        else:
            a = (rng.random(x.shape) < x * max_rate).astype(np.float32)
        for i, n in enumerate(nodes):
            if isinstance(n, nir.Affine):
                a = a @ n.weight.T.astype(np.float32) + n.bias.astype(np.float32)
            elif isinstance(n, nir.Linear):
                a = a @ n.weight.T.astype(np.float32)
            elif isinstance(n, nir.LIF):
                beta, gain = state[i]
                thr = n.v_threshold.astype(np.float32)
                u = beta * v[i] + gain * a
                if reset == "snntorch":
                    u = u - thr * z[i]
                    z[i] = fire(u, thr).astype(np.float32)
                    v[i] = u
                else:
                    z[i] = fire(u, thr).astype(np.float32)
                    if reset == "subtract":
                        v[i] = u - thr * z[i]
                    elif reset == "subtract-beta":
                        v[i] = u - (thr / beta) * z[i]
                    else:
                        v[i] = np.where(z[i] > 0, n.v_reset.astype(np.float32), u)
                a = z[i]
            elif not isinstance(n, (nir.Input, nir.Output)):
                raise ValueError(f"node type {type(n).__name__} is not handled here")
        counts = a if counts is None else counts + a
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("file", type=Path)
    p.add_argument("--timesteps", type=int, default=25)
    p.add_argument("--reset", default="snntorch",
                   choices=("snntorch", "subtract", "subtract-beta", "zero"))
    p.add_argument("--spike", choices=("gt", "ge"), default="gt")
    p.add_argument("--encoding", choices=("direct", "rate"), default="direct",
                   help="rate: numpy Bernoulli spikes (not the torch draws of the training run)")
    p.add_argument("--max-rate", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0, help="rate encoding seed")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    graph = nir.read(args.file)
    n_in = int(graph.nodes["input"].input_type["input"].prod())
    dataset = {64: "digits", 784: "mnist-5k"}[n_in]
    _, test = load_dataset(dataset, pixel_bits=8)
    x = np.asarray(test.images, np.float32) / np.float32(255)
    counts = simulate(graph, x, args.timesteps, args.reset, args.spike, args.encoding,
                      args.seed, args.max_rate)
    acc = float(np.mean(np.argmax(counts, axis=1) == test.labels))
    print(f"{args.file}: {dataset} test {100 * acc:.2f} % "
          f"(reset {args.reset}, spike {'>' if args.spike == 'gt' else '>='}, "
          f"{args.encoding} input)", file=sys.stderr)
    if args.json:
        print(json.dumps({"file": str(args.file), "dataset": dataset, "reset": args.reset,
                          "spike": args.spike, "encoding": args.encoding, "test_acc": acc,
                          "counts": counts.astype(int).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
