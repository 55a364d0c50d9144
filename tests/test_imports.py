"""Imports point one way (``docs/architecture.md``): the base (configuration, atomic
writes, toolchains, small shared helpers) <- golden <- interchange (NIR) <- hdl <- sim <-
boards <- explore <- bench <- cli.  Every module of the package is parsed and each of its
imports of the package (absolute or relative, at the top or inside a function) is held to
that order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Where each part of the package lives in the checkout (pyproject's package-dir).
FOLDERS = {"plasticore": "plasticore", "plasticore.golden": "golden", "plasticore.hdl": "hdl",
           "plasticore.sim": "sim", "plasticore.boards": "boards",
           "plasticore.configs": "configs"}

#: The layers, lowest first; a module may import its own layer and the ones before it.
LAYERS = (
    ("base", {"plasticore", "config", "files", "tools", "fixedpoint", "plots", "plots_bptt",
              "topspark", "configs"}),
    ("golden", {"golden"}),
    ("interchange", {"interchange"}),
    ("hdl", {"hdl"}),
    ("sim", {"sim"}),
    ("boards", {"boards"}),
    ("explore", {"explore"}),
    ("bench", {"bench"}),
    ("cli", {"cli"}),
)


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts
                     if p != "__init__"]
            if "stubs" in parts or (package == "plasticore" and parts
                                    and f"plasticore.{parts[0]}" in FOLDERS):
                continue
            found[".".join([package, *parts])] = (path, path.name == "__init__.py")
    return found


MODULES = _modules()


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else "plasticore"
    for rank, (_, members) in enumerate(LAYERS):
        if part in members:
            return rank
    raise AssertionError(f"{module} is in no layer of {[name for name, _ in LAYERS]}")


def _imports(module: str) -> set[str]:
    path, is_package = MODULES[module]
    here = module.split(".") if is_package else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            out |= {name for name in names if name in MODULES} or {target}
        elif isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
    return {name for name in out if name == "plasticore" or name.startswith("plasticore.")}


def test_every_module_is_found() -> None:
    """The walk sees the package: its parts and the modules the rules name."""
    for name in ("plasticore.cli", "plasticore.config", "plasticore.golden.network",
                 "plasticore.hdl.core.top", "plasticore.sim.cosim", "plasticore.boards.host",
                 "plasticore.explore.sweep", "plasticore.bench.runner"):
        assert name in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_one_way(module: str) -> None:
    rank = _layer(module)
    wrong = sorted(target for target in _imports(module) if _layer(target) > rank)
    assert not wrong, (f"{module} ({LAYERS[rank][0]}) imports {wrong}, of a later layer "
                       f"(order: {' <- '.join(name for name, _ in LAYERS)})")


def test_the_rule_can_fail() -> None:
    """A module of the base importing golden is later-layer (the test above would fail)."""
    assert _layer("plasticore.golden.network") > _layer("plasticore.config")
    assert _layer("plasticore.cli") > _layer("plasticore.boards.host")
