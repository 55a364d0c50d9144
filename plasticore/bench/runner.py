"""``plasticore bench``: run the benchmarks, print tables, keep the JSON.

- ``peer``: the digits network trained in BindsNET's ``DiehlAndCook2015`` and in plasticore,
  seed by seed, one after the other (never concurrently, so both see the same machine):
  accuracy and milliseconds per training sample for both, and the speed ratio;
- ``accuracy``: the golden model over seeds at each timestep count (naive and enhanced
  reduction, float reference), mean and spread;
- ``sim``: co-simulation speed: core cycles per second under Verilator and Icarus on the
  soak workload in the free-running harness, their ratio, and the digits test set through
  the simulated board (``--json``: one JSON object on stdout);
- ``link``: the host driver's bytes per second through a serial port against the line rate;
- ``nir``: the networks trained in snnTorch (``examples/nir``), imported at 8, 6 and 4 bits,
  against their float source on the same inputs;
- ``bptt`` (by name only, not in ``all``): the numpy BPTT trainer against snnTorch on the
  same network, one thread each: training samples per second, test accuracy, the ratio
  (:mod:`.bptt`).

Results go to ``--out`` (``build/bench``) as JSON and Markdown; ``docs/results.md`` quotes
them with the command that produced them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..config import load_config
from ..files import write_text

__all__ = ["main", "peer_benchmark"]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def peer_benchmark(config_name: str, seeds: int) -> dict[str, Any]:
    """Train the same network in BindsNET and in plasticore for each seed; compare."""
    from threadpoolctl import threadpool_limits

    from ..golden.datasets import load_dataset
    from ..golden.train import evaluate, train
    from .peer import run_bindsnet

    config = load_config(config_name)
    core, data = config.core, config.data
    if data.dataset != "digits":
        raise ValueError("the BindsNET side-by-side runs on the digits dataset only")
    train_set, test_set = load_dataset("digits", None, core.encoder.pixel_bits)
    n_train = data.train_samples or len(train_set)
    n_test = data.test_samples or len(test_set)
    train_set, test_set = train_set.subset(0, n_train), test_set.subset(0, n_test)
    intensity = core.encoder.max_rate * 1000.0     # Hz at 1 ms timesteps
    rows: dict[str, list[dict[str, Any]]] = {"bindsnet": [], "plasticore": []}
    for seed in range(seeds):
        _say(f"bench peer: seed {seed}: BindsNET DiehlAndCook2015, {n_train} samples")
        b = run_bindsnet(n_train, n_test, core.timesteps, seed, n_neurons=core.n_neurons,
                         intensity=intensity)
        b.update(acc_all=b["accuracy"], acc_proportion=b["accuracy_proportion_weighting"])
        rows["bindsnet"].append(b)
        _say(f"bench peer: seed {seed}: plasticore golden model")
        seeded = core.replace(seed=seed)
        # One BLAS thread, as BindsNET runs with torch.set_num_threads(1).
        with threadpool_limits(limits=1):
            net, seconds, _ = train(seeded, train_set)
            start = time.perf_counter()
            ev = evaluate(net, train_set, test_set, readout="proportion")
            test_ms = 1000 * (time.perf_counter() - start) / (n_train + n_test)
        rows["plasticore"].append({
            "acc_proportion": ev.accuracy, "acc_all": _all_activity(ev, train_set, test_set),
            "ms_per_train_sample": 1000 * seconds / n_train, "ms_per_eval_sample": test_ms,
            "seed": seed})
    return {"config": config.source, "train_samples": n_train, "test_samples": n_test,
            "timesteps": core.timesteps, "n_neurons": core.n_neurons, **_compare(rows)}


def _all_activity(ev: Any, train_set: Any, test_set: Any) -> float:
    """Test accuracy of the same spike counts under Diehl & Cook's all-activity readout."""
    import numpy as np

    from ..golden.classify import Readout

    readout = Readout("all", ev.train_counts, train_set.labels, ev.readout.n_classes)
    return float(np.mean(readout.predict(ev.test_counts) == test_set.labels))


def _compare(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": rows}
    for name, rs in rows.items():
        out[name] = {"ms_per_train_sample_median":
                     statistics.median(r["ms_per_train_sample"] for r in rs)}
        for rule in ("proportion", "all"):
            acc = [100 * r[f"acc_{rule}"] for r in rs]
            out[name][f"{rule}_mean"] = statistics.fmean(acc)
            out[name][f"{rule}_std"] = statistics.stdev(acc) if len(acc) > 1 else 0.0
    out["speedup"] = (out["bindsnet"]["ms_per_train_sample_median"]
                      / out["plasticore"]["ms_per_train_sample_median"])
    return out


def format_peer(result: dict[str, Any]) -> str:
    b, s = result["bindsnet"], result["plasticore"]
    n = len(result["runs"]["plasticore"])
    return "\n".join([
        f"digits, {result['n_neurons']} neurons, {result['timesteps']} timesteps, "
        f"{result['train_samples']} train / {result['test_samples']} test samples, "
        f"{n} seed(s)",
        "",
        "| | BindsNET DiehlAndCook2015 | plasticore golden | ratio |",
        "|---|---:|---:|---:|",
        *(f"| accuracy %, {label} readout (mean ± std) | "
          f"{b[rule + '_mean']:.2f} ± {b[rule + '_std']:.2f} | "
          f"{s[rule + '_mean']:.2f} ± {s[rule + '_std']:.2f} | |"
          for rule, label in (("proportion", "proportion-weighting"),
                              ("all", "all-activity"))),
        f"| ms per training sample (median) | {b['ms_per_train_sample_median']:.1f} | "
        f"{s['ms_per_train_sample_median']:.1f} | {result['speedup']:.1f}x faster |",
    ])


def _write(out: Path, name: str, obj: Any, table: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / f"{name}.json", json.dumps(obj, indent=1, default=str) + "\n")
    write_text(out / f"{name}.md", table + "\n")


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.setup:
        from .peer import bench_setup_commands

        for cmd in bench_setup_commands():
            _say("bench setup: " + " ".join(cmd))
            status = subprocess.run(cmd, check=False).returncode
            if status:
                return status
        return 0
    what = args.what
    if what in ("all", "peer"):
        result = peer_benchmark(args.config, args.seeds)
        table = format_peer(result)
        _write(out, "peer", result, table)
        print(table + "\n")
    if what in ("all", "accuracy"):
        from ..explore.cluster import run_grid
        from .accuracy import bench_runs, format_table, summarize

        config = load_config(args.config)
        # the timesteps are parsed and checked by the CLI
        runs = bench_runs(config.core.timesteps, args.timesteps, args.seeds)
        done = 0

        def tick(r: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            _say(f"bench accuracy: {done}/{len(runs)}: {r['rule']} T={r['timesteps']} "
                 f"seed {r['seed']}: {100 * r['accuracy']:.2f}%")

        rows = summarize(run_grid(config, runs, args.workers, tick,
                                  scheduler=args.scheduler,
                                  scheduler_file=args.scheduler_file))
        table = format_table(rows)
        _write(out, "accuracy", rows, table)
        print(table + "\n")
    if what in ("all", "nir"):
        from . import imports

        result = imports.measure(args.seeds, _say)
        table = imports.format_table(result)
        _write(out, "nir", result, table)
        print(table + "\n")
    if what in ("all", "link"):
        from . import link

        result = link.measure(args.config, args.samples or 200)
        table = link.format_table(result)
        _write(out, "link", result, table)
        print(table + "\n")
    if what in ("all", "core"):
        from . import corecycles

        result = corecycles.measure(
            args.config, clock_mhz=args.clock_mhz or load_config(args.config).board.clock_mhz,
            weights=args.weights)
        table = corecycles.format_table(result)
        _write(out, "core", result, table)
        print(table + "\n")
        # latency and synaptic operations per second at the board clock (chosen under the
        # synthesis estimate, or --clock-mhz), at full and reduced timesteps, digits and
        # MNIST-sized (this one for each PE lane, encoder lane and row bank count asked for)
        grid = {"n_pe": tuple(args.n_pe or [None]), "lanes": tuple(args.lanes or [None]),
                "row_banks": tuple(args.row_banks or [None])}
        skipped: list[str] = []
        rows = [row for name, n in (("digits", 100), ("mnist-400", 50))
                for t in (load_config(name).core.timesteps, 50)
                for row in corecycles.latency(
                    name, t, args.clock_mhz or load_config(name).board.clock_mhz, n,
                    **(grid if name == "mnist-400" else {}),
                    skipped=skipped if t == 50 and name == "mnist-400" else None)]
        for reason in skipped:
            print(f"note: no row for {reason}", file=sys.stderr)
        table = corecycles.format_latency(rows)
        _write(out, "latency", {"rows": rows}, table)
        print(table + "\n")
    if what in ("all", "sim"):
        from . import simspeed

        result = simspeed.measure(args.soak_samples, args.compare_samples)
        table = simspeed.format_table(result)
        _write(out, "simspeed", result, table)
        if args.json:
            print(json.dumps(result))
        else:
            print(table + "\n")
    if what == "bptt":          # by name only: a full run takes many minutes
        from . import bptt

        result = bptt.measure(args.config, epochs=args.epochs, batch=args.batch,
                              samples=args.samples, seeds=args.seeds,
                              progress=getattr(args, "progress", None), say=_say)
        table = bptt.format_table(result)
        _write(out, "bptt", result, table)
        print(table + "\n")
    _say(f"bench: results in {out}/")
    return 0
