"""Runs on Dask: a local cluster and a scheduler give the in-process results, bit for bit;
a lost worker's runs are trained elsewhere; bad clusters are one-line errors."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from plasticore.cli import main
from plasticore.config import load_config
from plasticore.explore import cluster
from plasticore.explore.cluster import ClusterError, Runner
from plasticore.explore.runs import TIMING_FIELDS

#: A sweep small enough for CI whose points differ (accuracy, spikes, cycles), so a result
#: given to the wrong run would show; with the parameter search (batches of runs on one
#: cluster) and post-training quantization.
SWEEP = ["--timesteps", "60,30", "--weight-bits", "8,4", "--seeds", "2", "--validation", "20",
         "--variants", "none", "--cost-samples", "3", "--constraints", "accuracy_drop<=0.5",
         "--no-plots", "--quiet"]
WAIT = 120.0     # seconds: a bound for each step, never a measurement


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config("digits")
    config = dataclasses.replace(
        config, core=config.core.replace(timesteps=60),
        data=dataclasses.replace(config.data, train_samples=80, test_samples=30))
    path = tmp_path_factory.mktemp("cfg") / "small.toml"
    config.save(path)
    return path


def _without_timing(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in TIMING_FIELDS}


def _sweep(out: Path) -> dict[str, Any]:
    """What a sweep found, without what measures time: the report's numbers and every
    cache entry (its inputs and its result)."""
    results = json.loads((out / "results.json").read_text())
    entries = {}
    for path in sorted((out / "cache").glob("*.json")):
        entry = json.loads(path.read_text())
        entry["result"] = _without_timing(entry.pop("result"))
        entry.pop("digest")              # over the timing fields too
        entries[path.name] = entry
    return {"entries": entries,
            **{k: results[k] for k in ("rows", "chosen", "searches", "baseline",
                                       "front_latency", "front_memory")}}


@pytest.fixture(scope="module")
def in_process(small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sweep trained in this process (``--workers 1``): what every cluster must give."""
    out = tmp_path_factory.mktemp("in_process")
    assert main(["explore", str(small_config), *SWEEP, "--workers", "1", "--out",
                 str(out)]) == 0
    found = _sweep(out)
    # the points differ, so results swapped between runs would not compare equal
    accuracies = [r["per_seed"]["0"] for r in found["rows"]]
    assert len(set(accuracies)) > 2 and len(found["entries"]) > 20
    return found


def _our_workers() -> list[psutil.Process]:
    """Worker processes this process started and that still run (multiprocessing's
    resource tracker, which lives as long as this process, is not one)."""
    return [p for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())]


def _until(what: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not ready():
        assert time.monotonic() < deadline, f"no {what} after {WAIT} s"
        time.sleep(0.05)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    """Client -> its workers, for every client a runner trains with."""
    seen: dict[int, int] = {}
    connect = Runner._connect

    def spy(self: Runner) -> Any:
        client = connect(self)
        seen.setdefault(id(client), len(client.scheduler_info()["workers"]))
        return client

    monkeypatch.setattr(Runner, "_connect", spy)
    return seen


def test_a_sweep_on_a_local_cluster_equals_the_in_process_one(
        small_config: Path, in_process: dict[str, Any], tmp_path: Path,
        connections: dict[int, int]) -> None:
    assert _our_workers() == []
    out = tmp_path / "o"
    assert main(["explore", str(small_config), *SWEEP, "--workers", "2", "--out",
                 str(out)]) == 0
    # one cluster of two workers, for every batch of the sweep
    assert list(connections.values()) == [2]
    assert _sweep(out) == in_process
    _until("end of the worker processes", lambda: _our_workers() == [])


def test_bench_accuracy_on_a_local_cluster_equals_the_in_process_one(
        small_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``plasticore bench accuracy`` (the full, float, naive and enhanced rules) on two
    worker processes: the same table as in one process, but the time per sample."""
    rows = {}
    for workers in ("1", "2"):
        out = tmp_path / workers
        assert main(["bench", "accuracy", "--config", str(small_config), "--seeds", "2",
                     "--timesteps", "30", "--workers", workers, "--out", str(out)]) == 0
        rows[workers] = [{k: v for k, v in row.items() if k != "ms_per_train_sample"}
                         for row in json.loads((out / "accuracy.json").read_text())]
        # progress: a line per run as it comes back
        assert capsys.readouterr().err.count("bench accuracy: ") == 8
    assert [(r["rule"], r["timesteps"]) for r in rows["1"]] == [
        ("full", 60), ("float", 60), ("naive", 30), ("enhanced", 30)]
    assert len({r["mean"] for r in rows["1"]}) > 2       # distinguishable rows
    assert rows["2"] == rows["1"]
    _until("end of the worker processes", lambda: _our_workers() == [])


def _error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of ``plasticore explore ARGS``, which must fail with status 2."""
    try:
        status = main(["explore", *args])
    except SystemExit as exc:             # refused by the argument parser
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.startswith("plasticore: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)


def test_an_unreachable_scheduler_is_one_line(small_config: Path, tmp_path: Path,
                                              short_timeout: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:            # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    err = _error([str(small_config), *SWEEP, "--scheduler", address, "--out",
                  str(tmp_path / "o")], capsys)
    assert f"--scheduler {address}: no Dask scheduler answered at {address} within 1 s" in err


@pytest.mark.parametrize("args, fragment", [
    (["--scheduler", "nonsense"], "--scheduler nonsense: missing port number"),
    (["--scheduler", "http://127.0.0.1:1"], "unknown address scheme 'http'"),
    (["--scheduler-file", "{tmp}/missing.json"],
     "--scheduler-file {tmp}/missing.json: no such file"),
    (["--scheduler-file", "{tmp}/garbage.json"], "not a scheduler file"),
    (["--scheduler-file", "{tmp}/no-address.json"], "not a scheduler file (no 'address')"),
    (["--scheduler", "tcp://127.0.0.1:1", "--scheduler-file", "x"],
     "not allowed with argument"),
])
def test_bad_scheduler_arguments_are_one_line(small_config: Path, tmp_path: Path,
                                              args: list[str], fragment: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "no-address.json").write_text('{"type": "Scheduler"}')
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    err = _error([str(small_config), *SWEEP, *args, "--out", str(tmp_path / "o")], capsys)
    assert fragment.replace("{tmp}", str(tmp_path)) in err


@pytest.fixture
def empty_cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as c:
        yield c


def test_a_scheduler_without_workers_is_one_line(small_config: Path, tmp_path: Path,
                                                 empty_cluster: Any, short_timeout: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    address = empty_cluster.scheduler_address
    err = _error([str(small_config), *SWEEP, "--scheduler", address, "--out",
                  str(tmp_path / "o")], capsys)
    assert f"--scheduler {address}: the scheduler has no workers" in err


#: A worker preload: the worker cannot import plasticore (as on a machine without it).
HIDE_PLASTICORE = '''
import sys

class _Hidden:
    def find_spec(self, name, path=None, target=None):
        if name == "plasticore" or name.startswith("plasticore."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for _name in [n for n in sys.modules if n == "plasticore" or n.startswith("plasticore.")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _Hidden())
'''


def test_workers_without_the_project_are_named(small_config: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from distributed import LocalCluster

    preload = tmp_path / "hide_plasticore.py"
    preload.write_text(HIDE_PLASTICORE)
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, preload=[str(preload)],
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as c:
        worker = next(iter(c.scheduler_info["workers"]))
        err = _error([str(small_config), *SWEEP, "--scheduler", c.scheduler_address,
                      "--out", str(tmp_path / "o")], capsys)
    assert (f"--scheduler {c.scheduler_address}: worker {worker} cannot import plasticore "
            "(ModuleNotFoundError: No module named 'plasticore')") in err
    assert not (tmp_path / "o" / "cache").exists() or not any((tmp_path / "o" / "cache")
                                                               .iterdir())


class _Client:
    """What ``Runner._check_workers`` asks of a client: ``run`` on every worker."""

    def __init__(self, found: dict[str, Any]):
        self.found = found

    def run(self, function: Callable[..., Any], *args: Any, **_: Any) -> dict[str, Any]:
        return self.found


def test_a_worker_with_other_sources_is_refused() -> None:
    from plasticore.explore.probe import identity

    mine = identity()
    runner = Runner(scheduler="tcp://127.0.0.1:8786")
    same = {"missing": None, **mine}
    runner._check_workers(_Client({"tcp://a:1": same, "tcp://b:1": same}))   # all good
    other = {**same, "digest": "0123456789abcdef"}
    with pytest.raises(ClusterError, match=f"worker tcp://b:1 has plasticore {mine['version']}"
                       r" \(sources 0123456789abcdef\), this process .* \(sources "
                       f"{mine['digest']}\\)"):
        runner._check_workers(_Client({"tcp://a:1": same, "tcp://b:1": other}))


# -- a scheduler and two workers in their own processes, one of them killed ---------------


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen([sys.executable, "-m", *args], stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The process and its group, ended (SIGTERM, then SIGKILL) and reaped."""
    if proc.poll() is None:
        with_group = [signal.SIGTERM, signal.SIGKILL]
        for sig in with_group:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
    proc.wait(timeout=WAIT)


def _address(file: Path) -> str | None:
    """The address in a scheduler file, once it is written whole."""
    try:
        return str(json.loads(file.read_text())["address"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


class DaskProcesses:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes (one thread, no nanny,
    named w0, w1, ...) on 127.0.0.1, each in its own process group, logs in ``folder``;
    :meth:`stop` ends every process started here, the explorer's too."""

    def __init__(self, folder: Path, workers: int):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.scheduler = self.start(["dask", "scheduler", "--host", "127.0.0.1", "--port",
                                     "0", "--no-dashboard", "--scheduler-file",
                                     str(self.file)], "scheduler")
        _until("scheduler file", lambda: _address(self.file) is not None)
        self.workers = [self.start(["dask", "worker", "--scheduler-file", str(self.file),
                                    "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                    "--host", "127.0.0.1", "--local-directory",
                                    str(folder / f"w{k}"), "--name", f"w{k}"], f"w{k}")
                        for k in range(workers)]

    def start(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        proc = _start(args, self.folder / f"{name}.log")
        self.procs.append(proc)
        return proc

    def explore(self, config: Path, out: Path) -> subprocess.Popen[bytes]:
        return self.start(["plasticore.cli", "explore", str(config), *SWEEP,
                           "--scheduler-file", str(self.file), "--out", str(out)], "explore")

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        assert all(proc.poll() is not None for proc in self.procs)


@pytest.mark.slow
def test_a_sweep_survives_a_lost_worker(small_config: Path, in_process: dict[str, Any],
                                        tmp_path: Path) -> None:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; the sweep goes
    through ``--scheduler-file``; the worker the scheduler has given runs to is killed
    (SIGKILL) once a run is stored; the sweep completes with the in-process results."""
    from distributed import Client

    dask = DaskProcesses(tmp_path, workers=2)
    try:
        out = tmp_path / "o"
        explore = dask.explore(small_config, out)
        with Client(_address(dask.file), timeout=WAIT, set_as_default=False) as watcher:

            def w0_runs() -> list[str]:
                """The runs the scheduler has given to worker w0 and not got back."""
                for address, info in watcher.scheduler_info()["workers"].items():
                    if info["name"] == "w0":
                        return list(watcher.processing([address]).get(address, ()))
                return []

            # mid-sweep: a run is stored, and w0 has runs
            _until("stored run and a run on w0",
                   lambda: explore.poll() is not None or (
                       any((out / "cache").glob("*.json")) and bool(w0_runs())))
            assert explore.poll() is None, dask.log("explore")
            lost = w0_runs()
            os.killpg(dask.workers[0].pid, signal.SIGKILL)
            assert dask.workers[0].wait(timeout=WAIT) == -signal.SIGKILL
            assert lost and all(key.startswith("plasticore-run-") for key in lost)
            assert explore.wait(timeout=WAIT) == 0, dask.log("explore")
        # every run, those w0 had included, trained (by w1) as in one process
        assert _sweep(out) == in_process
        assert "Remove worker" in dask.log("scheduler")
        assert "Traceback" not in dask.log("explore")
    finally:
        dask.stop()


@pytest.mark.slow
def test_a_lost_scheduler_is_one_line(small_config: Path, tmp_path: Path) -> None:
    """The scheduler killed mid-sweep: the explorer stops with one line naming it (exit
    status 2, no traceback of Dask's on the terminal), the runs stored so far kept."""
    dask = DaskProcesses(tmp_path, workers=1)
    try:
        out = tmp_path / "o"
        explore = dask.explore(small_config, out)
        _until("stored run", lambda: explore.poll() is not None
               or any((out / "cache").glob("*.json")))
        assert explore.poll() is None, dask.log("explore")
        os.killpg(dask.scheduler.pid, signal.SIGKILL)
        assert explore.wait(timeout=WAIT) == 2, dask.log("explore")
        log = dask.log("explore")
        assert log.splitlines()[-1].startswith(
            f"plasticore: error: --scheduler-file {dask.file}: a run was cancelled")
        assert "Traceback" not in log and "distributed." not in log, log
        assert any((out / "cache").glob("*.json"))
    finally:
        dask.stop()
