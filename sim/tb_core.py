# amaranth: UnusedElaboratable=no
"""cocotb testbench of the core (``SnnCore``, ``hdl/core/``) or of a network of cores
(``NetworkCore``, ``hdl/network.py``) against the golden model.

Runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_core",
timing=True)``) on the design's Verilog wrapped in the harness of :mod:`.harness` (top module
:data:`TOPLEVEL`).  One session: load every layer's weights, thresholds and biases, run the
samples, read everything back.  The harness runs the design free with its own clock, from a
script this test writes, and counts the samples it has finished; the test wakes once per
sample, reads what the harness captured and compares it with ``golden_session``: every
(last-layer) spike, count and (with a membrane readout) membrane, every layer's weights,
thresholds and biases, and (without stalls) the cycles of every timestep (a network:
every layer's timestep ends) and sample.
The first difference fails the test with its sample, layer, timestep, neuron and values.

Environment: ``PLASTICORE_CORE`` (the configuration, JSON: a core's or a network's,
``Target.to_json``), ``PLASTICORE_SESSION`` (an ``.npz`` written by :func:`write_session`),
``PLASTICORE_STALL`` (probability that the consumers stall a cycle, default 0),
``PLASTICORE_REPORT`` (optional: where to write a JSON report of the session for
``plasticore cosim``), ``PLASTICORE_CORRUPT`` (checks of the harness, the comparison must
fail: ``weight`` flips one expected final weight of the last layer, ``bias`` one expected
bias of the last layer with a bias, ``count`` changes one expected count of the first
sample; ``membrane``, with a membrane readout only, one expected membrane of the first
sample; ``deep``, a network only, loads the RTL's layer 1 with the largest weight from every
input to its neuron 0, a fault that only layer 1 and the layers after it can show; ``lut``
loads the first layer on the LUT forward engine with the largest weight everywhere, and
the RTL builds its tables from them),
``PLASTICORE_PROGRESS`` (optional: a file rewritten after each sample with ``done total``).
Each sample is compared as soon as it has run, so a session stops at its first
difference.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.triggers import First, Timer

from ..config import CoreConfig, NetworkConfig
from .core_session import (
    Sample,
    SessionResult,
    compare,
    compare_sample,
    read_session,
    write_session,
)
from .golden_stream import GoldenStream
from .harness import (
    CAPTURE_NAME,
    CLOCK_NS,
    SCRIPT_NAME,
    CaptureReader,
    harness_verilog,
    write_script,
)
from .harness import TOPLEVEL as TOPLEVEL
from .target import Target, target_from_json

__all__ = ["TOPLEVEL", "COCOTB_TESTS", "ENV_SESSION", "ENV_STALL", "ENV_REPORT",
           "session_inputs", "write_session", "read_session"]

COCOTB_TESTS = 1
ENV_SESSION = "PLASTICORE_SESSION"
ENV_STALL = "PLASTICORE_STALL"
ENV_REPORT = "PLASTICORE_REPORT"
ENV_CORRUPT = "PLASTICORE_CORRUPT"
ENV_PROGRESS = "PLASTICORE_PROGRESS"


def session_inputs(config: CoreConfig | NetworkConfig | Target, weights: Any, theta: Any,
                   samples: list[Sample], work: Path,
                   bias: Any = None) -> tuple[list[Path], dict[str, str]]:
    """Write the design's Verilog (``<work>/snn_core.v``, or ``network_core.v`` for a
    network of several layers), the harness (``<work>/snn_harness.v``) and the session
    into ``work``; returns the sources and the testbench's environment, for
    ``run_cocotb(..., timing=True)``.  A network's ``weights``, ``theta`` and ``bias``
    hold one entry per layer; a ``Target`` with a membrane readout passes it on."""
    from ..hdl.verilog import write_verilog
    from .pe_testbench import ENV_CORE

    target = Target.of(config)
    work.mkdir(parents=True, exist_ok=True)
    source = write_verilog(target.component(), target.module, work)
    harness = work / f"{TOPLEVEL}.v"
    text = harness_verilog(target)
    if not harness.is_file() or harness.read_text() != text:
        harness.write_text(text)
    session = write_session(work / "session.npz", weights, theta, samples, bias)
    return [source, harness], {ENV_CORE: target.to_json(), ENV_SESSION: str(session)}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return float(usage.ru_utime + usage.ru_stime)


@cocotb.test()
async def core_session(dut: Any) -> None:
    """Load, run and read back one session in the harness; everything must equal the
    golden model.  Python wakes once per sample (``samples_done``) and compares it."""
    target = target_from_json(os.environ["PLASTICORE_CORE"])
    weights, theta, samples, bias = read_session(os.environ[ENV_SESSION])
    stall = float(os.environ.get(ENV_STALL, "0"))
    # the golden model runs in a second process while the harness runs (golden_stream)
    golden = GoldenStream(target, os.environ[ENV_SESSION])
    expected = golden.expected
    corrupt = os.environ.get(ENV_CORRUPT)      # harness checks: the comparison must fail

    def last_layer(values: Any) -> Any:
        """The last layer's entry of per-layer values (with a bias, for biases)."""
        present = [v for v in target.per_layer(values, "values") if v is not None]
        return present[-1] if present else None

    def expect(n: int | None) -> SessionResult:
        """The expectation up to sample ``n`` (``None``: all of it), corrupted on request."""
        had = len(expected.counts)
        if n is None:
            golden.final(len(samples))
        else:
            golden.upto(n)
        if corrupt == "count" and had == 0 and expected.counts:
            expected.counts[0][0] += 1
        if corrupt == "membrane" and had == 0 and expected.membranes:
            expected.membranes[0][0] += 1
        if corrupt == "weight" and n is None:
            last_layer(expected.weights)[0, 0] ^= 1
        if corrupt == "bias" and n is None and last_layer(expected.bias) is not None:
            last_layer(expected.bias)[0] ^= 1
        return expected

    report = os.environ.get(ENV_REPORT)
    progress = os.environ.get(ENV_PROGRESS)

    def layer_cycles(result: SessionResult, n: int) -> list[list[int]]:
        """A network's cycles of every layer's timesteps over the first ``n`` samples (the
        first from the command)."""
        layers: list[list[int]] = [[] for _ in target.cores] if target.layered else []
        for ends in result.step_ends[:n]:
            for cycles, e in zip(layers, ends, strict=True):
                cycles += [int(c) for c in np.diff(np.concatenate([[0], e]))]
        return layers

    def write_report(got: SessionResult, difference: str | None) -> None:
        if report:
            Path(report).write_text(json.dumps({
                "difference": difference,
                "samples": len(got.counts),
                "spikes": int(sum(len(s) for s in got.spikes)),
                "cycles_measured": [int(c) for cs in got.cycles for c in cs],
                "cycles_predicted": [int(c) for cs in expected.cycles[:len(got.cycles)]
                                     for c in cs],
                "layer_cycles_measured": layer_cycles(got, len(got.counts)),
                "layer_cycles_predicted": layer_cycles(expected, len(got.counts)),
                "counts": [[int(c) for c in cs] for cs in got.counts],
                "core_cycles": int(sum(got.totals)),
                "golden_wait_seconds": golden.waited,
                # CPU seconds of the simulator process so far (the model, cocotb and this
                # testbench; not the golden process): a measure the machine's other load
                # does not inflate as it does wall time
                "cpu_seconds": _cpu_seconds(),
            }))

    # the longest the harness may run before its next sample (or the end): generous
    # against the cycle model's slowest sample (every input and neuron spiking every
    # timestep), stalls included, and every layer's access
    access = sum((core.n_inputs + 1) * core.derived.neurons_per_pe for core in target.cores)
    longest = 4 * target.slowest_sample() + 2 * access + 100_000
    timeout_ns = longest * CLOCK_NS

    async def next_change(signal: Any, what: str) -> None:
        fired = await First(signal.value_change, Timer(timeout_ns, unit="ns"))
        if isinstance(fired, Timer):
            raise AssertionError(f"the core did not finish {what} within {longest} cycles")

    if corrupt == "deep":        # the RTL's layer 1 differs from the golden model's
        if not target.layered:
            raise AssertionError(f"{ENV_CORRUPT}=deep: needs a network of several layers")
        weights = [np.array(w) for w in weights]
        weights[1][:, 0] = target.cores[1].derived.w_max
    if corrupt == "lut":         # the RTL's first LUT layer builds its tables from others
        lut = [index for index, core in enumerate(target.cores) if core.forward == "lut"]
        if not lut:
            raise AssertionError(f"{ENV_CORRUPT}=lut: needs a layer on the LUT engine")
        layers = [np.array(w) for w in target.per_layer(weights, "weights")]
        layers[lut[0]][:] = target.cores[lut[0]].derived.w_max
        weights = target.shaped(layers)
    write_script(Path(SCRIPT_NAME), target.config, weights, theta, samples, stall, seed=7,
                 bias=bias)
    capture_path = Path(CAPTURE_NAME)
    capture_path.unlink(missing_ok=True)
    dut.start.value = 1
    with contextlib.ExitStack() as stack:
        stack.push(lambda *exc: golden.close())     # the golden process ends with the test
        reader: CaptureReader | None = None
        checked = 0
        while checked < len(samples):
            await next_change(dut.samples_done, f"sample {checked}")
            if reader is None:
                reader = CaptureReader(target, stack.enter_context(open(capture_path)))
            reader.read_samples()
            got = reader.result
            for n in range(checked, len(got.counts)):
                difference = compare_sample(got, expect(n), n, cycles=stall == 0)
                if progress:
                    Path(progress).write_text(f"{n + 1} {len(samples)}\n")
                if difference:
                    write_report(got, difference)
                    raise AssertionError(difference)
            checked = len(got.counts)
        while not int(dut.finished.value):
            await next_change(dut.finished, "the readback")
        if reader is None:
            reader = CaptureReader(target, stack.enter_context(open(capture_path)))
        got = reader.read_state()
        difference = compare(target, got, expect(None), cycles=stall == 0)
    if difference is None and stall > 0 and samples and sum(got.totals) <= sum(
            expected.totals):
        difference = (f"stall {stall}: the samples took {sum(got.totals)} cycles, no more "
                      f"than the cycle model's {sum(expected.totals)} without stalls: the "
                      "harness's stall pattern did not hold the consumers back")
    write_report(got, difference)
    assert difference is None, difference
    dut._log.info("%d samples, %d spikes, %d timesteps, %d core cycles: all equal to the "
                  "golden model", len(samples), sum(len(s) for s in got.spikes),
                  sum(len(c) for c in got.cycles), sum(got.totals))
