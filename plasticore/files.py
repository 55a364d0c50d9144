"""Files the commands write: checked before long work, replaced atomically.

Every file a command writes goes through :func:`replacing`: it is written under a unique
temporary name in the target's own folder and moved over the target with one
``os.replace``, so a reader sees the old file or the new one, never a part, and of two
processes writing the same target the last one to *finish* wins whole (a process that
fails or is interrupted removes its temporary and leaves the target as it was).

:func:`output_file` and :func:`output_dir` run before the long work: they create the
folders a target needs and prove the folder writable, so a typo in ``--weights-out`` costs
a second, not a training run.  Their errors name the user's path, never a temporary.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["OutputError", "replacing", "write_text", "write_bytes", "output_file",
           "output_dir", "input_file"]


class OutputError(ValueError):
    """An output path that cannot be written (one line for the user)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()   # what open() would give a new file


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``path``; write it, and on leaving the block it
    replaces ``path`` atomically.  On an exception (interrupts included) the temporary is
    removed and ``path`` is untouched."""
    target = Path(path)
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename in (name, str(target)):
            # the user named the target; the temporary is ours (never shown)
            raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def _probe(folder: Path, shown: str) -> None:
    """Prove ``folder`` writable by creating and removing a temporary file in it."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".plasticore-probe.")
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write in {folder}: "
                          f"{exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(name)


def _make_dirs(folder: Path, shown: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"{shown}: {_first_file(folder)} is a file, not a "
                          "directory") from None
    except OSError as exc:
        raise OutputError(f"{shown}: cannot create directory {folder}: "
                          f"{exc.strerror or exc}") from None


def _first_file(folder: Path) -> Path:
    """The ancestor of ``folder`` (or itself) that exists and is not a directory."""
    for p in [folder, *folder.parents]:
        if p.exists() and not p.is_dir():
            return p
    return folder


def output_file(path: str | Path, option: str = "") -> Path:
    """Check that the file ``path`` can be written: not a directory, its folder created and
    writable.  ``option`` (``"--weights-out"``) prefixes the error message."""
    target = Path(path)
    shown = f"{option} {path}".strip()
    if target.is_dir():
        raise OutputError(f"{shown}: is a directory (give a file name)")
    _make_dirs(target.parent.resolve(), shown)
    _probe(target.parent.resolve(), shown)
    return target


def output_dir(path: str | Path, option: str = "") -> Path:
    """Create the directory ``path`` (with its parents) and check it is writable."""
    target = Path(path)
    shown = f"{option} {path}".strip()
    _make_dirs(target.resolve(), shown)
    _probe(target.resolve(), shown)
    return target


def input_file(path: str | Path, what: str, magic: bytes, wrong: str,
               error: type[Exception]) -> Path:
    """Check that ``path`` is a readable file of kind ``what`` (``"weights file"``) whose
    first bytes are ``magic``; else raise ``error`` with one line: a directory, no such
    file, unreadable, or ``wrong`` (what it is not, and what writes one)."""
    target = Path(path)
    if target.is_dir():
        raise error(f"{target}: is a directory, not a {what}")
    if not target.is_file():
        raise error(f"{target}: no such {what}")
    try:
        with target.open("rb") as fh:
            head = fh.read(len(magic))
    except OSError as exc:
        raise error(f"{target}: cannot read: {exc.strerror}") from None
    if head != magic:
        raise error(f"{target}: {wrong}")
    return target
