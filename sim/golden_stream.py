"""The golden session in a second process, a sample at a time, while the simulator runs.

The harness runs the core at simulator speed; computing the golden model in the simulator's
own process would then take about a third of its time (the digits core learning: about
16 ms of golden model against 30 ms of simulation a sample).  :class:`GoldenStream`
starts ``python -m plasticore.sim.golden_stream SESSION`` (the configuration as JSON on
stdin: a core's, or a network's, :meth:`.target.Target.to_json`), which runs
:func:`~.core_session.golden_samples` and pickles each sample's expected spikes, counts
and cycles (a network's: every layer's timestep ends too) to its stdout as soon as it has
them, then the final weights, thresholds and biases (a network's: every layer's).  The
testbench reads a sample's expectation when that sample has run, so on two cores the
golden model and the simulation overlap; the comparison and its messages are unchanged.
The interpreter is ``PLASTICORE_PYTHON`` (set by ``plasticore.sim.runner.run_cocotb`` to
the interpreter that started the simulation), else ``sys.executable``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from typing import IO, Any

from ..config import CoreConfig, NetworkConfig
from .core_session import SessionResult, golden_samples
from .target import Target, target_from_json

__all__ = ["GoldenStream", "ENV_PYTHON"]

ENV_PYTHON = "PLASTICORE_PYTHON"


class GoldenStream:
    """The expected session, read from the golden process as far as it is needed.

    Members
    -------
    expected : SessionResult
        What has been read so far (``weights`` and ``theta`` once :meth:`final` ran).
    waited : float
        Seconds the reader waited for the golden process.
    """

    def __init__(self, config: CoreConfig | NetworkConfig | Target, session: str) -> None:
        python = os.environ.get(ENV_PYTHON) or sys.executable
        self._proc = subprocess.Popen(
            [python, "-m", "plasticore.sim.golden_stream", session],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(Target.of(config).to_json().encode())
        self._proc.stdin.close()
        self._out: IO[bytes] = self._proc.stdout
        self.expected = SessionResult()
        self.waited = 0.0

    def _next(self) -> tuple[Any, ...]:
        start = time.perf_counter()
        try:
            item: tuple[Any, ...] = pickle.load(self._out)
            self.waited += time.perf_counter() - start
        except EOFError:
            status = self._proc.wait()
            raise RuntimeError(f"the golden model's process ended early (exit status "
                               f"{status})") from None
        return item

    def upto(self, n: int) -> SessionResult:
        """The expectation with samples ``0..n`` in it."""
        e = self.expected
        while len(e.counts) <= n:
            kind, spikes, counts, cycles, total, step_ends, membranes = self._next()
            assert kind == "sample"
            if membranes is not None:
                e.membranes.append(membranes)
            if step_ends is not None:
                e.step_ends.append(step_ends)
            e.spikes.append(spikes)
            e.counts.append(counts)
            e.cycles.append(cycles)
            e.totals.append(total)
        return e

    def final(self, samples: int) -> SessionResult:
        """The whole expectation, final weights, thresholds and biases included."""
        if samples:
            self.upto(samples - 1)
        kind, weights, theta, bias = self._next()
        assert kind == "state"
        self.expected.weights, self.expected.theta = weights, theta
        self.expected.bias = bias
        self.close()
        return self.expected

    def close(self) -> None:
        """Stop the golden process (at once, if the comparison stopped early)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._out.close()


def _main(session: str) -> int:
    from .core_session import read_session

    config = target_from_json(sys.stdin.read())
    weights, theta, samples, bias = read_session(session)
    out = sys.stdout.buffer
    previous = 0
    for result in golden_samples(config, weights, theta, samples, bias):
        for n in range(previous, len(result.counts)):
            step_ends = result.step_ends[n] if result.step_ends else None
            membranes = result.membranes[n] if result.membranes else None
            pickle.dump(("sample", result.spikes[n], result.counts[n], result.cycles[n],
                         result.totals[n], step_ends, membranes), out)
        previous = len(result.counts)
        out.flush()
    pickle.dump(("state", result.weights, result.theta, result.bias), out)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
