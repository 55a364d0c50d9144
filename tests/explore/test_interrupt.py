"""A signal stops ``plasticore explore`` with its worker processes (a local Dask cluster),
and the sweep resumes."""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from plasticore.config import load_config

#: Far more work than the waits below allow (150 runs of about a second each on two
#: workers), so a sweep that finishes its work before stopping cannot pass.
LONG_RUN = ["--timesteps", "30,15,8", "--weight-bits", "8,6,4", "--seeds", "10",
            "--workers", "2", "--validation", "10", "--no-search", "--variants", "none",
            "--cost-samples", "1", "--no-plots"]
WAIT = 60.0      # seconds: a bound for each step, never a measurement

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(),
                                reason="reads processes from Linux's /proc")


@pytest.fixture(scope="module")
def long_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config("digits")
    config = dataclasses.replace(
        config, core=config.core.replace(timesteps=30),
        data=dataclasses.replace(config.data, train_samples=1000, test_samples=30))
    path = tmp_path_factory.mktemp("cfg") / "long.toml"
    config.save(path)
    return path


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2:].split()


def _processes(field: int, value: int) -> list[int]:
    """Live (not zombie) processes whose stat field ``field`` (1: parent, 2: group) is
    ``value``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] != "Z" and int(stat[field]) == value:
                found.append(int(entry.name))
    return found


def _workers(pid: int) -> list[int]:
    """Children of ``pid`` that are worker processes of the local Dask cluster (started by
    multiprocessing's spawn)."""
    found = []
    for child in _processes(1, pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def _gone(group: int) -> bool:
    """Whether nothing of process group ``group`` is left, waiting at most WAIT seconds
    (multiprocessing's resource tracker ends once the explorer has: it reads the end of a
    pipe)."""
    deadline = time.monotonic() + WAIT
    while _processes(2, group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _until(what: str, ready: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT
    while not ready():
        assert proc.poll() is None, f"explore exited before {what}"
        assert time.monotonic() < deadline, f"no {what} after {WAIT} s"
        time.sleep(0.02)


class Explore:
    """``plasticore explore`` in its own process group, stderr read line by line."""

    def __init__(self, config: Path, out: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "plasticore.cli", "explore", str(config), *LONG_RUN,
             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def line(self, pattern: str) -> re.Match[str]:
        """The first stderr line matching ``pattern`` (waiting for it)."""
        while True:
            line = self.lines.get(timeout=WAIT)
            self.err.append(line)
            if (m := re.search(pattern, line)) is not None:
                return m

    def stop(self, sig: int) -> int:
        """Send ``sig`` (SIGINT to the whole group, as a terminal's Ctrl-C does; SIGTERM to
        the main process, as ``kill`` does) and return the exit status."""
        if sig == signal.SIGINT:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        status = self.proc.wait(timeout=WAIT)
        self.reader.join(timeout=WAIT)
        while not self.lines.empty():
            self.err.append(self.lines.get())
        return status

    def cleanup(self) -> None:
        """Whatever is left of this process group (after a failure) is killed."""
        if _processes(2, self.proc.pid) or self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=WAIT)
        self.reader.join(timeout=WAIT)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_workers_and_the_sweep_resumes(sig: int, long_config: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "o"
    cache = out / "cache"
    first = Explore(long_config, out)
    try:
        # interrupted while its workers are training and after some runs are stored
        _until("worker processes", lambda: len(_workers(first.proc.pid)) == 2, first.proc)
        _until("cached run", lambda: any(cache.glob("*.json")), first.proc)
        status = first.stop(sig)
        word, code = (("terminated", 143) if sig == signal.SIGTERM else ("interrupted", 130))
        assert status == code and first.err[-1] == f"plasticore: {word}\n", first.err
        assert not any("Traceback" in line for line in first.err), first.err
        # nothing of the process group is left running (the workers got the Ctrl-C too,
        # and left it to the explorer, which stopped them), and no partial file in the cache
        assert _gone(first.proc.pid), _processes(2, first.proc.pid)
        files = sorted(p.name for p in cache.iterdir())
        stored = [f for f in files if re.fullmatch(r"[0-9a-f]{20}\.json", f)]
        assert files == stored and len(stored) < 150
    finally:
        first.cleanup()
    second = Explore(long_config, out)
    try:
        # the rerun takes every stored run from the cache (no entry noted as bad), and
        # stops as cleanly
        count = second.line(r"explore: 15 points x 10 seeds = 150 runs \((\d+) cached\)")
        assert int(count.group(1)) == len(stored)
        assert not any("note" in line for line in second.err)
        assert second.stop(signal.SIGTERM) == 143
        assert _gone(second.proc.pid), _processes(2, second.proc.pid)
    finally:
        second.cleanup()
