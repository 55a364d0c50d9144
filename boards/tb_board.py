"""cocotb testbench of the board design below the pins (``boards.link.LinkedCore``), in the
harness of ``board_sim`` (its clock and the far end of its UART line, inside the simulator).

The host driver of real boards (``boards/host.py``: ``BoardLink``, ``run_test_set``) runs
unchanged in a bridge thread (``cocotb.bridge``); its transport (:class:`SimTransport`)
turns reads and writes into UART bits on the ``rx`` and ``tx`` pins.  So one driver, one
protocol, checked end to end without hardware.  Two tests, chosen by the runner:

- ``board_test_set``: load a trained network, classify samples through the link, compare
  every count and class with the golden model (the report says how many matched);
- ``board_fuzz``: random and malformed frames; every frame gets its reply (or, for line
  noise, the link still answers afterwards), and the weights, thresholds and votes are
  unchanged at the end.

Environment: ``PLASTICORE_BOARD_SESSION`` (an ``.npz`` written by :func:`write_session`),
``PLASTICORE_BOARD_REPORT`` (JSON written at the end), ``PLASTICORE_BOARD_PROGRESS``;
``PLASTICORE_CORRUPT=membrane`` (a check of the host's comparison, which must then fail)
adds 1 to output neuron 0's membrane in every result the host receives.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import struct
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.task import bridge, resume
from cocotb.triggers import First, Timer

from ..config import Config
from .board_sim import CHUNK_BYTES, RECEIVED_NAME
from .host import BoardLink, LinkError, RunReport, Transport, run_test_set
from .protocol import (
    SYNC_REQUEST,
    Command,
    Geometry,
    Reply,
    ReplyParser,
    Result,
    Status,
    Target,
    board_votes,
    per_layer,
    request,
)

__all__ = ["TOPLEVEL", "DIVISOR", "write_session", "SimTransport"]

TOPLEVEL = "linked_core"
"""The board design's module; the simulator's top is ``board_sim.HARNESS`` around it."""
#: Clock cycles per UART bit in simulation (a board runs at its config's baud rate).
DIVISOR = 8
#: The link's receive timeout in simulation, in byte times (a board: TIMEOUT_BYTES).
TIMEOUT_BYTES = 32
PERIOD_NS = 10
ENV_SESSION = "PLASTICORE_BOARD_SESSION"
ENV_REPORT = "PLASTICORE_BOARD_REPORT"
ENV_PROGRESS = "PLASTICORE_BOARD_PROGRESS"
ENV_CORRUPT = "PLASTICORE_CORRUPT"


def write_session(path: Path, config: Config, weights: Any, theta: Any, rates: Any,
                  images: Any, labels: Any, fuzz_frames: int = 0, seed: int = 0,
                  poll_s: float = 0.0, bias: Any = None) -> Path:
    """The testbench's input: the network (every layer's weights, thresholds and biases:
    lists per layer, or one layer's arrays), its readout's class rates (``None`` for a
    readout that needs none), the samples; for ``board_fuzz`` the number of frames and the
    seed; ``poll_s`` the simulated seconds between result polls."""
    n = len(config.network.layers)
    layers: dict[str, Any] = {}
    for index, (w, th, b) in enumerate(zip(per_layer(weights, n), per_layer(theta, n),
                                           per_layer(bias, n), strict=True)):
        layers[f"weights_{index}"], layers[f"theta_{index}"] = w, th
        if b is not None:
            layers[f"bias_{index}"] = b
    np.savez(path, config=np.array(config.to_toml()), **layers,
             rates=np.zeros((0, 0)) if rates is None else rates, images=images, labels=labels,
             fuzz_frames=fuzz_frames, seed=seed, poll_s=poll_s)
    return path


def _read_session(path: str) -> dict[str, Any]:
    import tomllib

    with np.load(path) as f:
        out = {k: f[k] for k in f.files}
    out["config"] = config = Config.from_dict(tomllib.loads(str(out["config"])), "session")
    n = len(config.network.layers)
    for name in ("weights", "theta", "bias"):
        out[name] = [out.get(f"{name}_{index}") for index in range(n)]
    if not out["rates"].size:
        out["rates"] = None
    return out


class _Line:
    """The far end of the UART line, in the harness (``board_sim.harness_verilog``): bytes
    to send go to it a chunk at a time; received bytes come from its file, a burst at a
    time (the simulator runs free in between)."""

    def __init__(self, dut: Any) -> None:
        self.dut = dut
        self.request = 0
        self.received = bytearray()
        self._file: Any = None
        self._partial = ""

    async def send(self, data: bytes) -> None:
        for start in range(0, len(data), CHUNK_BYTES):
            chunk = data[start:start + CHUNK_BYTES]
            self.dut.send_data.value = int.from_bytes(chunk, "little")
            self.dut.send_len.value = len(chunk)
            self.request ^= 1
            self.dut.send_req.value = self.request
            await self.dut.send_ack.value_change

    def collect(self) -> None:
        """Take the bytes the harness has written since the last call."""
        if self._file is None:
            self._file = open(RECEIVED_NAME)     # the harness created it at time 0
        lines = (self._partial + self._file.read()).split("\n")
        self._partial = lines.pop()
        self.received += bytes(int(line, 16) for line in lines if line)

    async def read(self, n: int, timeout_ns: int) -> bytes:
        self.collect()
        if not self.received:
            await First(self.dut.recv_bursts.value_change, Timer(timeout_ns, unit="ns"))
            self.collect()
        out = bytes(self.received[:n])
        del self.received[:n]
        return out

    def discard(self) -> None:
        self.collect()
        self.received.clear()


class SimTransport(Transport):
    """:class:`~plasticore.boards.host.Transport` over the simulated UART line; timeouts
    are simulated time (seconds at the board's clock)."""

    def __init__(self, line: _Line) -> None:
        self.line = line

    def write(self, data: bytes) -> None:
        resume(self.line.send)(data)

    def read(self, n: int, timeout: float) -> bytes:
        return resume(self.line.read)(n, max(int(timeout * 1e9), PERIOD_NS))

    def wait(self, seconds: float) -> None:
        resume(self._wait)(seconds)

    def discard(self) -> None:
        self.line.discard()

    @staticmethod
    async def _wait(seconds: float) -> None:
        await Timer(max(int(seconds * 1e9), PERIOD_NS), unit="ns")


async def _start(dut: Any) -> tuple[_Line, dict[str, Any]]:
    """The session and the line; the harness clocks and resets the board itself."""
    session = _read_session(os.environ[ENV_SESSION])
    dut.send_req.value = 0
    dut.send_len.value = 0
    await Timer(4 * PERIOD_NS, unit="ns")          # past the harness's reset
    return _Line(dut), session


def _report(data: dict[str, Any]) -> None:
    path = os.environ.get(ENV_REPORT)
    if path:
        Path(path).write_text(json.dumps(data))


def _progress(done: int, total: int) -> None:
    path = os.environ.get(ENV_PROGRESS)
    if path:
        Path(path).write_text(f"{done} {total}\n")


# The reply timeout in simulated seconds: longer than any sample (the driver polls).
_TIMEOUT_S = 0.02


class _CorruptMembrane(BoardLink):
    """The host driver receiving output neuron 0's membrane one higher than the board sent
    (``PLASTICORE_CORRUPT=membrane``)."""

    def wait_result(self) -> Result:
        result = super().wait_result()
        if result.membranes is None:
            raise AssertionError(f"{ENV_CORRUPT}=membrane: needs a membrane readout")
        membranes = np.array(result.membranes)
        membranes[0] += 1
        return dataclasses.replace(result, membranes=membranes)


@cocotb.test()
async def board_test_set(dut: Any) -> None:
    """Classify the session's samples through the link; all must equal the golden model."""
    line, s = await _start(dut)
    # poll for the result as often as the session asks (board_sim: from the cycle model)
    kind = _CorruptMembrane if os.environ.get(ENV_CORRUPT) == "membrane" else BoardLink
    link = kind(SimTransport(line), s["config"], timeout=_TIMEOUT_S, poll=float(s["poll_s"]))
    report: RunReport = await bridge(run_test_set)(
        link, s["weights"], s["theta"], s["rates"], s["images"], s["labels"],
        progress=_progress, stop_at_mismatch=True, bias=s["bias"])
    _report(report.to_dict())
    assert report.matched, report.first_mismatch
    dut._log.info("%d samples: counts%s and classes all equal to the golden model; "
                  "%d correct", report.samples,
                  "" if report.membranes is None else ", membranes", report.correct)


# -- fuzzing ---------------------------------------------------------------------------------


def _fuzz_frame(rng: random.Random, g: Geometry) -> tuple[str, bytes, Status | None]:
    """One random frame: its kind, its bytes, and the status it must get (None: any, or
    none at all for line noise)."""
    kind = rng.choice(["status", "identify", "read", "bad_crc", "unknown", "bad_length",
                       "bad_address", "sample_length", "truncated", "noise", "oversize",
                       "write_length", "bad_target"])
    if kind == "status":
        return kind, request(Command.STATUS), Status.OK
    if kind == "identify":
        return kind, request(Command.IDENTIFY), Status.OK
    if kind == "read":
        target = rng.choice(sorted(g.memories))
        n = rng.randint(1, min(8, g.memories[target].depth))
        return kind, request(Command.READ_MEMORY, struct.pack(
            "<BHH", target, rng.randrange(g.memories[target].depth - n + 1), n)), Status.OK
    if kind == "bad_crc":
        target = rng.choice(sorted(g.memories))
        body = bytes(rng.randrange(256) for _ in range(g.memories[target].bytes))
        flipped = bytearray(request(Command.WRITE_MEMORY,
                                    struct.pack("<BH", target, 0) + body))
        # flip a bit of the command, the payload or the CRC (not the sync or the length:
        # those change where the frame ends, which "truncated" and "oversize" cover)
        flipped[rng.choice([1, *range(4, len(flipped))])] ^= 1 << rng.randrange(8)
        return kind, bytes(flipped), Status.BAD_CRC
    if kind == "unknown":
        return kind, request(rng.choice([0x00, 0x07, 0x42, 0xFF])), Status.UNKNOWN_COMMAND
    if kind == "bad_length":
        return kind, request(rng.choice([Command.IDENTIFY, Command.STATUS, Command.RESULT]),
                             b"\x00" * rng.randint(1, 4)), Status.BAD_LENGTH
    if kind == "bad_address":
        target = rng.choice(sorted(g.memories))
        memory = g.memories[target]
        return kind, request(Command.WRITE_MEMORY, struct.pack(
            "<BH", target, memory.depth) + bytes(memory.bytes)), Status.BAD_ADDRESS
    if kind == "bad_target":
        # a target byte that names no memory: an unknown target, a layer past the last
        target = rng.choice([t for t in range(256) if t not in g.memories])
        return kind, request(Command.READ_MEMORY, struct.pack("<BHH", target, 0, 1)), \
            Status.BAD_ADDRESS
    if kind == "write_length":
        target = rng.choice([t for t, m in sorted(g.memories.items()) if m.bytes > 1])
        return kind, request(Command.WRITE_MEMORY, struct.pack("<BH", target, 0)
                             + bytes(g.memories[target].bytes - 1)), Status.BAD_LENGTH
    if kind == "sample_length":
        return kind, request(Command.RUN_SAMPLE, bytes(5 + g.sample_bytes + rng.choice(
            [-1, 1]))), Status.BAD_LENGTH
    if kind == "truncated":
        frame = request(Command.WRITE_MEMORY, struct.pack("<BH", Target.WEIGHTS, 0)
                        + bytes(g.memory(Target.WEIGHTS).bytes))
        return kind, frame[:rng.randrange(2, len(frame) - 1)], Status.TIMEOUT
    if kind == "oversize":
        return kind, bytes([SYNC_REQUEST, Command.WRITE_MEMORY, 0xFF, 0xFF, 1, 2, 3]), \
            Status.BAD_LENGTH
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    return kind, noise, None


@cocotb.test()
async def board_fuzz(dut: Any) -> None:
    """Random and malformed frames: every one answered as the protocol says, no hang, and
    the network's memories unchanged."""
    line, s = await _start(dut)
    config: Config = s["config"]
    g = Geometry.of(config)
    rng = random.Random(int(s["seed"]))
    frames = int(s["fuzz_frames"])
    link = BoardLink(SimTransport(line), config, timeout=_TIMEOUT_S)
    votes = board_votes(config, s["rates"])
    byte_s = 10 * DIVISOR * PERIOD_NS * 1e-9
    quiet_s = 2 * TIMEOUT_BYTES * byte_s      # longer than the link's receive timeout
    settle_s = 4 * byte_s

    def fuzz() -> dict[str, Any]:
        link.load(s["weights"], s["theta"], votes, s["bias"])
        kinds: dict[str, int] = {}
        parser = ReplyParser()
        for n in range(frames):
            kind, frame, expected = _fuzz_frame(rng, g)
            kinds[kind] = kinds.get(kind, 0) + 1
            link.transport.write(frame)
            # collect what the link says: the one reply expected, then a few byte times of
            # silence; after a frame that leaves the link waiting, its whole receive timeout
            replies: list[Reply] = []
            while True:
                wait = quiet_s if expected is None or not replies else settle_s
                chunk = link.transport.read(4096, wait)
                if not chunk:
                    break
                replies += parser.feed(chunk)
            if expected is not None:
                assert len(replies) == 1 and replies[0].status == expected, (
                    f"frame {n} ({kind}, {frame.hex()}): replies {replies}, expected "
                    f"{expected.name}")
            # whatever happened, the link answers the next request (RESULT: NO_RESULT)
            try:
                link.exchange(Command.RESULT)
            except LinkError as exc:
                raise AssertionError(f"after frame {n} ({kind}, {frame.hex()}): {exc}") \
                    from None
            _progress(n + 1, frames)
        w, th, b, v = link.read_state()
        for index in range(len(g.layers)):
            np.testing.assert_array_equal(w[index], s["weights"][index], "weights changed")
            np.testing.assert_array_equal(th[index], s["theta"][index], "thresholds changed")
            if b[index] is not None:
                want = s["bias"][index]
                np.testing.assert_array_equal(b[index], 0 if want is None else want,
                                              "biases changed")
        np.testing.assert_array_equal(v, votes, "votes changed")
        return kinds

    kinds = await bridge(fuzz)()
    _report({"frames": frames, "kinds": kinds, "unchanged": True})
    dut._log.info("%d fuzz frames %s: all answered, memories unchanged", frames, kinds)
