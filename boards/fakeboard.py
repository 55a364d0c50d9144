"""A fake board: the host-link protocol answered as a correct bitstream would, from the golden
model, on a pseudo-terminal.  For runs without hardware and for testing the host's serial path.

``plasticore board serve digits`` serves a board on a new pseudo-terminal and prints its
path, for ``plasticore board run digits --weights W.npz --port /dev/pts/N``; ``plasticore
bench link`` measures how many bytes per second the host driver moves against the UART line
rate (:func:`measure_throughput`).

:class:`FakeBoard` is the protocol (requests in, reply frames out, no I/O): memories as
``WRITE_MEMORY`` stores them (every layer's), samples run by
:class:`~plasticore.golden.network.Network` and
classified as the link's readout does (:func:`~.protocol.board_class`: the vote scores of
the counts, or the highest membrane with a membrane readout).  It does not model the
receive timeout (a truncated request waits for its rest) and takes an oversize length for
``BAD_LENGTH`` at once.  :class:`PtyBoard` serves it from a thread, optionally pacing,
delaying or fragmenting the replies; tests subclass :class:`FakeBoard` to misbehave.
"""

from __future__ import annotations

import os
import select
import struct
import threading
import time
import tty
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..config import Config
from ..golden.network import Network
from ..hdl.core.membrane import membrane_mode
from ..hdl.cycles import network_sample_cycles, sample_cycles
from ..sim.core_session import layer_rasters
from .protocol import (
    CHUNK_BYTES,
    Command,
    Geometry,
    RequestParser,
    Status,
    StatusReport,
    Target,
    board_class,
    board_votes,
    identify_payload,
    layer_values,
    layer_words,
    reply_frame,
    result_payload,
    selector,
)

__all__ = ["FakeBoard", "PtyBoard", "measure_throughput"]

Array = Any


class FakeBoard:
    """The board side of the protocol for ``config``.

    ``compute`` off answers every sample with zero counts (class 0, 0 cycles) at once;
    ``busy_polls`` RESULT requests after each RUN_SAMPLE are answered BUSY, as while a
    sample runs.  :meth:`replies` turns received bytes into the bytes to send;
    :meth:`reply` (one request) is the hook a misbehaving board overrides.
    """

    def __init__(self, config: Config, compute: bool = True, busy_polls: int = 0) -> None:
        self.config = config
        self.geometry = g = Geometry.of(config)
        self.compute = compute
        self.busy_polls = busy_polls
        self.memory = {key: [0] * memory.depth for key, memory in g.memories.items()}
        self.parser = RequestParser(g.request_bytes)
        self.result: bytes | None = None
        self.busy_left = 0
        self.samples = self.last_cycles = self.busy_cycles = 0
        self.good_frames = self.bad_frames = 0
        self.last_status = Status.OK
        self._net: Network | None = None

    # -- bytes in, bytes out ------------------------------------------------------------------

    def replies(self, data: bytes) -> Iterator[bytes]:
        """The reply bytes to send for the requests ``data`` completes."""
        for command, payload, failed in self.parser.feed(data):
            if failed is not None:
                yield from self.answer(command, failed)
            else:
                yield from self.reply(command, payload)

    def reply(self, command: int, payload: bytes) -> Iterable[bytes]:
        """What the board sends for one well-formed request (an iterable of chunks)."""
        status, out = self.handle(command, payload)
        return self.answer(command, status, out)

    def answer(self, command: int, status: Status, payload: bytes = b"") -> list[bytes]:
        self.last_status = status
        if status in (Status.OK, Status.BUSY, Status.NO_RESULT):
            self.good_frames += 1
        else:
            self.bad_frames += 1
        return [reply_frame(command, status, payload)]

    # -- the commands ---------------------------------------------------------------------

    def handle(self, command: int, payload: bytes) -> tuple[Status, bytes]:
        """Check and run one request: its status and reply payload."""
        g, n = self.geometry, len(payload)
        if command in (Command.IDENTIFY, Command.STATUS, Command.RESULT):
            if n:
                return Status.BAD_LENGTH, b""
            if command == Command.IDENTIFY:
                return Status.OK, identify_payload(self.config)
            if command == Command.STATUS:
                return Status.OK, self.status_payload()
            if self.busy_left:
                self.busy_left -= 1
                return Status.BUSY, b""
            return (Status.NO_RESULT, b"") if self.result is None else (Status.OK, self.result)
        if command == Command.WRITE_MEMORY:
            if n < 4:
                return Status.BAD_LENGTH, b""
            target, address = struct.unpack_from("<BH", payload)
            if target not in g.memories:
                return Status.BAD_ADDRESS, b""
            memory = g.memories[target]
            size = memory.bytes
            if (n - 3) % size or n - 3 > CHUNK_BYTES:
                return Status.BAD_LENGTH, b""
            count = (n - 3) // size
            if address + count > memory.depth:
                return Status.BAD_ADDRESS, b""
            if self.busy_left:
                return Status.BUSY, b""
            mask = (1 << memory.bits) - 1
            for i in range(count):
                word = int.from_bytes(payload[3 + i * size:3 + (i + 1) * size], "little")
                self.memory[target][address + i] = word & mask
            self._net = None
            return Status.OK, b""
        if command == Command.READ_MEMORY:
            if n != 5:
                return Status.BAD_LENGTH, b""
            target, address, count = struct.unpack("<BHH", payload)
            if target not in g.memories:
                return Status.BAD_ADDRESS, b""
            memory = g.memories[target]
            if not 0 < count <= memory.chunk_words:
                return Status.BAD_LENGTH, b""
            if address + count > memory.depth:
                return Status.BAD_ADDRESS, b""
            if self.busy_left:
                return Status.BUSY, b""
            size = memory.bytes
            return Status.OK, b"".join(w.to_bytes(size, "little")
                                       for w in self.memory[target][address:address + count])
        if command == Command.RUN_SAMPLE:
            if n != 5 + g.sample_bytes:
                return Status.BAD_LENGTH, b""
            if self.busy_left:
                return Status.BUSY, b""
            learn, key = struct.unpack_from("<BI", payload)
            self.result = self.run(payload[5:], key, bool(learn & 1))
            self.busy_left = self.busy_polls
            return Status.OK, b""
        return Status.UNKNOWN_COMMAND, b""

    def status_payload(self) -> bytes:
        flags = (bool(self.busy_left) | (self.last_status != Status.OK) << 2
                 | (self.result is not None) << 3)
        return struct.pack(StatusReport.FORMAT, flags, self.last_status, self.samples,
                           self.last_cycles, self.busy_cycles, self.good_frames,
                           self.bad_frames)

    def layer_memories(self, index: int) -> dict[Target, list[int]]:
        """Layer ``index``'s memories by target."""
        return {target: self.memory[selector(target, index)]
                for target in self.geometry.layers[index].memories()}

    def network(self) -> Network:
        """The golden network holding the memories' weights, thresholds and biases."""
        if self._net is None:
            params = [layer_values(self.geometry, index, self.layer_memories(index))
                      for index in range(len(self.geometry.layers))]
            weights, theta, bias = (list(p) for p in zip(*params, strict=True))
            self._net = Network(self.config.network, weights=weights, theta=theta, bias=bias)
            # a membrane readout needs the literal loop, which records the membranes
            self._net.event_driven = membrane_mode(self.config.classify) is None
        return self._net

    def run(self, data: bytes, key: int, learn: bool) -> bytes:
        """Run one sample (its pixel or raster bytes): the RESULT payload."""
        g, core = self.geometry, self.config.core
        self.samples += 1
        if not self.compute:
            zeros = np.zeros(g.n_neurons, np.int64)
            return result_payload(g, 0, 0, 0, self.samples, zeros,
                                  zeros if g.membrane_bytes else None)
        if g.direct:
            rows = np.frombuffer(data, np.uint8).reshape(g.timesteps, g.raster_bytes)
            sample = np.unpackbits(rows, axis=1, bitorder="little")[:, :g.n_inputs]
        else:
            sample = np.array([int.from_bytes(data[i:i + g.pixel_bytes], "little")
                               for i in range(0, len(data), g.pixel_bytes)], np.int64)
        net = self.network()
        res = net.run_sample(sample, key=key, learn=learn, record=True)
        if learn and len(net.layers) == 1 and core.stdp.learn:
            layer = net.layers[0]
            for target, words in layer_words(g, 0, layer.weights, layer.theta,
                                             layer.bias).items():
                self.memory[selector(target)] = words
        votes = np.array(self.memory[selector(Target.VOTES)], np.int64).reshape(
            g.n_classes, g.n_neurons)
        pixels = sample if core.encoder.kind == "current" else None
        membrane = membrane_mode(self.config.classify)
        if len(net.layers) == 1:
            cycles = sample_cycles(core, res.input_raster, res.raster, learn, pixels,
                                   membrane).total
        else:
            layers = net.layers
            _, rasters = layer_rasters(net.network, [x.weights for x in layers],
                                       [x.theta for x in layers], [x.bias for x in layers],
                                       sample, key)
            cycles = network_sample_cycles(net.network.cores, res.input_raster, rasters,
                                           pixels, membrane).total
        self.last_cycles, self.busy_cycles = cycles, self.busy_cycles + cycles
        counts = np.asarray(res.counts, np.int64)
        membranes = {"max": res.v_max, "final": res.v_final, None: None}[membrane]
        return result_payload(g, board_class(self.config, res, votes), int(counts.sum()),
                              cycles, self.samples, counts, membranes)


class PtyBoard:
    """Serves ``board`` on the master side of a new pseudo-terminal (raw), in a thread.

    :attr:`path` is the port to open (``/dev/pts/N``).  Replies are written ``chunk`` bytes
    at a time (0: whole) with ``gap`` seconds between chunks, after ``delay`` seconds;
    ``line_rate`` paces both ways at ``board.baud`` (10 bits a byte), as a UART would.  An
    exception in the board is kept in :attr:`error` and raised again by :meth:`stop`.
    """

    def __init__(self, board: FakeBoard, chunk: int = 0, gap: float = 0.0, delay: float = 0.0,
                 line_rate: bool = False) -> None:
        self.board = board
        self.chunk, self.gap, self.delay = chunk, gap, delay
        self.byte_s = 10 / board.config.board.baud if line_rate else 0.0
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"fakeboard {self.path}",
                                        daemon=True)

    def __enter__(self) -> PtyBoard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the thread, close the terminal; raise what the board raised, if anything."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
            if self._thread.is_alive():      # keep its terminal: never hand the fd on
                raise RuntimeError(f"the fake board on {self.path} did not stop")
        os.close(self.master)
        os.close(self.slave)
        if self.error is not None:
            raise self.error

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                if not select.select([self.master], [], [], 0.05)[0]:
                    continue
                data = os.read(self.master, 65536)
                arrived = time.monotonic()
                for reply in self.board.replies(data):
                    if self._stop.is_set():
                        break
                    # a UART delivers the request's last byte len(data) byte times later
                    self._pause(arrived + len(data) * self.byte_s + self.delay)
                    self._send(reply)
        except BaseException as exc:    # kept for the test or the caller to see
            self.error = exc

    def _pause(self, until: float) -> None:
        while not self._stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    def _send(self, data: bytes) -> None:
        step = self.chunk or len(data) or 1
        for i in range(0, len(data), step):
            piece = data[i:i + step]
            start = time.monotonic()
            while piece and not self._stop.is_set():
                if select.select([], [self.master], [], 0.05)[1]:
                    piece = piece[os.write(self.master, piece):]
            self._pause(start + len(data[i:i + step]) * self.byte_s
                        + (self.gap if i + step < len(data) else 0.0))


def measure_throughput(config: Config, samples: int = 50, line_rate: bool = False,
                       seed: int = 0) -> dict[str, Any]:
    """Bytes per second the host driver moves through a serial port to a fake board that
    answers at once (``compute`` off), for IDENTIFY, a load of every memory and
    ``samples`` samples, against the line rate ``board.baud / 10`` bytes per second.
    ``line_rate`` paces the fake board at the line rate (the driver's own overhead then
    shows as the shortfall from 100 %)."""
    from .host import BoardLink, SerialTransport

    core, g = config.core, Geometry.of(config)
    rng = np.random.default_rng(seed)
    net = Network(config.network)
    votes = board_votes(config, rng.random((config.classify.n_classes, g.n_neurons)))
    shape = (samples, g.timesteps, g.n_inputs) if g.direct else (samples, g.n_inputs)
    high = 2 if g.direct else 1 << core.encoder.pixel_bits
    inputs = rng.integers(0, high, size=shape)
    with PtyBoard(FakeBoard(config, compute=False), line_rate=line_rate) as pty:
        transport = SerialTransport(pty.path, config.board.baud)
        try:
            link = BoardLink(transport, config)
            start = time.perf_counter()
            link.check_identity()
            link.load([layer.weights for layer in net.layers],
                      [layer.theta for layer in net.layers], votes)
            for i in range(samples):
                link.run_sample(inputs[i], key=i)
            seconds = time.perf_counter() - start
        finally:
            transport.close()
    line = config.board.baud / 10
    return {"config": config.source, "baud": config.board.baud, "samples": samples,
            "line_rate": line_rate, "bytes": link.line_bytes, "seconds": seconds,
            "bytes_per_s": link.line_bytes / seconds, "line_bytes_per_s": line,
            "percent_of_line": 100 * link.line_bytes / seconds / line}
