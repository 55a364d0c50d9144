#!/usr/bin/env python3
"""Train a small snnTorch network and export it as a NIR file for plasticore's NIR importer.

The network is feed-forward, ``Linear -> Leaky -> Linear -> Leaky``, trained with
backpropagation through time (snnTorch's default arc-tangent surrogate gradient, Adam) on
the output spike counts. The data are plasticore's own splits, loaded with
:func:`plasticore.golden.datasets.load_dataset` (8-bit pixels), so a network trained here
is tested on exactly the images plasticore tests on. Inputs are ``pixel / 255``:

* ``--encoding direct``: that value is a constant input current at every timestep;
* ``--encoding rate``: a Bernoulli spike with probability ``pixel / 255 * max_rate`` at
  every timestep (seeded: training draws fresh spikes every epoch, the test spikes are the
  same on every evaluation).

The prediction is the output neuron with the most spikes over the ``--timesteps`` steps
(ties go to the lowest index). After training the network is exported with
``snntorch.export_nir.export_to_nir``, written with ``nir.write``, read back with
``nir.read`` and imported with ``snntorch.import_nir.import_from_nir``; the imported network
is tested twice: as snnTorch builds it (reset to zero, no reset delay: the semantics it
reads into a NIR ``LIF``) and with the trained reset restored (subtract, one-step delay).
See ``examples/README.md`` for the graph the file holds.

Needs the ``snntorch`` extra (see ``examples/README.md``); run from anywhere::

    python examples/snntorch_mlp.py --dataset digits --out examples/nir/digits-mlp.nir
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
from snntorch import functional as SF
from snntorch import utils as snn_utils
from torch import nn

from plasticore.golden.datasets import load_dataset

#: The timestep snnTorch's exporter writes into the NIR time constants (seconds).
NIR_DT = 1e-4


def leaky(n: int, beta: float, threshold: float, output: bool = False) -> snn.Leaky:
    """A layer of ``n`` snnTorch Leaky neurons, fixed beta and threshold, reset by subtraction.

    The exporter of snnTorch 1.0 needs beta and threshold as per-neuron vectors (it sizes
    the NIR arrays from them). ``init_hidden`` keeps the membrane inside the module, so the
    network is a plain ``nn.Sequential`` that ``export_to_nir`` can trace.
    """
    return snn.Leaky(
        beta=torch.full((n,), beta),
        threshold=torch.full((n,), threshold),
        learn_beta=False,
        learn_threshold=False,
        reset_mechanism="subtract",
        init_hidden=True,
        output=output,
    )


def build_net(n_in: int, n_hidden: int, n_out: int, beta: float, threshold: float) -> nn.Sequential:
    """``Linear(n_in, n_hidden) -> Leaky -> Linear(n_hidden, n_out) -> Leaky`` (with biases)."""
    return nn.Sequential(
        nn.Linear(n_in, n_hidden),
        leaky(n_hidden, beta, threshold),
        nn.Linear(n_hidden, n_out),
        leaky(n_out, beta, threshold, output=True),
    )


def encode(x: torch.Tensor, timesteps: int, encoding: str, max_rate: float,
           gen: torch.Generator | None) -> torch.Tensor:
    """Turn inputs in [0, 1] of shape (batch, n) into a (timesteps, batch, n) input sequence."""
    if encoding == "direct":
        return x.unsqueeze(0).expand(timesteps, *x.shape)
    p = (x * max_rate).clamp(0.0, 1.0).unsqueeze(0).expand(timesteps, *x.shape)
    return torch.bernoulli(p, generator=gen)


def run(net: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    """Run ``net`` from rest over ``seq`` (T, batch, n); return the output spikes (T, batch, k)."""
    snn_utils.reset(net)
    out = []
    for x_t in seq:
        y = net(x_t)
        # our Sequential returns (spk, mem); the imported GraphModule returns (spk, state)
        out.append(y[0] if isinstance(y, tuple) else y)
    return torch.stack(out)


def predict(counts: np.ndarray) -> np.ndarray:
    """Class with the most output spikes; ties go to the lowest index (``np.argmax``)."""
    return np.argmax(counts, axis=1)


@torch.no_grad()
def test_counts(net: nn.Module, x: torch.Tensor, args: argparse.Namespace,
                batch: int = 500) -> np.ndarray:
    """Output spike counts (n, k) of ``net`` on ``x``; rate-coded test spikes depend only on
    the seed, so every evaluation sees the same input spikes."""
    net.eval()
    gen = torch.Generator().manual_seed(args.seed + 1_000_003)
    counts = []
    for i in range(0, len(x), batch):
        seq = encode(x[i:i + batch], args.timesteps, args.encoding, args.max_rate, gen)
        counts.append(run(net, seq).sum(0).numpy())
    return np.concatenate(counts)


def evaluate(net: nn.Module, x: torch.Tensor, y: np.ndarray, args: argparse.Namespace) -> float:
    """Test accuracy (fraction) of ``net``."""
    return float(np.mean(predict(test_counts(net, x, args)) == y))


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor,
          y_test: np.ndarray, args: argparse.Namespace) -> list[dict]:
    """BPTT with Adam on the chosen spike-count loss; returns per-epoch statistics."""
    loss_fn = SF.ce_count_loss() if args.loss == "count" else SF.ce_rate_loss()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    gen_order = torch.Generator().manual_seed(args.seed)
    gen_spikes = torch.Generator().manual_seed(args.seed + 1)
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(x), generator=gen_order)
        total, correct = 0.0, 0
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            seq = encode(x[idx], args.timesteps, args.encoding, args.max_rate, gen_spikes)
            spk = run(net, seq)
            loss = loss_fn(spk, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach().item() * len(idx)
            correct += int((predict(spk.sum(0).detach().numpy()) == y[idx].numpy()).sum())
        sched.step()
        test_acc = evaluate(net, x_test, y_test, args)
        row = {"epoch": epoch, "loss": total / len(x), "train_acc": correct / len(x),
               "test_acc": test_acc, "seconds": time.perf_counter() - t0}
        history.append(row)
        print(f"epoch {epoch:3d}/{args.epochs}  loss {row['loss']:.4f}  "
              f"train {100 * row['train_acc']:6.2f} %  test {100 * test_acc:6.2f} %  "
              f"({row['seconds']:.1f} s)", file=sys.stderr, flush=True)
    return history


def restore_trained_reset(net: nn.Module) -> None:
    """Give every Leaky of an imported network the reset it was trained with.

    ``import_from_nir`` builds ``Leaky(reset_mechanism="zero", reset_delay=False)`` from a NIR
    ``LIF``; the network was trained with snnTorch's defaults, subtract with a one-step delay.
    """
    for m in net.modules():
        if isinstance(m, snn.Leaky):
            m.reset_mechanism = "subtract"
            m.state_function = m._base_sub
            m.reset_delay = True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=("digits", "mnist-5k"), default="digits")
    p.add_argument("--encoding", choices=("direct", "rate"), default="direct")
    p.add_argument("--timesteps", type=int, default=25)
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (cosine decay)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="Adam L2 weight decay")
    p.add_argument("--beta", type=float, default=0.9, help="membrane decay per step")
    p.add_argument("--threshold", type=float, default=1.0)
    p.add_argument("--loss", choices=("count", "rate"), default="count",
                   help="snnTorch ce_count_loss or ce_rate_loss")
    p.add_argument("--max-rate", type=float, default=1.0,
                   help="rate encoding: spike probability per step of a 255 pixel")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", type=Path, help="write the trained network here as NIR (HDF5)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_set, test_set = load_dataset(args.dataset, pixel_bits=8)
    x = torch.tensor(train_set.images, dtype=torch.float32) / 255.0
    y = torch.tensor(train_set.labels, dtype=torch.long)
    x_test = torch.tensor(test_set.images, dtype=torch.float32) / 255.0
    y_test = np.asarray(test_set.labels)
    n_in, n_out = train_set.n_pixels, train_set.n_classes
    print(f"{args.dataset}: {len(x)} train, {len(x_test)} test, "
          f"{n_in}-{args.hidden}-{n_out}, T={args.timesteps}, {args.encoding} input, "
          f"seed {args.seed}", file=sys.stderr)

    net = build_net(n_in, args.hidden, n_out, args.beta, args.threshold)
    history = train(net, x, y, x_test, y_test, args)
    summary = {
        "dataset": args.dataset, "encoding": args.encoding, "timesteps": args.timesteps,
        "layers": [n_in, args.hidden, n_out], "epochs": args.epochs, "seed": args.seed,
        "beta": args.beta, "threshold": args.threshold, "loss": args.loss, "lr": args.lr,
        "weight_decay": args.weight_decay,
        "batch_size": args.batch_size,
        "max_rate": args.max_rate if args.encoding == "rate" else None,
        "test_acc": history[-1]["test_acc"], "history": history,
    }

    if args.out is not None:
        import nir
        from snntorch.export_nir import export_to_nir
        from snntorch.import_nir import import_from_nir

        net.eval()
        # ignore_dims=[0]: the sample's batch dimension is not part of the NIR types
        # snnTorch prints its notes on stdout; keep stdout for --json
        with contextlib.redirect_stdout(sys.stderr):
            graph = export_to_nir(net, torch.zeros(1, n_in), ignore_dims=[0])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        nir.write(args.out, graph)
        back = nir.read(args.out)
        with contextlib.redirect_stdout(sys.stderr):
            imported = import_from_nir(back)
        as_imported = evaluate(imported, x_test, y_test, args)
        restore_trained_reset(imported)
        counts_back = test_counts(imported, x_test, args)
        restored = float(np.mean(predict(counts_back) == y_test))
        same = bool(np.array_equal(counts_back, test_counts(net, x_test, args)))
        summary.update(out=str(args.out), bytes=args.out.stat().st_size,
                       imported_acc_reset_zero=as_imported,
                       imported_acc_reset_subtract=restored,
                       imported_counts_identical=same)
        print(f"wrote {args.out} ({args.out.stat().st_size} bytes); "
              f"test {100 * summary['test_acc']:.2f} %; read back and imported: "
              f"{100 * restored:.2f} % with the trained reset (subtract, delayed; output spike "
              f"counts {'identical' if same else 'DIFFERENT'}), "
              f"{100 * as_imported:.2f} % as import_from_nir builds it (reset to zero)",
              file=sys.stderr)
    else:
        print(f"test {100 * summary['test_acc']:.2f} %", file=sys.stderr)

    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
