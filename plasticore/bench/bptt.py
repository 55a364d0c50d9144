"""``plasticore bench bptt``: plasticore's numpy BPTT trainer against snnTorch, one thread each.

Both sides train the network of one ``rule.kind = "bptt"`` configuration, one seed after
the other, each in its own subprocess with one thread (``OMP_NUM_THREADS`` and the BLAS
thread variables at 1; snnTorch also ``torch.set_num_threads(1)``), never concurrently:

- plasticore (:mod:`.bptt_numpy`): :func:`plasticore.golden.bptt.train_bptt`, then the test
  accuracy of the integer network it returns (the bit-exact forward pass of the RTL);
- snnTorch (:mod:`.snntorch_bptt`, needs the ``snntorch`` extra): the same layer sizes,
  timesteps, input encoding, leak, reset and bias, mini-batch, epochs, optimizer, learning
  rate, schedule, surrogate and loss (:func:`peer_network`), on the same training and test
  samples (:func:`splits`), in float32.

A side's run is a *spec* (the configuration as TOML, the seed, the epochs, the training
samples): :func:`run_side` hands it to the side's module on stdin and reads JSON lines back
(progress, epochs, the record).  Training samples per second count the training passes
only (forward, backward, update), not data loading, validation or test.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, load_config
from .peer import pump_stderr

__all__ = ["SIDES", "SNNTORCH_HINT", "THREAD_VARIABLES", "BenchError", "SideFailed",
           "bench_config", "check", "format_table", "measure", "peer_network", "run_side",
           "splits"]

#: The two sides: name -> the module a subprocess runs.
SIDES = {"plasticore": "plasticore.bench.bptt_numpy",
         "snntorch": "plasticore.bench.snntorch_bptt"}

SNNTORCH_HINT = ("snnTorch side skipped: install the snntorch extra (CPU torch==2.13.0 first, "
                 "then snntorch==1.0.0 with --no-deps, then `pip install -e .[snntorch]`; "
                 "examples/README.md)")

#: Environment variables that set the thread count of the numerical libraries.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

Progress = Callable[[str, int, int], None]


class BenchError(ValueError):
    """A benchmark that cannot run as asked (one line for the user)."""


class SideFailed(RuntimeError):
    """A side's subprocess failed or printed no record (one line: its last error line)."""


def bench_config(config: Config, seed: int | None = None, batch: int | None = None,
                 epochs: int | None = None) -> Config:
    """``config`` with the run's ``seed``, mini-batch ``batch`` and ``epochs`` (``None``:
    unchanged).

    Raises
    ------
    BenchError
        The configuration does not train with ``rule.kind = "bptt"``, or ``batch`` or
        ``epochs`` is out of the configuration's range.
    """
    network = config.network
    if network.rule.kind != "bptt" or network.rule.bptt is None:
        raise BenchError(f"{config.source}: rule.kind = {network.rule.kind!r}: the BPTT "
                         "benchmark trains a rule.kind = 'bptt' network (e.g. digits-mlp)")
    try:
        data = config.data if epochs is None else dataclasses.replace(config.data,
                                                                      epochs=epochs)
    except ConfigError as exc:
        raise BenchError(f"--epochs {epochs}: {exc}") from None
    if batch is not None:
        rule = dataclasses.replace(network.rule, bptt=dataclasses.replace(network.rule.bptt,
                                                                          batch=batch))
        try:
            network = dataclasses.replace(network, rule=rule)
        except ConfigError as exc:
            raise BenchError(f"--batch {batch}: {exc}") from None
    if seed is not None:
        network = dataclasses.replace(network, seed=seed)
    return dataclasses.replace(config.replace_network(network), data=data)


def splits(config: Config, samples: int | None) -> tuple[Any, Any]:
    """The ``(train, test)`` sets both sides use: the configuration's dataset cut to
    ``data.train_samples`` / ``data.test_samples``, the training set further to its first
    ``samples`` (``None``: all).  The trainer holds its validation samples out of the
    training set itself (the last ``rule.validation``).

    Raises
    ------
    BenchError
        ``samples`` larger than the training split, or too few to leave a training sample
        beside the validation ones.
    """
    from ..golden.datasets import load_dataset

    data = config.data
    train_set, test_set = load_dataset(data.dataset, data.path or None,
                                       config.core.encoder.pixel_bits)
    if data.train_samples:
        train_set = train_set.subset(0, min(data.train_samples, len(train_set)))
    if data.test_samples:
        test_set = test_set.subset(0, min(data.test_samples, len(test_set)))
    if samples is not None:
        if samples > len(train_set):
            raise BenchError(f"--samples {samples}: the {data.dataset} training split has "
                             f"only {len(train_set)} samples")
        train_set = train_set.subset(0, samples)
    bptt = config.network.rule.bptt
    validation = bptt.validation if bptt is not None else 0
    if validation >= len(train_set):
        raise BenchError(f"--samples {len(train_set)}: no training sample left beside the "
                         f"{validation} validation samples (rule.validation)")
    return train_set, test_set


def peer_network(config: Config) -> dict[str, Any]:
    """What a float (snnTorch) network needs to be the configuration's network.

    The numpy trainer's own view of each layer (:class:`plasticore.golden.bptt.LayerGrid`)
    gives the leak factor and the size of a parameter's grid in threshold units, so the
    peer's float parameters are the integer ones divided by ``v_th`` (thresholds are 1).

    Returns
    -------
    dict
        ``layers``: sizes, inputs first; ``input``: ``"current"`` (the pixel as a constant
        current) or ``"rate"`` (Bernoulli spikes); ``pixel_max`` (the full-scale pixel) and
        ``max_rate``; per layer (``neurons``): ``beta`` (the leak factor per timestep),
        ``reset`` (``"subtract"`` or ``"zero"``), ``reset_delay`` (snnTorch's reset one
        timestep late, after the leak: an integer ``reset_amount`` other than the threshold,
        which ``plasticore nir import`` sets to ``threshold / beta``), ``bias``, and
        ``scale``: the numpy optimizer's unit of the weights, biases and thresholds (the
        grid's largest magnitude) in threshold units (per full-scale input for weights), by
        which the peer's learning rates are scaled so both optimizers take the same steps;
        and the ``readout`` the loss is taken on.

    Raises
    ------
    BenchError
        An input or neuron the peer cannot model (direct input, refractory periods,
        lateral inhibition, adaptive thresholds, a reset potential other than rest).
    """
    from ..golden.bptt import LayerGrid

    network = config.network
    encoder = config.core.encoder
    if encoder.kind not in ("current", "rate"):
        raise BenchError(f"input.kind = {encoder.kind!r}: the BPTT benchmark trains on "
                         "images (current or rate input)")
    neurons = []
    for i, core in enumerate(network.cores):
        n = core.neuron
        if n.t_ref or n.w_inh or n.theta_plus:
            raise BenchError(f"layers[{i}].neuron: snnTorch's Leaky has no refractory "
                             "period, lateral inhibition or adaptive threshold (t_ref, "
                             "w_inh and theta_plus must be 0)")
        if n.reset_mode == "to_reset" and n.v_reset != n.v_rest:
            raise BenchError(f"layers[{i}].neuron.v_reset = {n.v_reset}: snnTorch resets to "
                             "rest (v_reset = v_rest) or subtracts")
        grid = LayerGrid(core, i == 0)
        subtract = n.reset_mode == "subtract"
        units = (grid.gain * grid.in_max / grid.v_th, 1 / grid.v_th, 1 / grid.v_th)
        neurons.append({
            "beta": grid.beta,
            "reset": "subtract" if subtract else "zero",
            "reset_delay": subtract and n.reset_amount not in (0, n.v_th),
            "bias": grid.has_bias,
            "scale": [s * u for s, u in zip(grid.scale, units, strict=True)],
        })
    return {"layers": [network.input.n_inputs, *(layer.n_neurons for layer in network.layers)],
            "input": encoder.kind, "pixel_max": (1 << encoder.pixel_bits) - 1,
            "max_rate": encoder.max_rate, "neurons": neurons,
            "readout": config.classify.readout}


def spec_config(spec: dict[str, Any]) -> Config:
    """The configuration a side's spec carries (its TOML text)."""
    return Config.from_dict(tomllib.loads(spec["config"]), source=spec["source"])


def emit(kind: str, value: Any) -> None:
    """Print one JSON line ``{kind: value}`` on stdout (the side's report to the parent)."""
    print(json.dumps({kind: value}), flush=True)


def run_side(side: str, spec: dict[str, Any], progress: Progress | None = None,
             say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one side on ``spec`` in a subprocess with one thread; return its record.

    The child prints JSON lines on stdout: ``{"progress": [phase, done, total]}`` (passed
    to ``progress``), ``{"epoch": {...}}`` (one line per epoch to ``say``) and finally
    ``{"record": {...}}``.

    Raises
    ------
    SideFailed
        The child failed or printed no record (the last line of its stderr says why).
    """
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    cmd = [sys.executable, "-m", SIDES[side]]
    load = os.getloadavg()[0]
    tail: collections.deque[str] = collections.deque(maxlen=20)
    record = None
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        pump = threading.Thread(target=pump_stderr, args=(proc.stderr, tail), daemon=True)
        pump.start()
        try:
            proc.stdin.write(json.dumps(spec))
            proc.stdin.close()
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(event, dict):
                    continue
                if "progress" in event and progress is not None:
                    progress(*event["progress"])
                elif "epoch" in event and say is not None:
                    say(_epoch_line(side, event["epoch"]))
                elif "record" in event:
                    record = event["record"]
        except BaseException:        # interrupted, terminated: the child stops too
            proc.kill()
            raise
        proc.wait()
        pump.join()
    if proc.returncode != 0 or not isinstance(record, dict):
        last = tail[-1] if tail else "no output"
        raise SideFailed(f"bench bptt: the {side} side failed (exit {proc.returncode}): "
                           f"{last}")
    record["load_average_before"] = load        # how busy the machine was (1 minute)
    return record


def _epoch_line(side: str, e: dict[str, Any]) -> str:
    val = e.get("validation_accuracy")
    return (f"bench bptt: {side} seed {e['seed']} epoch {e['epoch']}: loss {e['loss']:.4f}, "
            f"train {100 * e['train_accuracy']:.2f} %"
            + ("" if val is None else f", validation {100 * val:.2f} %")
            + f", {e['samples_per_second']:.0f} samples/s")


def snntorch_available() -> bool:
    """Whether the snnTorch side can run (torch and snntorch importable)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "snntorch"))


def check(config_name: str, epochs: int | None = None, batch: int | None = None,
          samples: int | None = None) -> None:
    """Raise :class:`BenchError` (or ``ConfigError``, ``DatasetError``) for a run
    :func:`measure` could not make, before any training."""
    config = bench_config(load_config(config_name), batch=batch, epochs=epochs)
    peer_network(config)
    splits(config, samples)


def measure(config_name: str, epochs: int | None = None, batch: int | None = None,
            samples: int | None = None, seeds: int = 1,
            progress: Progress | None = None,
            say: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Train the configuration's network on both sides for seeds ``0 .. seeds - 1``, one
    side after the other (plasticore first for even seeds, snnTorch for odd ones).

    Parameters
    ----------
    config_name : str
        A ``rule.kind = "bptt"`` configuration (built-in name or path).
    epochs, batch, samples : int, optional
        Override the configuration's ``data.epochs``, ``rule.batch`` and training samples.
    seeds : int
        Runs per side (the configuration's seed replaced by 0, 1, ...).
    progress, say : callables
        ``(phase, done, total)`` progress of every side's training; one-line messages.

    Returns
    -------
    dict
        ``runs`` (every record by side), per side the median samples per second and the
        test accuracy's mean and spread, ``ratio`` (plasticore's samples per second over
        snnTorch's, medians) and ``snntorch_skipped`` (the reason, when it did not run).
    """
    base = bench_config(load_config(config_name), batch=batch, epochs=epochs)
    train_set, test_set = splits(base, samples)
    bptt = base.network.rule.bptt
    assert bptt is not None
    epochs = base.data.epochs
    peer = peer_network(base)
    with_peer = snntorch_available()
    if not with_peer:
        say(SNNTORCH_HINT)
    runs: dict[str, list[dict[str, Any]]] = {"plasticore": [], "snntorch": []}
    for seed in range(seeds):
        config = bench_config(base, seed=seed)
        spec = {"config": config.to_toml(), "source": config.source, "seed": seed,
                "epochs": epochs, "samples": len(train_set)}
        # the sides take turns going first, so a change in the machine's load between
        # them does not always favour the same side
        order = ("plasticore", "snntorch")[::1 if seed % 2 == 0 else -1]
        for side in order if with_peer else ("plasticore",):
            say(f"bench bptt: seed {seed}: {side}, {len(train_set)} samples x {epochs} "
                f"epochs, batch {bptt.batch}")
            record = run_side(side, spec, progress, say)
            say(f"bench bptt: seed {seed}: {side}: {record['samples_per_second']:.0f} "
                f"training samples/s, test {100 * record['test_accuracy']:.2f} %")
            runs[side].append(record)
    out: dict[str, Any] = {
        "config": base.source, "dataset": base.data.dataset, "layers": peer["layers"],
        "input": peer["input"], "timesteps": base.network.timesteps, "batch": bptt.batch,
        "epochs": epochs, "train_samples": len(train_set) - bptt.validation,
        "validation_samples": bptt.validation, "test_samples": len(test_set),
        "readout": peer["readout"], "threads": 1, "machine": _machine(), "runs": runs,
        "snntorch_skipped": None if with_peer else SNNTORCH_HINT}
    for side, records in runs.items():
        if records:
            out[side] = _summary(records)
    if with_peer:
        out["ratio"] = (out["plasticore"]["samples_per_second_median"]
                        / out["snntorch"]["samples_per_second_median"])
    return out


def _machine() -> dict[str, Any]:
    """The machine the benchmark ran on (its results are only comparable within one run)."""
    import platform

    import numpy

    model = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__}


def _summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    acc = [100 * r["test_accuracy"] for r in records]
    return {"samples_per_second_median": statistics.median(r["samples_per_second"]
                                                           for r in records),
            "test_accuracy_mean": statistics.fmean(acc),
            "test_accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            "seconds_median": statistics.median(r["train_seconds"] for r in records)}


def format_table(result: dict[str, Any]) -> str:
    """The benchmark as a Markdown table (one column per side, the ratio last)."""
    sides = [s for s in ("plasticore", "snntorch") if s in result]
    names = {"plasticore": "plasticore numpy (integer forward)",
             "snntorch": "snnTorch 1.0 (float32)"}
    n = len(result["runs"]["plasticore"])
    head = (f"{result['dataset']} {'-'.join(map(str, result['layers']))}, "
            f"T = {result['timesteps']}, {result['input']} input, batch {result['batch']}, "
            f"{result['epochs']} epochs, {result['train_samples']} train / "
            f"{result['validation_samples']} validation / {result['test_samples']} test "
            f"samples, {result['readout']} loss, one thread, {n} seed(s)")
    rows = [
        "| | " + " | ".join(names[s] for s in sides) + " | ratio |",
        "|---|" + "---:|" * (len(sides) + 1),
        "| training samples/s (median) | "
        + " | ".join(f"{result[s]['samples_per_second_median']:.0f}" for s in sides)
        + (f" | {result['ratio']:.2f}x |" if "ratio" in result else " | |"),
        "| ms per training sample | "
        + " | ".join(f"{1000 / result[s]['samples_per_second_median']:.3f}" for s in sides)
        + " | |",
        "| test accuracy % (mean ± std) | "
        + " | ".join(f"{result[s]['test_accuracy_mean']:.2f} ± "
                     f"{result[s]['test_accuracy_std']:.2f}" for s in sides) + " | |",
    ]
    lines = [head, "", *rows]
    machine = result.get("machine")
    loads = [r["load_average_before"] for rs in result["runs"].values() for r in rs
             if "load_average_before" in r]
    if machine and loads:
        lines += ["", f"{machine['cpu']}, {machine['cpus']} CPUs, numpy {machine['numpy']}; "
                  f"1-minute load average before each side's run {min(loads):.1f} to "
                  f"{max(loads):.1f} (other work shares the machine: ratios hold within "
                  "one run)"]
    if result.get("snntorch_skipped"):
        lines += ["", result["snntorch_skipped"]]
    return "\n".join(lines)
