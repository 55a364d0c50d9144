"""Output files: atomic replacement under unique temporary names, checks before long work."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from plasticore.files import OutputError, output_dir, output_file, replacing, write_text


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_replacing_writes_whole_file_with_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "w.txt"
    target.write_text("old")
    with replacing(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"          # not visible before the block ends
    assert target.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask   # as open() makes a file
    assert _leftovers(tmp_path, {"w.txt"}) == []


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failed_or_interrupted_write_keeps_target_and_removes_temporary(
        tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "w.txt"
    target.write_text("old")
    with pytest.raises(type(error)), replacing(target) as tmp:
        tmp.write_text("half")
        raise error
    assert target.read_text() == "old"
    assert _leftovers(tmp_path, {"w.txt"}) == []


def test_two_writers_never_share_a_temporary(tmp_path: Path) -> None:
    """The writer that finishes last wins whole; one that fails changes nothing (with one
    fixed temporary name, the failing writer's bytes would land in the target)."""
    target = tmp_path / "w.txt"
    with pytest.raises(RuntimeError), replacing(target) as first:
        with replacing(target) as second:
            assert first != second
            second.write_text("second, finished")
        first.write_text("first, failed")
        raise RuntimeError("the first writer fails after the second finished")
    assert target.read_text() == "second, finished"
    assert _leftovers(tmp_path, {"w.txt"}) == []


def test_unwritable_target_names_the_target_not_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "w.txt"
    target.mkdir()                       # os.replace cannot put a file over a directory
    with pytest.raises(OutputError) as info:
        write_text(target, "x")
    assert str(info.value).startswith(f"{target}: cannot write")
    assert ".tmp" not in str(info.value)
    assert _leftovers(tmp_path, {"w.txt"}) == []


def test_output_file_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "w.npz"
    assert output_file(target, "--weights-out") == target
    assert target.parent.is_dir() and not target.exists()
    assert _leftovers(target.parent, set()) == []     # the probe is gone


def test_output_file_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"^--weights-out .*: is a directory"):
        output_file(tmp_path, "--weights-out")


def test_output_file_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match="f is a file, not a directory"):
        output_file(tmp_path / "f" / "w.npz", "--weights-out")
    with pytest.raises(OutputError, match="f is a file, not a directory"):
        output_dir(tmp_path / "f" / "plots", "--plots")
    with pytest.raises(OutputError, match="f is a file, not a directory"):
        output_dir(tmp_path / "f", "--out")


def test_output_dir_unwritable() -> None:
    try:                                   # root writes almost anywhere; /sys refuses it
        os.close(tempfile.mkstemp(dir="/sys")[0])
    except OSError:
        pass
    else:
        pytest.skip("/sys is writable on this machine: no unwritable folder to test with")
    with pytest.raises(OutputError, match=r"^--out /sys: cannot write in /sys: "):
        output_dir("/sys", "--out")
