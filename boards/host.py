"""Host driver of the UART link: talk to a board (or the board testbench) frame by frame.

:class:`BoardLink` speaks ``protocol.py`` over any :class:`Transport`: a serial port
(:class:`SerialTransport`, pyserial) on real hardware, or the cocotb testbench's UART model
in simulation (``sim/tb_board.py``), so the protocol is tested end to end without a board.
:func:`run_test_set` is ``plasticore board run``: load a trained network, classify samples
on the board, and hold every answer to the golden model.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Config
from ..golden.classify import Readout, predict_votes, vote_table
from ..golden.network import Network
from ..sim.core_session import pack_words, unpack_words
from .protocol import (
    Command,
    Geometry,
    Identity,
    Reply,
    ReplyParser,
    Result,
    Status,
    StatusReport,
    Target,
    request,
)

__all__ = ["LinkError", "Transport", "SerialTransport", "BoardLink", "RunReport",
           "run_test_set"]

Array = Any


class LinkError(RuntimeError):
    """The board did not answer, answered an error, or is not the configured network."""


class Transport:
    """Byte pipe to the board: ``write`` all bytes; ``read`` up to ``n`` bytes, waiting at
    most ``timeout`` seconds for the first (``b""`` when none came)."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int, timeout: float) -> bytes:
        raise NotImplementedError

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass (between status polls)."""
        time.sleep(seconds)


class SerialTransport(Transport):
    """A serial port through pyserial (8N1 at the configuration's baud rate)."""

    def __init__(self, port: str, baud: int) -> None:
        try:
            import serial
        except ImportError:
            raise LinkError("pyserial is not installed: pip install pyserial") from None
        try:
            self._port = serial.Serial(port, baud, timeout=0.1)
        except (serial.SerialException, ValueError) as exc:
            raise LinkError(f"{port}: cannot open serial port: {exc}") from None

    def write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def read(self, n: int, timeout: float) -> bytes:
        self._port.timeout = timeout
        return bytes(self._port.read(n))


class BoardLink:
    """One board behind ``transport``, for the network of ``config``.

    ``timeout`` (seconds) bounds every silence while a reply is due; ``poll`` is the pause
    between result polls while a sample runs.
    """

    def __init__(self, transport: Transport, config: Config, timeout: float = 2.0,
                 poll: float = 0.0) -> None:
        self.transport = transport
        self.config = config
        self.geometry = Geometry.of(config)
        self.timeout = timeout
        self.poll = poll
        self._parser = ReplyParser()

    # -- frames ---------------------------------------------------------------------------

    def exchange(self, command: int, payload: bytes = b"") -> Reply:
        """Send one request and return its reply (any status)."""
        self.transport.write(request(command, payload))
        while True:
            chunk = self.transport.read(4096, self.timeout)
            if not chunk:
                raise LinkError(f"no reply to {_name(command)} within {self.timeout:g} s "
                                "(is the board programmed, on this port, at this baud rate?)")
            try:
                replies = self._parser.feed(chunk)
            except ValueError as exc:
                raise LinkError(str(exc)) from None
            if replies:
                reply = replies[0]
                if reply.command != command:
                    raise LinkError(f"reply to {_name(reply.command)} while waiting for "
                                    f"{_name(command)}")
                return reply

    def call(self, command: int, payload: bytes = b"") -> bytes:
        """Send one request; its payload, or :class:`LinkError` naming the error status."""
        reply = self.exchange(command, payload)
        if reply.status != Status.OK:
            raise LinkError(f"board answered {_name(command)} with {reply.status.name}")
        return reply.payload

    # -- commands -------------------------------------------------------------------------

    def identify(self) -> Identity:
        return Identity.parse(self.call(Command.IDENTIFY))

    def check_identity(self) -> Identity:
        """IDENTIFY, and refuse a bitstream built for another configuration."""
        ident = self.identify()
        if ident.digest != self.config.core.digest():
            raise LinkError(f"the board runs configuration {ident.digest}, not "
                            f"{self.config.core.digest()} ({self.config.source}): rebuild "
                            "the bitstream for this configuration or pass the matching one")
        return ident

    def status(self) -> StatusReport:
        return StatusReport.parse(self.call(Command.STATUS))

    def write_memory(self, target: Target, words: list[int], address: int = 0) -> None:
        g = self.geometry
        size, step = g.word_bytes[target], g.chunk_words(target)
        for start in range(0, len(words), step):
            body = b"".join(w.to_bytes(size, "little") for w in words[start:start + step])
            self.call(Command.WRITE_MEMORY,
                      struct.pack("<BH", target, address + start) + body)

    def read_memory(self, target: Target, count: int, address: int = 0) -> list[int]:
        g = self.geometry
        size, step = g.word_bytes[target], g.chunk_words(target)
        out: list[int] = []
        for start in range(0, count, step):
            n = min(step, count - start)
            body = self.call(Command.READ_MEMORY,
                             struct.pack("<BHH", target, address + start, n))
            out += [int.from_bytes(body[i:i + size], "little")
                    for i in range(0, len(body), size)]
        return out

    def load(self, weights: Array, theta: Array, votes: Array | None = None) -> None:
        """Weights ``(n_inputs, n_neurons)``, thresholds ``(n_neurons,)`` and, for the
        on-board readout, votes ``(n_classes, n_neurons)``."""
        core = self.config.core
        P = core.n_pe
        self.write_memory(Target.WEIGHTS, pack_words(weights, P, core.widths.weight))
        self.write_memory(Target.THETA, pack_words(theta, P, core.widths.theta))
        if votes is not None:
            self.write_memory(Target.VOTES, [int(v) for v in np.asarray(votes).reshape(-1)])

    def read_state(self) -> tuple[Array, Array, Array]:
        """Every weight, threshold and vote, as :meth:`load` takes them."""
        core, g = self.config.core, self.geometry
        P = core.n_pe
        w = unpack_words(self.read_memory(Target.WEIGHTS, g.depth[Target.WEIGHTS]), P,
                         core.widths.weight).reshape(core.n_inputs, core.n_neurons)
        th = unpack_words(self.read_memory(Target.THETA, g.depth[Target.THETA]), P,
                          core.widths.theta)
        votes = np.array(self.read_memory(Target.VOTES, g.depth[Target.VOTES]),
                         dtype=np.int64).reshape(g.n_classes, g.n_neurons)
        return w, th, votes

    def start_sample(self, pixels: Array, key: int, learn: bool = False) -> None:
        """RUN_SAMPLE: pixels ``(n_inputs,)`` or, with direct input, the raster
        ``(timesteps, n_inputs)`` of 0/1."""
        g = self.geometry
        if g.direct:
            raster = np.asarray(pixels, dtype=np.uint8).reshape(g.timesteps, g.n_inputs)
            packed = np.packbits(raster, axis=1, bitorder="little")
            data = packed[:, :g.raster_bytes].tobytes()
        else:
            px = np.asarray(pixels, dtype=np.int64).reshape(g.n_inputs)
            data = b"".join(int(v).to_bytes(g.pixel_bytes, "little") for v in px)
        self.call(Command.RUN_SAMPLE, struct.pack("<BI", int(learn), key) + data)

    def wait_result(self) -> Result:
        """Poll RESULT until the running sample's result is there."""
        while True:
            reply = self.exchange(Command.RESULT)
            if reply.status == Status.OK:
                return Result.parse(reply.payload, self.geometry)
            if reply.status != Status.BUSY:
                raise LinkError(f"board answered RESULT with {reply.status.name}")
            if self.poll:
                self.transport.wait(self.poll)

    def run_sample(self, pixels: Array, key: int, learn: bool = False) -> Result:
        self.start_sample(pixels, key, learn)
        return self.wait_result()


def _name(command: int) -> str:
    try:
        return Command(command).name
    except ValueError:
        return f"command {command:#04x}"


# -- plasticore board run ---------------------------------------------------------------------


@dataclass
class RunReport:
    """How a board's answers compared with the golden model's."""

    samples: int = 0
    counts_equal: int = 0
    class_equal: int = 0
    correct: int = 0
    float_agree: int = 0
    cycles: list[int] = field(default_factory=list)
    first_mismatch: str = ""

    @property
    def matched(self) -> bool:
        return self.samples > 0 and self.counts_equal == self.class_equal == self.samples


def run_test_set(link: BoardLink, weights: Array, theta: Array, rates: Array,
                 images: Array, labels: Array,
                 progress: Callable[[int, int], None] | None = None,
                 stop_at_mismatch: bool = False) -> RunReport:
    """Load the network, classify ``images`` on the board (learning off, key = index, as
    ``golden.train.evaluate`` does), and compare every sample's counts and class with the
    golden model (:func:`~plasticore.golden.classify.predict_votes`)."""
    config = link.config
    votes = vote_table(config.classify.readout, rates, config.classify.vote_bits)
    link.check_identity()
    link.load(weights, theta, votes)
    net = Network(config.core, weights=weights, theta=theta)
    float_readout = Readout.from_rates(config.classify.readout, rates)
    report = RunReport()
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        golden = net.run_sample(image, key=i, learn=False)
        expected = int(predict_votes(golden.counts, votes)[0])
        got = link.run_sample(image, key=i)
        report.samples += 1
        report.cycles.append(got.cycles)
        same_counts = bool(np.array_equal(got.counts, golden.counts))
        report.counts_equal += same_counts
        report.class_equal += got.predicted == expected
        report.correct += got.predicted == int(label)
        report.float_agree += expected == int(float_readout.predict(golden.counts[None])[0])
        if not report.first_mismatch and (not same_counts or got.predicted != expected):
            diff = np.flatnonzero(got.counts != golden.counts)
            where = (f"neuron {diff[0]}: count {got.counts[diff[0]]}, golden "
                     f"{golden.counts[diff[0]]}" if diff.size else
                     f"class {got.predicted}, golden {expected}")
            report.first_mismatch = f"sample {i}: {where}"
            if stop_at_mismatch:
                break
        if progress:
            progress(i + 1, len(labels))
    return report
