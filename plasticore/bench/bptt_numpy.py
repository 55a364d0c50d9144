"""The plasticore side of ``plasticore bench bptt``: the numpy BPTT trainer, one thread.

Run as ``python -m plasticore.bench.bptt_numpy`` by :func:`.bptt.run_side` (which sets the
BLAS and OpenMP thread variables to 1 before numpy loads), with a spec on stdin and JSON
lines on stdout, as :mod:`.snntorch_bptt` does.  It trains with
:func:`plasticore.golden.bptt.train_bptt` on :func:`.bptt.splits`' training set and tests
the integer network it returns with :func:`plasticore.golden.train.evaluate` (the
configuration's readout, the forward pass the RTL runs bit for bit).  An epoch's training
time is its wall time less its validation pass (timed between the trainer's progress
calls); epochs count from 1 in the record.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from ..golden.bptt import train_bptt
from ..golden.train import evaluate
from .bptt import emit, spec_config, splits

__all__ = ["main", "train"]


def train(spec: dict[str, Any]) -> dict[str, Any]:
    """Train and test the spec's network; return the record (see :func:`.bptt.run_side`)."""
    config = spec_config(spec)
    seed, epochs = int(spec["seed"]), int(spec["epochs"])
    bptt = config.network.rule.bptt
    assert bptt is not None
    train_set, test_set = splits(config, spec["samples"])
    n_fit = len(train_set) - bptt.validation

    # an epoch's wall time (EpochStats.seconds) includes its validation pass, which runs
    # between the epoch's last "train" call and its "validate" call
    last_train = 0.0
    validating: list[float] = []

    def progress(phase: str, done: int, total: int) -> None:
        nonlocal last_train
        now = time.perf_counter()
        if phase == "train":
            last_train = now
        elif phase == "validate":
            validating.append(now - last_train)
        emit("progress", [f"numpy s{seed} {phase}", done, total])

    result = train_bptt(config, train_set, epochs=epochs, progress=progress)
    history = []
    for i, e in enumerate(result.history):
        seconds = e.seconds - (validating[i] if bptt.validation else 0.0)
        row = {"seed": seed, "epoch": e.epoch + 1, "loss": float(e.loss),
               "train_accuracy": float(e.train_accuracy),
               "validation_accuracy": (None if e.validation_accuracy is None
                                       else float(e.validation_accuracy)),
               "seconds": seconds, "samples_per_second": n_fit / seconds,
               "layer_rates": [float(r) for r in e.layer_rates]}
        history.append(row)
        emit("epoch", row)
    train_seconds = sum(row["seconds"] for row in history)
    ev = evaluate(result.network, train_set, test_set, readout=config.classify.readout)
    return {"side": "plasticore", "seed": seed, "epochs": len(history),
            "train_samples": n_fit, "train_seconds": train_seconds,
            "samples_per_second": n_fit * len(history) / train_seconds,
            "trainer_samples_per_second": float(result.samples_per_second),
            "best_epoch": result.best_epoch + 1, "test_accuracy": ev.accuracy,
            "backward": bptt.backward, "history": history}


def main() -> int:
    spec = json.loads(sys.stdin.read())
    emit("record", train(spec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
