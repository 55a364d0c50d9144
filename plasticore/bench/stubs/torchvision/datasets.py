"""Stand-in for ``torchvision.datasets``: any dataset class name resolves to a placeholder."""

from __future__ import annotations

from ._unavailable import make_class

_cache: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """Return a placeholder dataset class (BindsNET subclasses ~24 of them at import)."""
    if name.startswith("__"):
        raise AttributeError(name)
    if name not in _cache:
        _cache[name] = make_class("datasets", name)
    return _cache[name]
