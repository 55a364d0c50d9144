"""Digilent Nexys Video (Artix-7 XC7A200T-1SBG484C): an Amaranth platform in the style of
amaranth-boards, which has none for this board.

Pins and IO standards checked against Digilent's master constraints file,
Digilent/digilent-xdc ``Nexys-Video-Master.xdc`` (Rev. A), and against litex-hub/litex-boards
``litex_boards/platforms/digilent_nexys_video.py``.  Where the two differ (buttons and
switches: LVCMOS12 in the XDC, LVCMOS25 in LiteX) the XDC is followed.  The UART names are
the FPGA's: ``rx`` is the XDC's ``uart_tx_in`` (V18), ``tx`` its ``uart_rx_out`` (AA19), as
in LiteX's ``serial``.
"""

import subprocess

from amaranth.build import Attrs, Clock, Pins, PinsN, Resource
from amaranth.vendor import XilinxPlatform
from amaranth_boards.resources import LEDResources, SwitchResources, UARTResource

__all__ = ["NexysVideoPlatform"]


class NexysVideoPlatform(XilinxPlatform):
    device      = "xc7a200t"
    package     = "sbg484"
    speed       = "1"
    default_clk = "clk100"
    default_rst = "rst"
    resources   = [
        Resource("clk100", 0,
            Pins("R4", dir="i"), Clock(100e6), Attrs(IOSTANDARD="LVCMOS33")),
        # CPU_RESETN, bank 35 (1.5 V)
        Resource("rst", 0,
            PinsN("G4", dir="i"), Attrs(IOSTANDARD="LVCMOS15")),

        *LEDResources(
            pins="T14 T15 T16 U16 V15 W16 W15 Y13",
            attrs=Attrs(IOSTANDARD="LVCMOS25")),

        Resource("button_center", 0,
            Pins("B22", dir="i"), Attrs(IOSTANDARD="LVCMOS12")),
        Resource("button_down", 0,
            Pins("D22", dir="i"), Attrs(IOSTANDARD="LVCMOS12")),
        Resource("button_left", 0,
            Pins("C22", dir="i"), Attrs(IOSTANDARD="LVCMOS12")),
        Resource("button_right", 0,
            Pins("D14", dir="i"), Attrs(IOSTANDARD="LVCMOS12")),
        Resource("button_up", 0,
            Pins("F15", dir="i"), Attrs(IOSTANDARD="LVCMOS12")),

        *SwitchResources(
            pins="E22 F21 G21 G22 H17 J16 K13 M17",
            attrs=Attrs(IOSTANDARD="LVCMOS12")),

        # FT232R USB-UART; only RX and TX reach the FPGA
        UARTResource(0,
            rx="V18", tx="AA19",
            attrs=Attrs(IOSTANDARD="LVCMOS33")),
    ]
    connectors  = []

    def toolchain_prepare(self, fragment, name, **kwargs):
        overrides = {
            "script_before_bitstream":
                "set_property BITSTREAM.CONFIG.SPI_BUSWIDTH 4 [current_design]",
            "script_after_bitstream":
                "write_cfgmem -force -format bin -interface spix4 -size 16 "
                f"-loadbit \"up 0x0 {name}.bit\" -file {name}.bin",
            "add_constraints":
                """
                set_property CFGBVS VCCO [current_design]
                set_property CONFIG_VOLTAGE 3.3 [current_design]
                """
        }
        return super().toolchain_prepare(fragment, name, **overrides, **kwargs)

    def toolchain_program(self, products, name):
        with products.extract(f"{name}.bit") as bitstream_filename:
            subprocess.check_call(["openFPGALoader", "-b", "nexysVideo", bitstream_filename])
