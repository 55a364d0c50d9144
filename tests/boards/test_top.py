"""Board tops (``boards/top.py``): clock settings and a build tree for every board."""

from __future__ import annotations

import dataclasses

import pytest

from plasticore.boards.catalog import BOARDS, board_named
from plasticore.boards.top import BoardTop, mmcm_for
from plasticore.config import BoardConfig, ConfigError, load_config


def test_mmcm_settings_by_hand():
    # 12 MHz -> 100 MHz: the VCO must be a multiple of 12 MHz and of 100 MHz in 600..768
    # (M <= 64, D = 1 since the PFD needs >= 10 MHz): 600 MHz, M = 50, O = 6
    s = mmcm_for(12_000_000, 100_000_000)
    assert (s.divclk, s.mult, s.divide) == (1, 50, 6)
    # 100 -> 150 MHz: the highest VCO that works is 1200 MHz (M = 12, O = 8)
    s = mmcm_for(100_000_000, 150_000_000)
    assert (s.divclk, s.mult, s.divide, s.f_vco) == (1, 12, 8, 1.2e9)
    with pytest.raises(ConfigError, match="no MMCM setting"):
        mmcm_for(12_000_000, 99_999_999)


def test_unknown_board_names_the_known_ones():
    with pytest.raises(ConfigError, match="arty_a7_35, arty_a7_100"):
        board_named("basys3")


def test_board_config_checks():
    with pytest.raises(ConfigError, match="board.baud"):
        BoardConfig(baud=3_000_001)
    with pytest.raises(ConfigError, match="clock_mhz"):
        BoardConfig(clock_mhz=20, baud=3_000_000)    # fewer than 8 cycles per bit
    with pytest.raises(ConfigError, match="1250000 baud"):
        BoardConfig(clock_mhz=10, baud=1_200_000)   # 10 MHz / 8 = 1.25 Mbaud: 4 % off
    with pytest.raises(ConfigError, match="board.name"):
        BoardConfig(name="basys3")


@pytest.mark.parametrize("name", list(BOARDS))
def test_build_tree_for_every_board(name, tmp_path):
    config = load_config("digits")
    config = dataclasses.replace(config, core=config.core.replace(n_neurons=8, n_pe=2))
    board = BOARDS[name]
    plan = board.platform().prepare(BoardTop(config, name), name="top")
    verilog = plan.files["top.v"]
    assert "module top" in verilog and "linked" in verilog
    assert "MMCME2_BASE" in verilog            # 60 MHz from every board's oscillator
    # a 100 MHz core runs straight off the Arty's and Nexys's oscillator; the CMOD's 12 MHz
    # one still needs the MMCM
    fast = dataclasses.replace(config, board=BoardConfig(clock_mhz=100))
    verilog = board.platform().prepare(BoardTop(fast, name), name="top").files["top.v"]
    assert ("MMCME2_BASE" in verilog) == (name == "cmod_a7_35")
    xdc = plan.files["top.xdc"]
    assert "uart_0__tx" in xdc and "led_0" in xdc


def test_nexys_video_pins():
    # Digilent's Nexys-Video-Master.xdc: each bank at its own voltage.
    config = dataclasses.replace(load_config("digits"), board=BoardConfig(clock_mhz=100))
    plan = BOARDS["nexys_video"].platform().prepare(BoardTop(config, "nexys_video"), name="top")
    xdc = plan.files["top.xdc"]
    for port, pin, standard in [("clk100_0__io", "R4", "LVCMOS33"),
                                ("rst_0__io", "G4", "LVCMOS15"),
                                ("uart_0__rx__io", "V18", "LVCMOS33"),
                                ("uart_0__tx__io", "AA19", "LVCMOS33"),
                                ("led_0__io", "T14", "LVCMOS25"),
                                ("led_3__io", "U16", "LVCMOS25")]:
        assert f'set_property LOC {pin} [get_ports "{port}"]' in xdc
        assert f'set_property IOSTANDARD "{standard}" [get_ports "{port}"]' in xdc
    assert "led_4__io" not in xdc          # four status LEDs of eight
    assert "set_property CFGBVS VCCO" in xdc
