"""What a Dask worker has of the project: run on every worker before a sweep trains there.

:mod:`.cluster` registers this module with ``cloudpickle.register_pickle_by_value``, so its
functions travel to the workers as code, not as a reference to this module: a worker that
cannot import ``plasticore`` still runs :func:`probe` and says so, instead of failing to
unpickle it.  Hence only the standard library at module level.
"""

from __future__ import annotations

from typing import Any

__all__ = ["probe", "identity"]

#: Packages whose sources decide a run's result (the digest of :func:`identity`).
SOURCE_PACKAGES = ("plasticore", "plasticore.golden", "plasticore.explore", "plasticore.hdl",
                   "plasticore.sim")


def identity() -> dict[str, str]:
    """This process's ``plasticore``: its version and a SHA-256 (first 16 hex digits) over
    the names and bytes of the ``.py`` files of :data:`SOURCE_PACKAGES`, so a worker whose
    copy differs from the client's (another version, a local edit) is found before it
    trains a run that would not be this checkout's."""
    import hashlib
    import importlib
    from pathlib import Path

    digest = hashlib.sha256()
    for name in SOURCE_PACKAGES:
        package = importlib.import_module(name)
        for folder in package.__path__:
            for path in sorted(Path(folder).glob("*.py")):
                digest.update(f"{name}/{path.name}\0".encode())
                digest.update(path.read_bytes())
    version = importlib.import_module("plasticore").__version__
    return {"version": str(version), "digest": digest.hexdigest()[:16]}


def probe(modules: list[str]) -> dict[str, Any]:
    """Import ``modules`` in order; the first that fails: ``{"missing": name, "error":
    message}``; all imported: ``{"missing": None}`` and :func:`identity`."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:          # ModuleNotFoundError included
            return {"missing": name, "error": f"{type(exc).__name__}: {exc}"}
    return {"missing": None, **identity()}
