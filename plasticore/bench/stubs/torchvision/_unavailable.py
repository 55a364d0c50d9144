"""Placeholder objects that fail loudly when a stubbed torchvision feature is used."""

from __future__ import annotations

from typing import Any, NoReturn

_MESSAGE = (
    "torchvision.{name} is not available: this is plasticore's import-only torchvision "
    "stub for the BindsNET benchmark"
)


def fail(name: str) -> NoReturn:
    """Raise the error for an unavailable torchvision feature.

    Parameters
    ----------
    name : str
        Dotted name of the feature, relative to ``torchvision``.
    """
    raise RuntimeError(_MESSAGE.format(name=name))


def make_class(module: str, name: str) -> type:
    """Build a subclassable placeholder class whose constructor raises.

    Parameters
    ----------
    module : str
        Submodule name (``datasets``, ``transforms``).
    name : str
        Class name.

    Returns
    -------
    type
        A class named ``name``; instantiating it (or a subclass) raises ``RuntimeError``.
    """
    qualified = f"{module}.{name}"

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        fail(qualified)

    return type(
        name,
        (),
        {
            "__init__": __init__,
            "__doc__": f"Unavailable stand-in for torchvision.{qualified}.",
            "__module__": f"torchvision.{module}",
        },
    )
