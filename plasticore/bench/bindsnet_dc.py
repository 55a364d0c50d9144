"""Peer benchmark: Diehl & Cook (2015) STDP network in BindsNET on scikit-learn's 8x8 digits.

Trains BindsNET's ``DiehlAndCook2015`` model (64 Poisson inputs, ``n_neurons`` excitatory
and inhibitory neurons) for one epoch on the first ``--train`` digits of
``sklearn.datasets.load_digits`` (file order), assigns a label to every excitatory neuron
from its responses and classifies the next ``--test`` digits with BindsNET's
``all_activity`` rule. Prints one JSON object with ``--json`` (otherwise a short summary);
progress goes to stderr only.

Run it through :func:`plasticore.bench.peer.run_bindsnet`, or directly::

    PYTHONPATH=plasticore/bench/stubs python -m plasticore.bench.bindsnet_dc \\
        --train 1200 --test 597 --time 350 --seed 0 --json

Requirements (the optional ``bench`` extra, see ``make bench-setup``): torch and BindsNET
0.3.4 with its non-CUDA runtime dependencies. BindsNET imports ``torchvision`` at import
time (dataset wrappers, transforms, ``make_grid``) but this benchmark uses none of it, and
no torchvision wheel loads against the CPU torch used here. The import-only stub package in
``plasticore/bench/stubs/torchvision`` stands in for it: it provides ``datasets.<Name>``
placeholder classes, ``transforms.<Name>`` placeholders and ``utils.make_grid``, all of which
raise ``RuntimeError`` when used. That directory must be on ``PYTHONPATH`` of this process
only (``peer.run_bindsnet`` does so for the subprocess); never add it to the main process.

Label assignment (``--label-pass``):

``frozen`` (default)
    After the training epoch learning is switched off (``network.train(False)``: no weight
    updates, adaptive thresholds frozen), the training set is presented again and the
    recorded spike counts assign the labels. This is the usual, most accurate practice.
``online``
    Labels are assigned from the spikes recorded during the (learning) training epoch, as
    BindsNET's ``eth_mnist`` example does. Faster (no second pass), less accurate.

Input encoding: pixel ``p`` in 0..16 fires at ``p / 16 * intensity`` Hz for ``time`` steps
of 1 ms (``bindsnet.encoding.poisson``). State variables (voltages, refractory counters,
traces) are reset between samples (``network.reset_state_variables()``); adaptive
thresholds persist, as in BindsNET's examples.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time as _time
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np

N_LABELS = 10
N_INPUT = 64
PIXEL_MAX = 16.0

# Defaults: BindsNET's MNIST settings (exc 22.5, nu (1e-4, 1e-2)) with eth_mnist's inh = 120
# and a 255 Hz maximum rate; norm and theta_plus tuned for 64 inputs on the 1200/597 digits
# split at 350 steps. Seed-to-seed spread (about +-3 points) exceeds the differences among
# norm 6.4..10 and theta_plus 0.05..0.1; norm <= 4.5 or theta_plus 0.02 (norm 6.4) collapses
# to chance (a few neurons answer every digit).
DEFAULTS: dict[str, Any] = {
    "n_neurons": 100,
    "intensity": 255.0,
    "norm": 10.0,
    "exc": 22.5,
    "inh": 120.0,
    "theta_plus": 0.1,
    "tc_theta_decay": 1e7,
    "nu_pre": 1e-4,
    "nu_post": 1e-2,
}


def _log(msg: str) -> None:
    """Write one progress line to stderr."""
    print(msg, file=sys.stderr, flush=True)


def load_split(n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the bundled 8x8 digits and split them in file order.

    Parameters
    ----------
    n_train, n_test : int
        Number of training samples (taken first) and test samples (taken next).

    Returns
    -------
    tuple of numpy.ndarray
        ``x_train (n_train, 64)``, ``y_train``, ``x_test (n_test, 64)``, ``y_test``; pixels
        are float in 0..16.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = np.asarray(digits.data, dtype=np.float32)
    y = np.asarray(digits.target, dtype=np.int64)
    if n_train + n_test > len(x):
        raise ValueError(f"train + test = {n_train + n_test} exceeds {len(x)} digits")
    return x[:n_train], y[:n_train], x[n_train : n_train + n_test], y[n_train : n_train + n_test]


def _present(
    network: Any,
    monitor: Any,
    images: np.ndarray,
    time: int,
    intensity: float,
    what: str,
) -> tuple[Any, float, float, float]:
    """Present every image once and record the excitatory spike counts.

    Parameters
    ----------
    network : bindsnet.models.DiehlAndCook2015
        The network, in whatever learning mode the caller set.
    monitor : bindsnet.network.monitors.Monitor
        Spike monitor on layer ``Ae``.
    images : numpy.ndarray
        ``(n, 64)`` pixels in 0..16.
    time : int
        Steps (ms) per sample.
    intensity : float
        Rate in Hz of a pixel of value 16.
    what : str
        Name of the pass for progress messages.

    Returns
    -------
    counts : torch.Tensor
        ``(n, 1, n_neurons)`` spike counts (the time axis summed, as ``assign_labels`` and
        ``all_activity`` expect it).
    wall : float
        Wall time of the loop in seconds (encoding + simulation + recording).
    encode : float
        Part of ``wall`` spent in Poisson encoding.
    cpu : float
        CPU time of this process during the loop in seconds (``time.process_time``); with
        one thread it equals ``wall`` on an idle machine and is robust to a shared one.
    """
    import torch
    from bindsnet.encoding import poisson

    n = len(images)
    n_neurons = network.n_neurons
    counts = torch.zeros(n, 1, n_neurons)
    rates = torch.from_numpy(images) / PIXEL_MAX * intensity
    encode = 0.0
    every = max(1, n // 20)
    cpu_start = _time.process_time()
    start = _time.perf_counter()
    for i in range(n):
        t0 = _time.perf_counter()
        spikes = poisson(datum=rates[i], time=time, dt=1.0)
        encode += _time.perf_counter() - t0
        network.run(inputs={"X": spikes}, time=time)
        counts[i, 0] = monitor.get("s").view(time, n_neurons).sum(0)
        network.reset_state_variables()
        if (i + 1) % every == 0 or i + 1 == n:
            elapsed = _time.perf_counter() - start
            _log(
                f"[bindsnet_dc] {what}: {i + 1}/{n} "
                f"({1000 * elapsed / (i + 1):.1f} ms/sample, {elapsed:.0f} s)"
            )
    wall = _time.perf_counter() - start
    return counts, wall, encode, _time.process_time() - cpu_start


def run(
    train: int = 1200,
    test: int = 597,
    time: int = 350,
    seed: int = 0,
    threads: int = 1,
    label_pass: str = "frozen",
    **params: Any,
) -> dict[str, Any]:
    """Train, label and evaluate the BindsNET Diehl & Cook network.

    Parameters
    ----------
    train, test : int
        Number of training and test digits (file order, test follows train).
    time : int
        Presentation time per sample in 1 ms steps.
    seed : int
        Seed for torch, numpy and ``random``.
    threads : int
        ``torch.set_num_threads`` value.
    label_pass : {"frozen", "online"}
        Where the label-assignment responses come from (see module docstring).
    **params
        Overrides of :data:`DEFAULTS` (``n_neurons``, ``intensity``, ``norm``, ``exc``,
        ``inh``, ``theta_plus``, ``tc_theta_decay``, ``nu_pre``, ``nu_post``).

    Returns
    -------
    dict
        The benchmark record (accuracy, timings, versions, parameters).
    """
    import torch
    from bindsnet.evaluation import all_activity, assign_labels, proportion_weighting
    from bindsnet.models import DiehlAndCook2015
    from bindsnet.network.monitors import Monitor

    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown parameters: {sorted(unknown)}")
    if label_pass not in ("frozen", "online"):
        raise ValueError(f"label_pass must be 'frozen' or 'online', not {label_pass!r}")
    p = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)

    x_train, y_train, x_test, y_test = load_split(train, test)
    network = DiehlAndCook2015(
        n_inpt=N_INPUT,
        n_neurons=int(p["n_neurons"]),
        exc=float(p["exc"]),
        inh=float(p["inh"]),
        dt=1.0,
        norm=float(p["norm"]),
        theta_plus=float(p["theta_plus"]),
        tc_theta_decay=float(p["tc_theta_decay"]),
        nu=(float(p["nu_pre"]), float(p["nu_post"])),
    )
    monitor = Monitor(network.layers["Ae"], state_vars=["s"], time=time)
    network.add_monitor(monitor, name="Ae_spikes")

    _log(
        f"[bindsnet_dc] torch {torch.__version__}, bindsnet {metadata.version('bindsnet')}, "
        f"{train} train / {test} test, {time} steps, seed {seed}, {threads} thread(s)"
    )
    network.train(True)
    train_counts, train_wall, train_enc, train_cpu = _present(
        network, monitor, x_train, time, p["intensity"], "train"
    )

    network.train(False)
    label_wall = 0.0
    if label_pass == "frozen":
        label_counts, label_wall, _, _ = _present(
            network, monitor, x_train, time, p["intensity"], "label (frozen)"
        )
    else:
        label_counts = train_counts
    y_train_t = torch.from_numpy(y_train)
    assignments, proportions, _ = assign_labels(label_counts, y_train_t, N_LABELS)

    test_counts, test_wall, test_enc, test_cpu = _present(
        network, monitor, x_test, time, p["intensity"], "test"
    )
    y_test_t = torch.from_numpy(y_test)
    pred = all_activity(test_counts, assignments, N_LABELS)
    pred_prop = proportion_weighting(test_counts, assignments, proportions, N_LABELS)
    test_spikes = test_counts.sum(dim=(1, 2))

    return {
        "simulator": "bindsnet",
        "model": "DiehlAndCook2015",
        "accuracy": float((pred == y_test_t).float().mean()) if test else None,
        "accuracy_proportion_weighting": (
            float((pred_prop == y_test_t).float().mean()) if test else None
        ),
        "rule": "all_activity",
        "label_pass": label_pass,
        "train_samples": train,
        "test_samples": test,
        "time": time,
        "dt_ms": 1.0,
        "seed": seed,
        "threads": threads,
        "ms_per_train_sample": 1000 * train_wall / max(train, 1),
        "ms_per_train_sample_encoding": 1000 * train_enc / max(train, 1),
        "cpu_ms_per_train_sample": 1000 * train_cpu / max(train, 1),
        "ms_per_label_sample": 1000 * label_wall / max(train, 1) if label_wall else None,
        "ms_per_test_sample": 1000 * test_wall / max(test, 1) if test else None,
        "ms_per_test_sample_encoding": 1000 * test_enc / max(test, 1) if test else None,
        "cpu_ms_per_test_sample": 1000 * test_cpu / max(test, 1) if test else None,
        "train_wall_s": train_wall,
        "label_wall_s": label_wall,
        "test_wall_s": test_wall,
        "mean_train_spikes": float(train_counts.sum(dim=(1, 2)).mean()) if train else 0.0,
        "mean_test_spikes": float(test_spikes.mean()) if test else 0.0,
        "silent_test_samples": int((test_spikes == 0).sum()),
        "unassigned_neurons": int((assignments < 0).sum()),
        "torch": torch.__version__,
        "bindsnet": metadata.version("bindsnet"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "params": {**p, "n_input": N_INPUT, "wmin": 0.0, "wmax": 1.0, "learning_rule": "PostPre"},
    }


def _parser() -> argparse.ArgumentParser:
    """Build the command-line parser."""
    ap = argparse.ArgumentParser(
        prog="python -m plasticore.bench.bindsnet_dc",
        description="Diehl & Cook 2015 in BindsNET on sklearn digits (peer benchmark).",
    )
    ap.add_argument("--train", type=int, default=1200, help="training samples (first N)")
    ap.add_argument("--test", type=int, default=597, help="test samples (the next N)")
    ap.add_argument("--time", type=int, default=350, help="steps (ms) per sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--label-pass", choices=("frozen", "online"), default="frozen")
    ap.add_argument("--n-neurons", type=int, default=None)
    ap.add_argument("--intensity", type=float, default=None, help="Hz for pixel value 16")
    ap.add_argument("--norm", type=float, default=None, help="input weight sum per neuron")
    ap.add_argument("--exc", type=float, default=None)
    ap.add_argument("--inh", type=float, default=None)
    ap.add_argument("--theta-plus", type=float, default=None)
    ap.add_argument("--tc-theta-decay", type=float, default=None)
    ap.add_argument("--nu-pre", type=float, default=None)
    ap.add_argument("--nu-post", type=float, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    args = _parser().parse_args(argv)
    params = {k: getattr(args, k) for k in DEFAULTS}
    result = run(
        train=args.train,
        test=args.test,
        time=args.time,
        seed=args.seed,
        threads=args.threads,
        label_pass=args.label_pass,
        **params,
    )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(
            f"accuracy {100 * result['accuracy']:.2f}% ({result['label_pass']} labels), "
            f"{result['ms_per_train_sample']:.1f} ms/train sample, "
            f"{result['ms_per_test_sample'] or 0:.1f} ms/test sample"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
