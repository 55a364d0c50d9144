"""Where the runs train: in this process, on a local Dask cluster, or on a Dask scheduler.

A sweep's runs (:func:`.runs.train_run`) are independent pure functions of their inputs,
so they are tasks on ``dask.distributed``.  A :class:`Runner` is where they go:

- ``workers = 1`` and no scheduler: in this process, one after the other (no Dask at all;
  small sweeps and tests stay fast);
- ``workers = N`` (N > 1): a ``LocalCluster`` of N worker processes with one thread each,
  on 127.0.0.1, started when the first batch of more than one run needs it and shut down
  when the runner closes;
- ``scheduler = "tcp://HOST:PORT"`` (or ``scheduler_file``, as ``dask scheduler
  --scheduler-file`` writes it): an existing cluster, whichever machines its workers are on.

Results come back keyed by run and are returned in the order of the runs, so a sweep's
numbers do not depend on where or in what order the runs trained.  A worker lost while it
trains a run: the scheduler gives the run to another worker (up to Dask's
``distributed.scheduler.allowed-failures`` times, then :class:`ClusterError`).  Ctrl-C or
SIGTERM (the CLI raises it as ``KeyboardInterrupt``) cancels the runs not finished and, on
leaving the ``with`` block, closes the client and the local cluster and its processes; the
local cluster's workers leave Ctrl-C to this process (SIGINT is blocked while they start,
and they inherit that).

Before the first run, every worker is checked (``client.run`` of :func:`.probe.probe`):
it must import the modules a run needs and have the same ``plasticore`` (version and a
digest of the sources) as this process; otherwise :class:`ClusterError` names the worker
and what it lacks.  The cache of the explorer stays with this process (results come back
here and are stored here): the workers need no shared folder for it, only the dataset
(``data.path``) at the same path on every machine, unless the dataset is a bundled one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from .runs import train_run

__all__ = ["Runner", "run_grid", "ClusterError", "CONNECT_TIMEOUT", "WORKER_MODULES"]

#: Seconds to reach a scheduler, and then for it to have at least one worker: an address
#: nobody answers on is an error after this long, not a hang.
CONNECT_TIMEOUT = 10.0

#: Seconds the local cluster gets to close (its workers are stopped, and killed after this).
CLOSE_TIMEOUT = 10.0

#: What a worker must import to train a run (checked on every worker before the first).
WORKER_MODULES = ["numpy", "plasticore", "plasticore.explore.runs", "plasticore.golden.train",
                  "plasticore.golden.datasets", "plasticore.explore.cost",
                  "plasticore.explore.precision", "plasticore.topspark",
                  "plasticore.explore.scoring", "plasticore.hdl.cycles",
                  "plasticore.sim.core_session"]

Progress = Callable[[dict[str, Any]], None]
#: A run's task: ``(configuration TOML, run) -> result`` (:func:`.runs.train_run`, or
#: :func:`.scoring.score_run` for a network trained elsewhere); a pure function.
Task = Callable[[str, Any], dict[str, Any]]


class ClusterError(ValueError):
    """The cluster cannot train the runs (unreachable, no workers, workers without the
    project, a run lost with every worker it was given to): one line for the user."""


def _stderr_note(message: str) -> None:
    print(f"plasticore: note: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """distributed's own log lines are kept off the user's terminal while the runner works:
    what goes wrong reaches the runner through the runs' futures and is said in one line
    (a lost worker, a worker stopped on Ctrl-C, a lost scheduler, which distributed logs
    with a traceback while it tries to reconnect).  Its warnings are left alone:
    :meth:`Runner._connect` turns those of connecting into notes."""
    # distributed's configuration gives some of its loggers their own level
    # (distributed.client: warning), so each one that has a level is raised
    families = ("distributed", "tornado")
    names = [name for name in logging.Logger.manager.loggerDict
             if name.split(".")[0] in families]
    saved = {}
    for name in sorted({*families, *names}):
        logger = logging.getLogger(name)
        if name in families or logger.level != logging.NOTSET:
            saved[name] = logger.level
            logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """While a local cluster starts: SIGINT blocked in this thread, so the cluster's event
    loop thread and the worker processes it starts inherit it blocked (Ctrl-C on the
    terminal reaches the whole process group; the workers leave it to this process, which
    stops them); SIGTERM recorded instead of raised, so the cluster is never left half made.
    Either one arriving meanwhile takes effect here when this block ends."""
    # multiprocessing's resource tracker unblocks SIGINT and SIGTERM in the thread that
    # starts it (Dask's event loop thread would, at its first queue): started first, here
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    in_main = threading.current_thread() is threading.main_thread()
    pending: list[int] = []
    previous = signal.getsignal(signal.SIGTERM) if in_main else None
    if previous is not None:
        signal.signal(signal.SIGTERM, lambda signum, _: pending.append(signum))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)   # a held Ctrl-C raises here
        if pending:
            signal.raise_signal(signal.SIGTERM)       # to the handler the process had


@contextlib.contextmanager
def _environment_kept() -> Iterator[None]:
    """Dask's nannies set their workers' environment (``distributed.nanny.pre-spawn-environ``:
    one BLAS thread, ...) in this process's ``os.environ`` before they start a worker; it is
    put back when the local cluster is gone, so what the explorer runs afterwards (a
    simulator for ``--generate``) does not inherit it."""
    import dask

    names = list(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _task_key(text: str, run: Any) -> str:
    """The task's name on the scheduler: a hash of its inputs (the same inputs, the same
    task; readable in Dask's dashboard)."""
    digest = hashlib.sha256(f"{text}\n{run!r}".encode()).hexdigest()[:20]
    return f"plasticore-run-{digest}"


@dataclass
class Runner:
    """Where runs train (module docstring).  Use it as a context manager: leaving the block
    closes the client and the local cluster, if one was started.

    Members
    -------
    workers : int
        Worker processes of the local cluster (1: in this process); not used with a
        scheduler.
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://HOST:PORT``).
    scheduler_file : str or None
        The JSON file ``dask scheduler --scheduler-file`` wrote (its ``address``).
    note : callable or None
        Called with a line for what the user should know (a version warning of Dask's);
        default: printed on stderr as ``plasticore: note: ...``.
    """

    workers: int = 1
    scheduler: str | None = None
    scheduler_file: str | None = None
    note: Callable[[str], None] | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, init=False,
                                         repr=False)
    _client: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ClusterError(f"--workers {self.workers}: must be at least 1")
        if self.scheduler is not None and self.scheduler_file is not None:
            raise ClusterError("--scheduler and --scheduler-file: give one of them")

    @property
    def remote(self) -> bool:
        """Whether the runs go to an existing scheduler."""
        return self.scheduler is not None or self.scheduler_file is not None

    @property
    def where(self) -> str:
        """Where the runs train, in a few words (for reports)."""
        if self.remote:
            if self.scheduler is not None:
                return f"on the Dask cluster of scheduler {self.scheduler}"
            return f"on the Dask cluster of scheduler file {self.scheduler_file}"
        return f"in {self.workers} worker process(es)"

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client and stop the local cluster and its processes (if they were
        started; a runner can be closed more than once)."""
        self._client = None
        self._stack.close()

    def run(self, config: Config, runs: Sequence[Any],
            progress: Progress | None = None, task: Task = train_run) -> list[dict[str, Any]]:
        """Train every run (``task(config TOML, run)``: :func:`.runs.train_run` by default);
        results in the order of ``runs``.  ``progress`` sees each result as it comes back,
        in this process (so a caller can store it at once).  On any exception (Ctrl-C and
        SIGTERM included) the runs not finished are cancelled before it propagates."""
        if not runs:
            return []
        text = config.to_toml()
        if not self.remote and (self.workers == 1 or (self._client is None and len(runs) <= 1)):
            from threadpoolctl import threadpool_limits

            results = []
            # one thread, as in a Dask worker: a worker is a core, whichever runs the run
            with threadpool_limits(limits=1):
                for run in runs:
                    result = task(text, run)
                    results.append(result)
                    if progress is not None:
                        progress(result)
            return results
        client = self._connect()
        from distributed import CancelledError, KilledWorker, as_completed

        futures = {client.submit(task, text, run, key=_task_key(text, run), pure=False): k
                   for k, run in enumerate(runs)}
        done: dict[int, dict[str, Any]] = {}
        try:
            for future in as_completed(futures, loop=client.loop):
                try:
                    result = future.result()
                except ModuleNotFoundError as exc:
                    raise ClusterError(f"a worker of {self._address()} cannot import "
                                       f"{exc.name}: install the project on every worker "
                                       "(docs/explore.md)") from None
                except KilledWorker as exc:
                    raise ClusterError(f"{self._address()}: a run was lost with every worker "
                                       f"it was given to ({exc.allowed_failures + 1}; the "
                                       f"last {exc.last_worker.address})") from None
                except CancelledError as exc:
                    reason = getattr(exc, "reason", "")
                    raise ClusterError(f"{self._address()}: a run was cancelled"
                                       f"{f' ({reason})' if reason else ''}: was the "
                                       "scheduler stopped?") from None
                done[futures[future]] = result
                if progress is not None:
                    progress(result)
        except BaseException:
            with contextlib.suppress(Exception):     # a client that lost its scheduler
                client.cancel(list(futures))
            raise
        return [done[k] for k in range(len(runs))]

    # -- the cluster ----------------------------------------------------------------------

    def _address(self) -> str:
        if self.scheduler is not None:
            return f"--scheduler {self.scheduler}"
        if self.scheduler_file is not None:
            return f"--scheduler-file {self.scheduler_file}"
        return "the local cluster"

    def _connect(self) -> Any:
        """The client, connected and its workers checked (made on first use)."""
        if self._client is not None:
            return self._client
        from distributed import Client

        self._stack.enter_context(_quiet_dask())
        if not self.remote:
            import dask
            from distributed import LocalCluster

            self._stack.enter_context(_environment_kept())
            # Dask's nannies set MALLOC_TRIM_THRESHOLD_ (64 KiB) in their workers, which
            # turns off glibc's dynamic mmap threshold: every large numpy temporary of a run
            # is then an mmap and a munmap, and the runs took twice their CPU time (half of
            # it in the kernel).  The runs hold no Dask data to give back: leave it unset.
            with _signals_held(), dask.config.set(
                    {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
                cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None,
                    # no dashboard; the scheduler's HTTP server (health routes) would
                    # otherwise take port 8787 on every interface, or warn when it is taken
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.CRITICAL,
                    # the runs hold no Dask data to spill, and the process pool this
                    # replaces had no limit: a worker is not killed for its memory
                    memory_limit=0)
                self._stack.callback(cluster.close, timeout=CLOSE_TIMEOUT)
            client = Client(cluster, set_as_default=False)
            self._stack.callback(client.close)
        else:
            address = self._scheduler_address()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
                except ValueError as exc:              # a malformed address
                    raise ClusterError(f"{self._address()}: {exc}") from None
                except OSError:
                    raise ClusterError(f"{self._address()}: no Dask scheduler answered at "
                                       f"{address} within {CONNECT_TIMEOUT:g} s") from None
            self._stack.callback(client.close)
            for w in caught:
                (self.note or _stderr_note)(f"{self._address()}: dask: "
                                            f"{str(w.message).splitlines()[0]}")
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
            except TimeoutError:
                raise ClusterError(f"{self._address()}: the scheduler has no workers (none "
                                   f"joined within {CONNECT_TIMEOUT:g} s): start `dask "
                                   f"worker {address}` on the machines to train on") from None
        self._check_workers(client)
        self._client = client
        return client

    def _scheduler_address(self) -> str:
        """``scheduler``, or the address in ``scheduler_file`` (read here: Dask's client
        would wait for a missing file forever)."""
        if self.scheduler is not None:
            return self.scheduler
        assert self.scheduler_file is not None
        path = Path(self.scheduler_file)
        try:
            info = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"{self._address()}: no such file (`dask scheduler "
                               f"--scheduler-file {path}` writes it)") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ClusterError(f"{self._address()}: not a scheduler file: {exc}") from None
        address = info.get("address") if isinstance(info, dict) else None
        if not isinstance(address, str):
            raise ClusterError(f"{self._address()}: not a scheduler file (no 'address')")
        return address

    def _check_workers(self, client: Any) -> None:
        """Every worker imports :data:`WORKER_MODULES` and has this ``plasticore``."""
        import cloudpickle

        from . import probe

        # probe's functions travel by value, so a worker without plasticore can run them
        cloudpickle.register_pickle_by_value(probe)
        found = client.run(probe.probe, WORKER_MODULES, on_error="return")
        mine = probe.identity()
        for worker, info in sorted(found.items()):
            if isinstance(info, BaseException):
                raise ClusterError(f"{self._address()}: worker {worker} could not be "
                                   f"checked: {type(info).__name__}: {info}")
            if info["missing"] is not None:
                raise ClusterError(f"{self._address()}: worker {worker} cannot import "
                                   f"{info['missing']} ({info['error']}): install the "
                                   "project on every worker (docs/explore.md)")
            if (info["version"], info["digest"]) != (mine["version"], mine["digest"]):
                raise ClusterError(
                    f"{self._address()}: worker {worker} has plasticore {info['version']} "
                    f"(sources {info['digest']}), this process {mine['version']} (sources "
                    f"{mine['digest']}): its runs would not be this checkout's; install the "
                    "same version on every worker")


def run_grid(config: Config, runs: Sequence[Any], workers: int | None = None,
             progress: Progress | None = None, scheduler: str | None = None,
             scheduler_file: str | None = None,
             task: Task = train_run) -> list[dict[str, Any]]:
    """Train every run with a :class:`Runner` made for this call (``workers`` local
    processes, default the CPU count, or the given scheduler) and closed after it."""
    with Runner(workers or os.cpu_count() or 1, scheduler, scheduler_file) as runner:
        return runner.run(config, runs, progress, task)
