"""Stand-in for ``torchvision.utils``."""

from __future__ import annotations

from typing import Any, NoReturn

from ._unavailable import fail


def make_grid(*args: Any, **kwargs: Any) -> NoReturn:
    """Raise: image grids are only used by BindsNET's plotting helpers."""
    fail("utils.make_grid")
