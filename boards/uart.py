"""8N1 UART receiver and transmitter with byte streams.

Both take ``divisor``, the clock cycles per bit (``clock_hz / baud``, at least 8).  The
receiver samples the middle of every bit after a two-flop synchronizer; a byte whose stop
bit is low (a framing error: noise, a break, a wrong baud rate) is dropped and counted.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx"]


class UartRx(wiring.Component):
    """Line ``rx`` (idle high) in, bytes out on ``data``.

    ``data`` has no backpressure worth the name: a byte not taken before the next one
    completes is lost (``overrun`` pulses).  ``frame_error`` pulses for a byte with a low
    stop bit.  Latency: a byte is valid half a bit time after its stop bit's middle.
    """

    def __init__(self, divisor: int) -> None:
        if divisor < 8:
            raise ValueError(f"UART divisor {divisor}: need at least 8 clock cycles per bit")
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "data": Out(stream.Signature(8)),
            "frame_error": Out(1),
            "overrun": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self.divisor))
        bit = Signal(range(8))
        shift = Signal(8)

        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        m.d.sync += [self.frame_error.eq(0), self.overrun.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):                      # a glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq((line << 7) | (shift >> 1)),
                                 timer.eq(self.divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(line):
                        m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1),
                                     self.overrun.eq(self.data.valid & ~self.data.ready)]
                    with m.Else():
                        m.d.sync += self.frame_error.eq(1)
                    m.next = "IDLE"                    # resynchronize on the next fall
        return m


class UartTx(wiring.Component):
    """Bytes in on ``data``, line ``tx`` (idle high) out: start bit, 8 data bits LSB first,
    one stop bit.  ``data.ready`` is high only while the line is idle."""

    def __init__(self, divisor: int) -> None:
        if divisor < 8:
            raise ValueError(f"UART divisor {divisor}: need at least 8 clock cycles per bit")
        self.divisor = divisor
        super().__init__({
            "data": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        timer = Signal(range(self.divisor))
        frame = Signal(10)          # start, 8 data, stop: shifted out LSB first
        left = Signal(range(11))

        m.d.comb += self.data.ready.eq(left == 0)
        with m.If(left == 0):
            with m.If(self.data.valid):
                m.d.sync += [frame.eq((1 << 9) | (self.data.payload << 1)), left.eq(10),
                             timer.eq(self.divisor - 1), self.tx.eq(0)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [left.eq(left - 1), timer.eq(self.divisor - 1),
                         self.tx.eq(frame[1]), frame.eq(frame >> 1)]
            with m.If(left == 1):
                m.d.sync += self.tx.eq(1)
        return m
