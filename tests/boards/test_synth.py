"""``plasticore synth``: resource counts, device capacities, the timing estimate, the cache,
and the command line.  Expected numbers are worked out by hand in each test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plasticore.boards import synth as synth_mod
from plasticore.boards.catalog import BOARDS
from plasticore.boards.synth import (
    DEVICES,
    SynthError,
    count_resources,
    device_of,
    synthesize,
    synthesize_verilog,
)
from plasticore.boards.timing import ARTIX7_1, estimate_timing
from plasticore.cli import main
from plasticore.config import BoardConfig, Config, CoreConfig, StdpConfig, load_config

# -- devices and resource counting ------------------------------------------------------


def test_device_capacities_are_ds180() -> None:
    a35, a100 = DEVICES["xc7a35t"], DEVICES["xc7a100t"]
    # DS180 Table 5: 5,200 / 15,850 slices of 4 LUTs and 8 FFs; 400 / 1,188 Kb LUT RAM.
    assert (a35.luts, a35.ffs, a35.bram36, a35.dsps, a35.carry4) == (20_800, 41_600, 50, 90,
                                                                      5_200)
    assert (a100.luts, a100.ffs, a100.bram36, a100.dsps, a100.carry4) == (63_400, 126_800,
                                                                          135, 240, 15_850)
    assert a35.lutram_luts == 400 * 1024 // 64 == 6_400
    assert a100.lutram_luts == 1_188 * 1024 // 64 == 19_008
    # xc7a200t: 33,650 slices, 2,888 Kb LUT RAM, 365 block RAMs (13,140 Kb), 740 DSP48E1.
    a200 = DEVICES["xc7a200t"]
    assert (a200.luts, a200.ffs, a200.bram36, a200.dsps, a200.carry4) == (134_600, 269_200,
                                                                          365, 740, 33_650)
    assert a200.lutram_luts == 2_888 * 1024 // 64 == 46_208


@pytest.mark.parametrize(("board", "device"), [
    ("arty_a7_35", "xc7a35t"), ("arty_a7_100", "xc7a100t"),
    ("nexys_a7_100", "xc7a100t"), ("cmod_a7_35", "xc7a35t"), ("nexys_video", "xc7a200t"),
])
def test_every_board_has_a_device(board: str, device: str) -> None:
    assert device_of(BOARDS[board]).name == device


def test_count_resources_by_hand() -> None:
    cells = {"LUT6": 10, "LUT2": 3, "INV": 2, "RAM32M": 3, "RAM64X1D": 1, "SRL16E": 5,
             "FDRE": 7, "FDCE": 1, "FDSE": 2, "RAMB18E1": 3, "RAMB36E1": 1, "DSP48E1": 2,
             "CARRY4": 4, "MUXF7": 9, "BUFG": 1, "IBUF": 3}
    used = count_resources(cells)
    # LUT RAM: 3 RAM32M x 4 LUTs + 1 RAM64X1D x 2 + 5 SRL16E x 1 = 19.
    assert used["lutram"] == 19
    # LUTs: 10 + 3 + 2 (INV is a LUT1) logic, plus the 19 as memory.
    assert used["lut"] == 34
    assert used["ff"] == 10
    # 1 RAMB36 + 3 RAMB18 halves.
    assert used["bram36"] == 2.5
    assert used["dsp"] == 2
    assert used["carry4"] == 4


# -- the timing estimate, on hand-made netlists -------------------------------------------


def _netlist(cells: dict[str, dict[str, Any]], ports: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """A Yosys JSON netlist of module ``top``; cells as ``{name: (type, {pin: (dir, bits)})}``."""
    out_cells = {}
    for name, (ctype, pins) in cells.items():
        out_cells[name] = {
            "type": ctype, "parameters": {},
            "port_directions": {p: d for p, (d, _) in pins.items()},
            "connections": {p: list(bits) for p, (_, bits) in pins.items()},
        }
    return {"modules": {"top": {"ports": ports or {}, "cells": out_cells,
                                "netnames": {}}}}


def _ff(d: int, q: int) -> tuple[str, dict[str, Any]]:
    return ("FDRE", {"C": ("input", [1]), "CE": ("input", ["1"]), "R": ("input", ["0"]),
                     "D": ("input", [d]), "Q": ("output", [q])})


def _lut(ins: list[int], out: int) -> tuple[str, dict[str, Any]]:
    pins: dict[str, Any] = {f"I{i}": ("input", [b]) for i, b in enumerate(ins)}
    pins["O"] = ("output", [out])
    return (f"LUT{len(ins)}", pins)


def test_three_luts_between_flip_flops() -> None:
    n = _netlist({"a": _ff(20, 10), "l1": _lut([10], 11), "l2": _lut([11], 12),
                  "l3": _lut([12], 13), "b": _ff(13, 20)})
    t = estimate_timing(n, "top")
    assert t.lut_levels == 3
    # clock-to-Q 0.46 + 3 x (net 0.45 + LUT 0.12) + net 0.45 + setup 0.05 = 2.67 ns
    assert t.critical_ns == pytest.approx(2.67)
    assert t.fmax_mhz == pytest.approx(1000 / 2.67)
    assert [s.cell_type for s in t.path] == ["FDRE", "LUT1", "LUT1", "LUT1", "FDRE.D"]
    assert t.path_luts == 3


def test_fanout_slows_a_net() -> None:
    # One flip-flop drives four LUTs: its net is 0.45 + 0.10 * log2(4) = 0.65 ns.
    cells = {"a": _ff(30, 10)}
    for i in range(4):
        cells[f"l{i}"] = _lut([10], 11 + i)
        cells[f"f{i}"] = _ff(11 + i, 20 + i)
    t = estimate_timing(_netlist(cells), "top")
    # 0.46 + 0.65 + 0.12 + 0.45 + 0.05
    assert t.critical_ns == pytest.approx(1.73)
    assert t.lut_levels == 1


def test_carry_chain_and_block_ram_start() -> None:
    carry = {"CI": ("input", ["0"]), "CYINIT": ("input", ["0"]),
             "DI": ("input", ["0", "0", "0", "0"]), "S": ("input", [10, "0", "0", "0"]),
             "CO": ("output", [40, 41, 42, 43]), "O": ("output", [44, 45, 46, 47])}
    carry2 = {"CI": ("input", [43]), "CYINIT": ("input", ["0"]),
              "DI": ("input", ["0", "0", "0", "0"]), "S": ("input", ["0", "0", "0", "0"]),
              "CO": ("output", [50, 51, 52, 53]), "O": ("output", [54, 55, 56, 57])}
    ram = {"CLKARDCLK": ("input", [1]), "ADDRARDADDR": ("input", [60]),
           "DOADO": ("output", [10])}
    n = _netlist({"ram": ("RAMB36E1", ram), "c1": ("CARRY4", carry), "c2": ("CARRY4", carry2),
                  "f": _ff(57, 60)})
    t = estimate_timing(n, "top")
    # block RAM clock-to-out 2.46 + net 0.45 + S->CO 0.60 + dedicated CI (0) + CI->O 0.35
    # + net 0.45 + setup 0.05 = 4.36 ns; no LUT on the way.
    assert t.critical_ns == pytest.approx(4.36)
    assert t.lut_levels == 0
    assert t.path_carry4 == 2


def test_dsp_stages() -> None:
    # Unregistered A and B inputs and multiplier, registered P (PREG = 1).
    dsp = ("DSP48E1", {"CLK": ("input", [1]), "A": ("input", [10]), "B": ("input", [11]),
                       "P": ("output", [20])})
    n = _netlist({"fa": _ff(30, 10), "fb": _ff(31, 11), "dsp": dsp,
                  "l": _lut([20], 21), "f": _ff(21, 30)})
    cell = n["modules"]["top"]["cells"]["dsp"]
    cell["parameters"] = {"AREG": "0", "BREG": "0", "MREG": "0", "PREG": "1",
                          "USE_MULT": "MULTIPLY"}
    t = estimate_timing(n, "top")
    # flip-flop 0.46 + net 0.45 + A->M 2.60 + M->P 1.40 + P register setup 0.10 = 5.01 ns
    # (the path after P: P clock-to-out 0.60 + 0.45 + LUT 0.12 + 0.45 + 0.05 = 1.67 ns).
    assert t.critical_ns == pytest.approx(5.01)
    assert t.path[-1].cell_type == "DSP48E1.PREG"


def test_lutram_read_is_a_lut_level() -> None:
    ram = ("RAM32M", {"WCLK": ("input", [1]), "WE": ("input", [12]),
                      "ADDRA": ("input", [10, "0", "0", "0", "0"]),
                      "DIA": ("input", ["0", "0"]), "DOA": ("output", [11, "x"])})
    n = _netlist({"a": _ff(11, 10), "w": _ff(13, 12), "ram": ram})
    t = estimate_timing(n, "top")
    # Read: flip-flop 0.46 + net 0.45 + read (a LUT) 0.12 + net 0.45 + setup 0.05 = 1.53 ns;
    # write enable: 0.46 + 0.45 + write setup 0.50 = 1.41 ns; write to output: clock-to-out
    # 1.10 + net 0.45 + setup 0.05 = 1.60 ns, the longest.  The read is the one LUT level.
    assert t.critical_ns == pytest.approx(1.60)
    assert [s.cell_type for s in t.path] == ["RAM32M", "FDRE.D"]
    assert t.lut_levels == 1


def test_ports_are_timed_only_for_a_bare_core() -> None:
    ports = {"i": {"direction": "input", "bits": [10]},
             "o": {"direction": "output", "bits": [11]}}
    n = _netlist({"l": _lut([10], 11)}, ports)
    # input port as a register (0.46) + net 0.45 + LUT 0.12 + net 0.45 + no setup = 1.48 ns
    assert estimate_timing(n, "top", ports_are_registers=True).critical_ns == pytest.approx(1.48)
    assert estimate_timing(n, "top").critical_ns == 0


def test_combinational_loop_terminates() -> None:
    n = _netlist({"a": _lut([12, 10], 11), "b": _lut([11], 12), "f": _ff(11, 10)})
    t = estimate_timing(n, "top")
    assert t.loops >= 1
    assert t.lut_levels >= 1


def test_model_constants_in_brief_ranges() -> None:
    # The per-level cost the docs quote: LUT 0.12-0.2 ns plus net 0.3-0.5 ns.
    assert 0.12 <= ARTIX7_1.lut <= 0.2
    assert 0.3 <= ARTIX7_1.net <= 0.5


# -- real Yosys runs on hand-written designs -------------------------------------------

HAND_DESIGN = """
module t(input clk, input [7:0] d, input we, input [9:0] wa, input [9:0] ra,
         input [31:0] wd, output reg [7:0] q, output reg [15:0] cnt, output reg [31:0] rd);
  reg [7:0] s1;
  reg [31:0] mem [0:1023];
  always @(posedge clk) begin
    s1 <= d; q <= s1;
    cnt <= cnt + 16'd1;
    if (we) mem[wa] <= wd;
    rd <= mem[ra];
  end
endmodule
"""


def test_hand_design_counts(tmp_path: Path) -> None:
    cells, timing, _ = synthesize_verilog(HAND_DESIGN, "t", tmp_path, pins=False)
    used = count_resources(cells)
    # Flip-flops: s1 (8) + q (8) + cnt (16); rd is the block RAM's own output latch.
    assert used["ff"] == 32
    # 1024 x 32 bits = 32 Kb: one 36 Kb block RAM (1K x 36).
    assert used["bram36"] == 1
    # A 16-bit incrementer is a 16-bit carry chain: four CARRY4.
    assert used["carry4"] == 4
    assert used["dsp"] == 0
    assert timing.critical_ns > 0
    assert not (tmp_path / "netlist.json").exists()
    assert (tmp_path / "yosys.log").is_file() and (tmp_path / "stat.txt").is_file()


def test_yosys_failure_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SynthError) as info:
        synthesize_verilog("module t(input a; endmodule\n", "t", tmp_path, pins=False)
    message = str(info.value)
    assert "\n" not in message
    assert "yosys failed" in message and "yosys.log" in message


# -- the cached flow (fake Yosys: the cache logic, not synthesis) -------------------------


def _fake_synth(calls: list[str], cells: dict[str, int]):
    def fake(verilog: str, top: str, workdir: Path, **_: Any):
        from plasticore.boards.timing import TimingEstimate

        calls.append(verilog)
        workdir.mkdir(parents=True, exist_ok=True)
        timing = TimingEstimate(lut_levels=4, critical_ns=5.0, fmax_mhz=200.0, path=(),
                                path_luts=0, path_carry4=0, model=ARTIX7_1)
        return dict(cells), timing, 1.5
    return fake


def _small_config(**changes: Any) -> Config:
    core = CoreConfig(n_inputs=4, n_neurons=2, n_pe=1, timesteps=8, stdp=StdpConfig(norm=0))
    return Config(core=core.replace(**changes))


def test_cache_hits_only_on_the_same_netlist(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(synth_mod, "synthesize_verilog",
                        _fake_synth(calls, {"LUT6": 100, "FDRE": 40}))
    config = _small_config()
    first = synthesize(config, "arty_a7_35", "core", build_root=tmp_path)
    assert not first.cached and len(calls) == 1
    assert first.resources["lut"].used == 100 and first.lut_levels == 4
    assert first.fmax_mhz_estimate == 200.0
    assert Path(first.build_dir).name == f"arty_a7_35-core-{config.core.digest()}"

    again = synthesize(config, "arty_a7_35", "core", build_root=tmp_path)
    assert again.cached and len(calls) == 1
    assert again.to_dict()["resources"] == first.to_dict()["resources"]

    synthesize(config, "arty_a7_35", "core", build_root=tmp_path, force=True)
    assert len(calls) == 2

    # Another configuration: another entry, another run.
    synthesize(_small_config(timesteps=9), "arty_a7_35", "core", build_root=tmp_path)
    assert len(calls) == 3

    # Same directory, different RTLIL (as if the RTL generator changed): no stale hit.
    real = synth_mod.design_rtlil
    monkeypatch.setattr(synth_mod, "design_rtlil",
                        lambda *a: (real(*a)[0], real(*a)[1] + "\n# changed\n"))
    changed = synthesize(config, "arty_a7_35", "core", build_root=tmp_path)
    assert not changed.cached and len(calls) == 4


def test_board_design_digest_includes_the_board_table(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(synth_mod, "synthesize_verilog", _fake_synth(calls, {"FDRE": 1}))
    # At the Arty's 100 MHz oscillator the top needs no MMCM; at 50 MHz it does.
    config = Config(core=_small_config().core, board=BoardConfig(clock_mhz=100))
    a = synthesize(config, "arty_a7_35", "board", build_root=tmp_path)
    slower = Config(core=config.core, board=BoardConfig(clock_mhz=50))
    b = synthesize(slower, "arty_a7_35", "board", build_root=tmp_path)
    assert a.build_dir != b.build_dir and len(calls) == 2
    assert "MMCME2_BASE" in calls[1] and "MMCME2_BASE" not in calls[0]


def test_does_not_fit_is_exit_1_naming_the_resource(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # 61 RAMB36 on a 50-block device.
    monkeypatch.setattr(synth_mod, "synthesize_verilog",
                        _fake_synth([], {"RAMB36E1": 61, "FDRE": 10}))
    cfg = tmp_path / "small.toml"
    _small_config().save(cfg)
    code = main(["synth", str(cfg), "--board", "cmod_a7_35", "--design", "core",
                 "--build-dir", str(tmp_path / "b"), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("plasticore: error:")
    assert "does not fit" in err[0] and "bram36 61 used of 50 available" in err[0]
    assert "DOES NOT FIT" in captured.out

    # --json still prints the report, with fits: false.
    code = main(["synth", str(cfg), "--board", "cmod_a7_35", "--design", "core",
                 "--build-dir", str(tmp_path / "b"), "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["fits"] is False
    assert out["resources"]["bram36"] == {"used": 61, "available": 50, "percent": 122.0}


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    def no_yosys() -> list[str]:
        raise SynthError("no Yosys found: install the tools extra")

    monkeypatch.setattr(synth_mod, "find_yosys", no_yosys)
    assert main(["synth", "digits", "--design", "core", "--build-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "plasticore: error: no Yosys found: install the tools extra"

    assert main(["synth", str(tmp_path / "missing.toml")]) == 2
    assert "no such config file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["synth", "digits", "--board", "basys3"])
    assert info.value.code == 2


# -- one real synthesis of a tiny network core --------------------------------------------


def test_tiny_core_synthesizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "tiny.toml"
    _small_config().save(cfg)
    assert main(["synth", str(cfg), "--design", "core", "--build-dir", str(tmp_path / "b"),
                 "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is True and report["design"] == "core"
    assert report["device"] == "xc7a35t" and report["fmax_is_estimate"] is True
    for key in ("lut", "lutram", "ff", "bram36", "dsp", "carry4"):
        assert report["resources"][key]["available"] == DEVICES["xc7a35t"].capacity()[key]
    assert report["resources"]["ff"]["used"] > 0 and report["lut_levels"] > 0
    assert 10 < report["fmax_mhz_estimate"] < 1000
    assert report["critical_path"][0]["arrival_ns"] > 0
    # The second call is served from the cache.
    assert main(["synth", str(cfg), "--design", "core", "--build-dir", str(tmp_path / "b"),
                 "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True


@pytest.mark.slow
def test_digits_fits_the_arty_a7_35_with_headroom(tmp_path: Path) -> None:
    report = synthesize(load_config("digits"), "arty_a7_35", "core", build_root=tmp_path)
    assert report.fits
    assert all(r.fraction < 0.5 for r in report.resources.values())
