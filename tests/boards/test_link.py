"""The UART host link (``boards/link.py``) in Amaranth's simulator, byte by byte.

A small network (16 inputs, 4 neurons, 8 timesteps) behind the link; the testbench plays
the host's UART line at 8 clock cycles per bit.  Expected values: the protocol's own frame
builder for requests (``protocol.request``, whose CRC is ``amaranth.lib.crc``'s reference
model), the golden model for counts and classes, hand-written bytes for everything else.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from plasticore.boards.link import LinkedCore
from plasticore.boards.protocol import (
    SYNC_REQUEST,
    TIMEOUT_BYTES,
    Command,
    Geometry,
    Identity,
    ReplyParser,
    Result,
    Status,
    StatusReport,
    Target,
    crc16,
    identify_payload,
    request,
)
from plasticore.boards.uart import UartRx, UartTx
from plasticore.config import Config, load_config
from plasticore.golden.classify import predict_votes
from plasticore.golden.network import Network
from plasticore.hdl.core import pack_words

DIVISOR = 8


def small_config(timesteps: int = 8) -> Config:
    core = load_config("digits").core.replace(
        n_inputs=16, n_neurons=4, n_pe=2, timesteps=timesteps,
        **{"neuron.v_th": 300, "neuron.v_reset": 50, "neuron.t_ref": 1,
           "neuron.w_inh": 100, "stdp.norm": 0})
    return Config(core=core)


class Line:
    """The host end of the UART line inside an Amaranth testbench: ``send`` drives ``rx``;
    a monitor process decodes ``tx`` all the time into :attr:`received`."""

    def __init__(self, ctx, dut) -> None:
        self.ctx, self.dut = ctx, dut
        self.received = bytearray()
        self.parser = ReplyParser()
        self.replies: list = []

    async def send(self, data: bytes, gap: int = 0) -> None:
        for byte in data:
            bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
            for bit in bits:
                self.ctx.set(self.dut.rx, bit)
                await self.ctx.tick().repeat(DIVISOR)
            if gap:
                await self.ctx.tick().repeat(gap)

    async def reply(self, limit: int = 200_000):
        for _ in range(limit):
            if self.received:
                self.replies += self.parser.feed(bytes(self.received))
                self.received.clear()
            if self.replies:
                return self.replies.pop(0)
            await self.ctx.tick()
        raise AssertionError("no reply")

    async def call(self, command: int, payload: bytes = b""):
        await self.send(request(command, payload))
        return await self.reply()


def monitor(dut, received: bytearray):
    """A process decoding the link's ``tx`` line (8N1, ``DIVISOR`` cycles per bit)."""

    async def process(ctx):
        while True:
            while ctx.get(dut.tx):
                await ctx.tick()
            await ctx.tick().repeat(DIVISOR // 2)
            assert ctx.get(dut.tx) == 0, "start bit too short"
            value = 0
            for i in range(8):
                await ctx.tick().repeat(DIVISOR)
                value |= ctx.get(dut.tx) << i
            await ctx.tick().repeat(DIVISOR)
            assert ctx.get(dut.tx) == 1, "stop bit low"
            received.append(value)

    return process


def simulate(config: Config, bench) -> None:
    dut = LinkedCore(config, divisor=DIVISOR)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    received = bytearray()

    async def testbench(ctx):
        line = Line(ctx, dut)
        line.received = received
        await bench(line, ctx, dut)

    sim.add_testbench(testbench)
    sim.add_testbench(monitor(dut, received), background=True)
    sim.run()


# -- UART alone ----------------------------------------------------------------------------


def test_uart_loopback_bytes_and_framing_error():
    """Every byte value through UartTx -> UartRx; a byte with a low stop bit is dropped."""
    m = Module()
    m.submodules.tx = tx = UartTx(DIVISOR)
    m.submodules.rx = rx = UartRx(DIVISOR)
    line = Signal(init=1)
    m.d.comb += rx.rx.eq(tx.tx & line)
    sim = Simulator(m)
    sim.add_clock(1e-8)
    got: list[int] = []
    errors: list[int] = []

    async def send(ctx):
        for value in [0x00, 0xFF, 0x55, 0xA5, 0x5A, 0x01, 0x80]:
            ctx.set(tx.data.payload, value)
            ctx.set(tx.data.valid, 1)
            await ctx.tick().until(tx.data.ready)
            ctx.set(tx.data.valid, 0)
            await ctx.tick().repeat(12 * DIVISOR)
        # a frame whose stop bit is forced low
        ctx.set(tx.data.payload, 0x3C)
        ctx.set(tx.data.valid, 1)
        await ctx.tick()
        ctx.set(tx.data.valid, 0)
        await ctx.tick().repeat(9 * DIVISOR + DIVISOR // 2 - 1)
        ctx.set(line, 0)                    # a short glitch over the stop bit's middle
        await ctx.tick().repeat(5)
        ctx.set(line, 1)
        await ctx.tick().repeat(4 * DIVISOR)

    async def receive(ctx):
        ctx.set(rx.data.ready, 1)
        async for _, _, valid, payload, error in ctx.tick().sample(
                rx.data.valid, rx.data.payload, rx.frame_error):
            if valid:
                got.append(payload)
            if error:
                errors.append(1)

    sim.add_testbench(send)
    sim.add_process(receive)
    sim.run_until(1e-8 * 12 * DIVISOR * 10)
    assert got == [0x00, 0xFF, 0x55, 0xA5, 0x5A, 0x01, 0x80]
    assert errors == [1]


# -- frames --------------------------------------------------------------------------------


def test_identify_status_and_errors():
    config = small_config()
    g = Geometry.of(config)

    async def bench(line, ctx, dut):
        reply = await line.call(Command.IDENTIFY)
        assert (reply.status, reply.payload) == (Status.OK, identify_payload(config))
        ident = Identity.parse(reply.payload)
        assert (ident.digest, ident.n_inputs, ident.n_neurons) == (config.core.digest(), 16, 4)

        # a flipped payload bit: BAD_CRC
        frame = bytearray(request(Command.WRITE_MEMORY, bytes([0, 0, 0, 1, 2, 3, 4])))
        frame[6] ^= 0x10
        await line.send(bytes(frame))
        reply = await line.reply()
        assert reply.status == Status.BAD_CRC

        reply = await line.call(0x7E)
        assert (reply.command, reply.status) == (0x7E, Status.UNKNOWN_COMMAND)
        reply = await line.call(Command.IDENTIFY, b"\x00")
        assert reply.status == Status.BAD_LENGTH
        reply = await line.call(Command.RESULT)
        assert reply.status == Status.NO_RESULT
        # weights: 3 bytes of header + a word and a half
        reply = await line.call(Command.WRITE_MEMORY, bytes([0, 0, 0]) + b"\x01\x02\x03")
        assert reply.status == Status.BAD_LENGTH
        # past the end of the threshold memory (depth 2 words)
        reply = await line.call(Command.WRITE_MEMORY, struct.pack("<BH", Target.THETA, 1)
                                + bytes(2 * g.memory(Target.THETA).bytes))
        assert reply.status == Status.BAD_ADDRESS
        reply = await line.call(Command.READ_MEMORY, struct.pack("<BHH", 3, 0, 1))
        assert reply.status == Status.BAD_ADDRESS
        reply = await line.call(Command.RUN_SAMPLE, b"\x00" * 5)
        assert reply.status == Status.BAD_LENGTH

        # a length beyond the buffer: the rest of the line is dropped until it is quiet
        await line.send(bytes([SYNC_REQUEST, Command.WRITE_MEMORY, 0xFF, 0xFF]) + b"\x11" * 4)
        reply = await line.reply(limit=TIMEOUT_BYTES * 10 * DIVISOR * 2)
        assert reply.status == Status.BAD_LENGTH
        # a truncated frame: TIMEOUT
        await line.send(request(Command.READ_MEMORY, bytes(5))[:5])
        reply = await line.reply(limit=TIMEOUT_BYTES * 10 * DIVISOR * 2)
        assert reply.status == Status.TIMEOUT
        # noise before a frame is skipped
        await line.send(b"\x00\x13\x37" + request(Command.STATUS))
        reply = await line.reply()
        assert reply.status == Status.OK
        status = StatusReport.parse(reply.payload)
        assert not status.busy and not status.result_ready
        assert status.bad_frames == 10 and status.good_frames == 1
        assert status.last_error == Status.TIMEOUT

    simulate(config, bench)


def test_memories_round_trip_and_sample_matches_golden():
    config = small_config(timesteps=40)
    core = config.core
    g = Geometry.of(config)
    rng = np.random.default_rng(1)
    weights = rng.integers(0, 256, size=(core.n_inputs, core.n_neurons))
    theta = rng.integers(0, 40, size=core.n_neurons)
    votes = rng.integers(0, 256, size=(g.n_classes, core.n_neurons))
    pixels = rng.integers(0, 256, size=core.n_inputs)

    net = Network(core, weights=weights, theta=theta)
    golden = [net.run_sample(pixels, key=7, learn=True),
              net.run_sample(pixels, key=8, learn=False)]

    async def bench(line, ctx, dut):
        for target, words in ((Target.WEIGHTS, pack_words(weights, 2, 8)),
                              (Target.THETA, pack_words(theta, 2, core.widths.theta)),
                              (Target.VOTES, [int(v) for v in votes.reshape(-1)])):
            size = g.memory(target).bytes
            body = b"".join(w.to_bytes(size, "little") for w in words)
            reply = await line.call(Command.WRITE_MEMORY, struct.pack("<BH", target, 0) + body)
            assert reply.status == Status.OK, target
            reply = await line.call(Command.READ_MEMORY,
                                    struct.pack("<BHH", target, 0, len(words)))
            assert reply.status == Status.OK
            assert reply.payload == body, target

        for learn, key, expected in ((1, 7, golden[0]), (0, 8, golden[1])):
            # the sample, and at once (queued behind it) a write that must not land
            await line.send(request(Command.RUN_SAMPLE,
                                    struct.pack("<BI", learn, key) + bytes(pixels.tolist()))
                            + request(Command.WRITE_MEMORY, bytes([1, 0, 0]) + bytes(
                                g.memory(Target.THETA).bytes)))
            assert (await line.reply()).status == Status.OK
            assert (await line.reply()).status == Status.BUSY
            while True:
                reply = await line.call(Command.RESULT)
                if reply.status != Status.BUSY:
                    break
            assert reply.status == Status.OK
            result = Result.parse(reply.payload, g)
            np.testing.assert_array_equal(result.counts, expected.counts)
            assert result.spikes == int(expected.counts.sum())
            assert result.predicted == int(predict_votes(expected.counts, votes)[0])
            # the sample outlasted the RUN_SAMPLE reply (7 bytes), so the write met it busy
            assert result.cycles > 7 * 10 * DIVISOR
        # learning changed the weights exactly as in the golden model
        words = pack_words(net.weights, 2, 8)
        reply = await line.call(Command.READ_MEMORY,
                                struct.pack("<BHH", Target.WEIGHTS, 0, len(words)))
        assert reply.payload == b"".join(w.to_bytes(2, "little") for w in words)
        assert sum(golden[0].counts) > 0, "the test sample should make spikes"

    simulate(config, bench)


def test_crc_matches_amaranth_reference():
    """The frame CRC is CRC-16/IBM-3740: check value of "123456789" is 0x29B1."""
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("payload", [b"", b"\x01\x02"])
def test_request_frame_layout(payload):
    frame = request(Command.READ_MEMORY, payload)
    assert frame[:4] == bytes([0xA5, 0x04, len(payload), 0])
    assert frame[4:-2] == payload
    assert int.from_bytes(frame[-2:], "little") == crc16(frame[1:-2])
