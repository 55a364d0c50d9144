"""Verilog export of plasticore components (deterministic: no source paths, stable names)."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

from ..files import write_text

__all__ = ["to_verilog", "write_verilog"]


def to_verilog(component: wiring.Component, name: str) -> str:
    """Verilog text of ``component`` with top module ``name`` and no ``src`` attributes."""
    return verilog.convert(component, name=name, emit_src=False)


def write_verilog(component: wiring.Component, name: str, directory: Path) -> Path:
    """Write ``<directory>/<name>.v`` (only if its text changed) and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.v"
    text = to_verilog(component, name)
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)
    return path
