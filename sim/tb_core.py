# amaranth: UnusedElaboratable=no
"""cocotb testbench of the network core (``SnnCore``, ``hdl/core/``) against the golden model.

Runs inside the simulator (``run_cocotb(test_module="plasticore.sim.tb_core")``) on the
Verilog of ``SnnCore`` with top module :data:`TOPLEVEL`.  One session
(``plasticore.sim.core_session.drive``, the same driver the Amaranth-simulator tests use):
load the weights and thresholds, run the samples, read everything back; then compare every
spike, count, weight and threshold, and (without stalls) the cycles of every timestep with
``golden_session``.  The first difference fails the test with its sample, timestep, neuron
and values.

Environment: ``PLASTICORE_CORE`` (the configuration, JSON), ``PLASTICORE_SESSION`` (an
``.npz`` written by :func:`write_session`), ``PLASTICORE_STALL`` (probability that the
consumers stall a cycle, default 0), ``PLASTICORE_REPORT`` (optional: where to write a JSON
report of the session for ``plasticore cosim``), ``PLASTICORE_CORRUPT`` (``weight`` flips
one expected final weight, ``count`` changes one expected count of the first sample, so the
comparison must fail: checks of the harness),
``PLASTICORE_PROGRESS`` (optional: a file rewritten after each sample with ``done total``).
Each sample is compared as soon as it has run, so a session stops at its first
difference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from amaranth.lib import data
from cocotb.triggers import ReadOnly, RisingEdge

from ..config import CoreConfig
from .core_session import (
    CoreIO,
    Sample,
    SessionResult,
    compare,
    compare_sample,
    drive,
    golden_session,
)
from .streams import reset, start_clock, unpack

__all__ = ["TOPLEVEL", "COCOTB_TESTS", "ENV_SESSION", "ENV_STALL", "ENV_REPORT",
           "session_inputs", "write_session",
           "read_session", "CocotbIO"]

TOPLEVEL = "snn_core"
"""Top module name of the generated Verilog."""
COCOTB_TESTS = 1
ENV_SESSION = "PLASTICORE_SESSION"
ENV_STALL = "PLASTICORE_STALL"
ENV_REPORT = "PLASTICORE_REPORT"
ENV_CORRUPT = "PLASTICORE_CORRUPT"
ENV_PROGRESS = "PLASTICORE_PROGRESS"


def write_session(path: Path, weights: Any, theta: Any, samples: list[Sample]) -> Path:
    """Store a session for the testbench (``np.savez``)."""
    np.savez(path, weights=np.asarray(weights), theta=np.asarray(theta),
             pixels=np.array([s.pixels for s in samples]),
             keys=np.array([s.key for s in samples], dtype=np.int64),
             learn=np.array([s.learn for s in samples], dtype=bool))
    return path


def session_inputs(core: CoreConfig, weights: Any, theta: Any, samples: list[Sample],
                   work: Path) -> tuple[Path, dict[str, str]]:
    """Write the core's Verilog (``<work>/snn_core.v``) and the session into ``work``;
    returns the source and the testbench's environment, for ``run_cocotb``."""
    from ..hdl.core import SnnCore
    from ..hdl.verilog import to_verilog
    from .pe_testbench import ENV_CORE

    source = work / f"{TOPLEVEL}.v"
    source.write_text(to_verilog(SnnCore(core), TOPLEVEL))
    session = write_session(work / "session.npz", weights, theta, samples)
    return source, {ENV_CORE: core.to_json(), ENV_SESSION: str(session)}


def read_session(path: str | Path) -> tuple[Any, Any, list[Sample]]:
    """Inverse of :func:`write_session`."""
    with np.load(path) as f:
        samples = [Sample(p, int(k), bool(lrn))
                   for p, k, lrn in zip(f["pixels"], f["keys"], f["learn"], strict=True)]
        return f["weights"], f["theta"], samples


class CocotbIO(CoreIO):
    """:class:`CoreIO` of the core's Verilog under cocotb: stream ports are flattened to
    ``name__valid``, ``name__ready`` and ``name__payload`` (``streams.py``)."""

    def __init__(self, dut: Any, layouts: dict[str, Any]) -> None:
        self.dut = dut
        self.layouts = layouts
        self._handles: dict[tuple[str, str | None], Any] = {}
        self._written: dict[tuple[str, str | None], int] = {}

    def _handle(self, port: str, field: str | None) -> Any:
        key = (port, field)
        if key not in self._handles:
            self._handles[key] = getattr(self.dut, port if field is None
                                         else f"{port}__{field}")
        return self._handles[key]

    def set(self, port: str, field: str | None, value: Any) -> None:
        if isinstance(value, dict):
            value = self.layouts[port].const(value).as_bits()
        value = int(value)
        if self._written.get((port, field)) != value:   # inputs hold their value
            self._handle(port, field).value = value
            self._written[(port, field)] = value

    async def settle(self) -> None:
        await ReadOnly()

    def get(self, port: str, field: str | None = None) -> Any:
        raw = int(self._handle(port, field).value)
        layout = self.layouts.get(port) if field == "payload" else None
        if isinstance(layout, data.StructLayout):
            return unpack(layout, raw)
        return raw

    async def tick(self) -> None:
        await RisingEdge(self.dut.clk)


@cocotb.test()
async def core_session(dut: Any) -> None:
    """Load, run and read back one session; everything must equal the golden model."""
    from ..hdl.core import SnnCore

    core = CoreConfig.from_json(os.environ["PLASTICORE_CORE"])
    weights, theta, samples = read_session(os.environ[ENV_SESSION])
    stall = float(os.environ.get(ENV_STALL, "0"))
    ports = SnnCore(core).signature.members
    source = "pixels" if core.encoder.kind == "rate" else "raster"
    layouts = {name: ports[name].signature.members["payload"].shape
               for name in ("command", source, "spikes", "counts", "access", "readback")}
    for name in ("command", source, "access"):
        dut._id(f"{name}__valid", extended=False).value = 0
    for name in ("spikes", "counts", "readback"):
        dut._id(f"{name}__ready", extended=False).value = 0
    expected = golden_session(core, weights, theta, samples)
    corrupt = os.environ.get(ENV_CORRUPT)      # harness checks: the comparison must fail
    if corrupt == "weight":
        expected.weights[0, 0] ^= 1
    elif corrupt == "count":
        expected.counts[0][0] += 1
    report = os.environ.get(ENV_REPORT)
    progress = os.environ.get(ENV_PROGRESS)

    def write_report(got: SessionResult, difference: str | None) -> None:
        if report:
            Path(report).write_text(json.dumps({
                "difference": difference,
                "samples": len(got.counts),
                "spikes": int(sum(len(s) for s in got.spikes)),
                "cycles_measured": [int(c) for cs in got.cycles for c in cs],
                "cycles_predicted": [int(c) for cs in expected.cycles[:len(got.cycles)]
                                     for c in cs],
                "counts": [[int(c) for c in cs] for cs in got.counts],
            }))

    def check_sample(n: int, got: SessionResult) -> None:
        """Stop at the first sample that differs; report progress."""
        difference = compare_sample(got, expected, n, cycles=stall == 0)
        if progress:
            Path(progress).write_text(f"{n + 1} {len(samples)}\n")
        if difference:
            write_report(got, difference)
            raise AssertionError(difference)

    await start_clock(dut)
    await reset(dut)
    got = await drive(CocotbIO(dut, layouts), core, weights, theta, samples, stall=stall,
                      seed=7, on_sample=check_sample)
    difference = compare(core, got, expected, cycles=stall == 0)
    write_report(got, difference)
    assert difference is None, difference
    dut._log.info("%d samples, %d spikes, %d timesteps: all equal to the golden model",
                  len(samples), sum(len(s) for s in got.spikes),
                  sum(len(c) for c in got.cycles))
