"""Tests of ``plasticore.sim.runner``: a smoke regression under every simulator, the failure
path, build caching, waves, and the result table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from plasticore.sim import runner
from plasticore.sim.tb_smoke import SmokeConfig, command_layout, model, output_layout

TOPLEVEL = "sat_counter"
SMOKE_MODULE = "plasticore.sim.tb_smoke"


class SatCounter(wiring.Component):
    """Saturating up/down counter fed by a command stream; the runner's smoke design.

    Each accepted command updates the count (see ``plasticore.sim.tb_smoke.model``) and emits it on
    ``out``; a command is accepted while ``out`` is empty or being read.

    Members
    -------
    cmd : In(stream.Signature(command_layout(cfg)))
        ``step`` (signed) or ``clear``.
    out : Out(stream.Signature(output_layout(cfg)))
        New ``count`` and ``saturated`` flag, one per command.
    """

    def __init__(self, cfg: SmokeConfig) -> None:
        if cfg.width < 1 or cfg.step_width < 2:
            raise ValueError(f"width must be >= 1 and step_width >= 2, not {cfg!r}")
        self._cfg = cfg
        super().__init__(
            {
                "cmd": In(stream.Signature(command_layout(cfg))),
                "out": Out(stream.Signature(output_layout(cfg))),
            }
        )

    @property
    def cfg(self) -> SmokeConfig:
        """Elaboration parameters."""
        return self._cfg

    def elaborate(self, platform: object) -> Module:
        m = Module()
        top = (1 << self._cfg.width) - 1
        count = self.out.payload.count  # the output register holds the state
        total = count + self.cmd.payload.step  # signed, one bit wider: no wrap
        m.d.comb += self.cmd.ready.eq(~self.out.valid | self.out.ready)
        with m.If(self.out.valid & self.out.ready):
            m.d.sync += self.out.valid.eq(0)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += self.out.valid.eq(1)
            with m.If(self.cmd.payload.clear):
                m.d.sync += [count.eq(0), self.out.payload.saturated.eq(0)]
            with m.Elif(total < 0):
                m.d.sync += [count.eq(0), self.out.payload.saturated.eq(1)]
            with m.Elif(total > top):
                m.d.sync += [count.eq(top), self.out.payload.saturated.eq(1)]
            with m.Else():
                m.d.sync += [count.eq(total), self.out.payload.saturated.eq(0)]
        return m


def write_verilog(cfg: SmokeConfig, folder: Path) -> Path:
    """Convert :class:`SatCounter` for *cfg* into ``folder/sat_counter.v``."""
    path = folder / f"{TOPLEVEL}.v"
    path.write_text(verilog.convert(SatCounter(cfg), name=TOPLEVEL, emit_src=False))
    return path


CONFIGS = [
    pytest.param(SmokeConfig(width=4, step_width=3), id="w4s3"),
    pytest.param(SmokeConfig(width=6, step_width=4), id="w6s4", marks=pytest.mark.slow),
]


def test_model_saturates() -> None:
    cfg = SmokeConfig(width=2, step_width=3)
    commands = [(3, 0), (1, 0), (-4, 0), (2, 1), (-1, 0), (2, 0)]
    assert model(cfg, commands) == [(3, 0), (3, 1), (0, 1), (0, 0), (0, 1), (2, 0)]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_smoke(run_sim, tmp_path: Path, cfg: SmokeConfig) -> None:
    result = run_sim(
        toplevel=TOPLEVEL,
        sources=[write_verilog(cfg, tmp_path)],
        test_module=SMOKE_MODULE,
        extra_env={"SMOKE_CONFIG": cfg.to_json()},
    )
    assert result.passed
    assert result.tests == 6  # every cocotb.parametrize variant ran
    assert result.sim_time_ns > 0
    assert result.results_xml is not None and result.results_xml.is_file()


def test_wrong_expectation_fails(simulator: str, sim_build_dir: Path, tmp_path: Path) -> None:
    """A corrupted expected value must fail the run; the second run reuses the build."""
    cfg = SmokeConfig()
    kwargs = dict(
        toplevel=TOPLEVEL,
        sources=[write_verilog(cfg, tmp_path)],
        test_module=SMOKE_MODULE,
        simulator=simulator,
        build_dir=sim_build_dir,
        pythonpath=[Path(__file__).parent],
        testcase="smoke_stream/bias=mixed/stall=0.2",
    )
    env = {"SMOKE_CONFIG": cfg.to_json(), "SMOKE_CORRUPT": "1"}
    result = runner.run_cocotb(**kwargs, extra_env=env, check=False)
    assert result.status == "FAIL"
    assert (result.tests, result.failures) == (1, 1)
    assert "mismatches" in result.failed[0]
    assert result.seed is not None

    # the message names the seed; the same seed reproduces the same stimulus

    with pytest.raises(runner.SimFailure, match="1 of 1 cocotb tests failed") as info:
        runner.run_cocotb(**kwargs, extra_env=env, seed=result.seed)
    assert f"seed={result.seed}" in str(info.value)
    assert info.value.result.sim_time_ns == result.sim_time_ns
    assert info.value.result.build_seconds == 0.0  # cached


@pytest.mark.sim
@pytest.mark.icarus
@pytest.mark.skipif("icarus" not in runner.selected_simulators(), reason="SIM excludes icarus")
def test_rebuild_on_source_change(sim_build_dir: Path, tmp_path: Path) -> None:
    cfg = SmokeConfig(commands=20)
    source = write_verilog(cfg, tmp_path)
    kwargs = dict(
        toplevel=TOPLEVEL,
        sources=[source],
        test_module=SMOKE_MODULE,
        simulator="icarus",
        build_dir=sim_build_dir,
        pythonpath=[Path(__file__).parent],
        testcase="smoke_stream/bias=up/stall=0.6",
    )
    first = runner.run_cocotb(**kwargs, extra_env={"SMOKE_CONFIG": cfg.to_json()})
    again = runner.run_cocotb(**kwargs, extra_env={"SMOKE_CONFIG": cfg.to_json()})
    assert first.build_seconds > 0 and again.build_seconds == 0.0

    cfg = SmokeConfig(width=5, commands=20)
    write_verilog(cfg, tmp_path)
    changed = runner.run_cocotb(**kwargs, extra_env={"SMOKE_CONFIG": cfg.to_json()})
    assert changed.build_seconds > 0 and changed.passed


@pytest.mark.slow
def test_waves(run_sim, simulator: str, tmp_path: Path) -> None:
    cfg = SmokeConfig(commands=20)
    result = run_sim(
        toplevel=TOPLEVEL,
        sources=[write_verilog(cfg, tmp_path)],
        test_module=SMOKE_MODULE,
        extra_env={"SMOKE_CONFIG": cfg.to_json()},
        testcase="smoke_stream/bias=mixed/stall=0.2",
        waves=True,
    )
    assert result.wave_file is not None and result.wave_file.stat().st_size > 0
    assert result.wave_file.parent == result.results_xml.parent
    assert result.wave_file.suffix in (".fst", ".vcd")


def test_missing_simulator_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(runner.SimulatorNotFoundError, match=r"Icarus.*make setup") as info:
        runner.find_simulator("icarus")
    assert "\n" not in str(info.value)


def test_selected_simulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIM", raising=False)
    assert runner.selected_simulators() == ["verilator", "icarus"]
    assert runner.selected_simulators("Icarus") == ["icarus"]
    with pytest.raises(ValueError, match="questa"):
        runner.selected_simulators("questa")


def test_build_dir_for_is_unique_and_clean(tmp_path: Path) -> None:
    a = runner.build_dir_for("tests/sim/test_x.py::test_y[verilator-w4]", tmp_path)
    b = runner.build_dir_for("tests/sim/test_x.py::test_y[icarus-w4]", tmp_path)
    assert a != b and a.parent == tmp_path
    assert all(c.isalnum() or c in "._-" for c in a.name)
    long = runner.build_dir_for("t::" + "x" * 300, tmp_path)
    assert len(long.name) <= 120


def _result(simulator: str, failures: int = 0, tests: int = 3) -> runner.SimResult:
    return runner.SimResult(
        simulator=simulator,
        toplevel=TOPLEVEL,
        tests=tests,
        failures=failures,
        sim_time_ns=12_345.0,
        wall_seconds=1.25,
        results_xml=Path("/x/results.xml"),
        wave_file=None,
        build_seconds=10.0,
    )


def test_record_result_noop_without_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PLASTICORE_SIM_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    runner.record_result(_result("icarus"), "t", "c")
    assert list(tmp_path.iterdir()) == []


def test_summary_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jsonl = tmp_path / "sub" / "results.jsonl"
    monkeypatch.setenv("PLASTICORE_SIM_RESULTS", str(jsonl))
    runner.record_result(_result("verilator"), "test_runner.py::test_smoke", "w4s3")
    runner.record_result(_result("icarus", failures=1), "test_runner.py::test_smoke", "w4s3")
    runner.record_result(_result("icarus", tests=0), "test_b.py::test_long_name", "default")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["result"] for r in rows] == ["PASS", "FAIL", "ERROR"]

    table = runner.summary_table(jsonl)
    lines = table.splitlines()
    assert lines[0].split() == [
        "test",
        "config",
        "simulator",
        "result",
        "sim",
        "time",
        "build",
        "wall",
        "time",
    ]
    body = lines[2:5]
    assert body[0].split()[:4] == ["test_b.py::test_long_name", "default", "icarus", "ERROR"]
    assert body[1].split()[2:4] == ["icarus", "FAIL"]
    assert body[2].split()[2:4] == ["verilator", "PASS"]
    # columns line up: each column starts at the same offset on every line
    for word in ("config", "simulator", "result"):
        start = lines[0].index(word)
        assert all(line[start - 2 : start] == "  " for line in body)
    assert all(line.endswith("1.2 s") for line in body)  # right-aligned wall time
    assert "12.35 us" in body[0]
    assert lines[-1].startswith("total: 3 runs, 1 passed, 1 failed, 1 errors")
    assert lines[-1].endswith("3.8 s")
    assert len({len(line) for line in lines[:5]}) == 1  # header and rows equally wide


def test_summary_table_empty(tmp_path: Path) -> None:
    assert "no simulation results" in runner.summary_table(tmp_path / "none.jsonl")


def test_regress_command(tmp_path: Path) -> None:
    from plasticore.sim import regress

    (tmp_path / "tests" / "sim").mkdir(parents=True)
    cmd = regress.pytest_command(tmp_path, quick=True, extra_pytest_args=["-x"], cores=4)
    assert cmd[1:] == ["-m", "pytest", "tests/sim", "-m", "sim and not slow", "-n", "auto", "-x"]
    cmd = regress.pytest_command(tmp_path, quick=False, extra_pytest_args=["-n0"], cores=4)
    assert cmd[-3:] == ["-m", "sim", "-n0"]
    cmd = regress.pytest_command(tmp_path, quick=False, extra_pytest_args=[], cores=1)
    assert "-n" not in cmd


#: A module as Yosys writes a struct field driven alone (a bare ``always @*``, no time-zero
#: trigger), and one whose module has no trigger register at all.
_BARE = r"""module \m (out, other);
  reg \$auto$verilog_backend.cc:2355:dump_module$1  = 0;
  output [3:0] out;
  reg [3:0] out;
  output [1:0] other;
  reg [1:0] other;
  reg [3:0] r = 4'h5;
  always @*
    out[3:0] = r;
  always @* begin
    if (\$auto$verilog_backend.cc:2355:dump_module$1 ) begin end
    other = r[1:0];
  end
endmodule
module \n (out);
  output out;
  reg out;
  reg r = 1'h1;
  always @*
    out = r;
endmodule
module top;
  wire [3:0] o;
  wire [1:0] p;
  wire q;
  \m  u (.out(o), .other(p));
  \n  v (.out(q));
  initial #1 $display("%b %b %b", o, p, q);
endmodule
"""


def test_icarus_time_zero_starts_bare_blocks(tmp_path: Path) -> None:
    """Every combinational block reads its module's trigger (a module without one gets
    one), which fires at #0: a field driven alone is 5, not x, before its input changes."""
    source = tmp_path / "bare.v"
    source.write_text(_BARE)
    patched = runner._icarus_time_zero(source).read_text()
    assert patched.count(r"if (\$auto$verilog_backend.cc:2355:dump_module$1 ) begin end") == 2
    assert r"if (\$auto$verilog_backend.cc:0:dump_module$0 ) begin end" in patched
    assert patched.count("initial #0") == 2
    assert runner._icarus_time_zero(tmp_path / "bare.icarus.v").name == "bare.icarus.v"


@pytest.mark.sim
@pytest.mark.icarus
def test_icarus_time_zero_under_icarus(tmp_path: Path) -> None:
    """Under Icarus (SystemVerilog mode, as cocotb builds) the unpatched text leaves every
    combinational output x until an input changes; the patched one gives the registers'
    values."""
    import subprocess

    runner.find_simulator("icarus")
    source = tmp_path / "bare.v"
    source.write_text(_BARE)
    shown = []
    for path in (source, runner._icarus_time_zero(source)):
        subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.vvp"), str(path)],
                       check=True)
        out = subprocess.run(["vvp", "-n", str(tmp_path / "a.vvp")], capture_output=True,
                             text=True, check=True).stdout
        shown.append(out.strip().splitlines()[-1])
    assert shown == ["xxxx xx x", "0101 01 1"]
