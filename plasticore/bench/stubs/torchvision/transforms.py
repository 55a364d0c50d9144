"""Stand-in for ``torchvision.transforms``: any transform name resolves to a placeholder."""

from __future__ import annotations

from ._unavailable import make_class

_cache: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """Return a placeholder transform class (``Compose``, ``ToTensor``, ``Normalize``...)."""
    if name.startswith("__"):
        raise AttributeError(name)
    if name not in _cache:
        _cache[name] = make_class("transforms", name)
    return _cache[name]
