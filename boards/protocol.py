"""The host link's framed protocol: the one definition the gateware and the host share.

Every frame, both ways, is ``sync | header | payload | crc`` (``docs/protocol.md``):

- request: ``0xA5, command, length (2 bytes)``, ``length`` payload bytes, CRC (2 bytes);
- reply: ``0x5A, command, status, length (2 bytes)``, ``length`` payload bytes, CRC.

Multi-byte fields are little-endian.  The CRC is CRC-16/IBM-3740 (``CCITT-FALSE``) over
everything after the sync byte, sent low byte first.  Every request gets exactly one reply;
a request whose bytes stop for :data:`TIMEOUT_BYTES` byte times is answered with
``Status.TIMEOUT``.  Bytes outside a frame (line noise) are skipped until the next sync.

:class:`Geometry` derives every size the link uses from a :class:`~plasticore.config.Config`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

from amaranth.lib.crc import Algorithm, catalog

from .. import __version__
from ..config import Config, ConfigError

__all__ = ["SYNC_REQUEST", "SYNC_REPLY", "PROTOCOL_VERSION", "MAGIC", "TIMEOUT_BYTES",
           "CHUNK_BYTES", "Command", "Status", "Target", "CRC", "crc16", "Geometry",
           "request", "reply_frame", "REPLY_OVERHEAD", "RequestParser", "Reply", "ReplyParser",
           "command_name", "identify_payload", "Identity", "StatusReport", "Result"]

SYNC_REQUEST = 0xA5
SYNC_REPLY = 0x5A
PROTOCOL_VERSION = 1
MAGIC = b"PLCR"
#: A frame whose next byte does not come within this many byte times is abandoned.
TIMEOUT_BYTES = 256
#: Most memory-word bytes one WRITE_MEMORY or READ_MEMORY frame carries.
CHUNK_BYTES = 512

#: The frame check: CRC-16/IBM-3740 over bytes (``amaranth.lib.crc``; the gateware uses the
#: same parameters through ``CRC.create()``).
ALGORITHM = catalog.CRC16_IBM_3740
CRC = ALGORITHM(data_width=8)


def _crc_table() -> tuple[int, ...]:
    """The CRC of every single byte from a zero register (``CRC.compute`` with no initial
    value): the byte-at-a-time table of the (unreflected) algorithm."""
    assert not ALGORITHM.reflect_input and not ALGORITHM.reflect_output
    zero = Algorithm(crc_width=16, polynomial=ALGORITHM.polynomial, initial_crc=0,
                     reflect_input=False, reflect_output=False, xor_output=0)(data_width=8)
    return tuple(int(zero.compute([byte])) for byte in range(256))


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """:data:`CRC` of ``data``, a byte at a time from a table (``CRC.compute`` takes a bit
    at a time: 80 µs a frame, the host's largest cost per exchange at 3 Mbaud)."""
    crc = int(ALGORITHM.initial_crc)
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc ^ int(ALGORITHM.xor_output)


class Command(enum.IntEnum):
    """Request commands."""

    IDENTIFY = 0x01       #: -> Identity
    STATUS = 0x02         #: -> StatusReport
    WRITE_MEMORY = 0x03   #: target (1), address (2), words: store them (between samples)
    READ_MEMORY = 0x04    #: target (1), address (2), count (2) -> words
    RUN_SAMPLE = 0x05     #: learn (1), key (4), pixels or raster: start a sample
    RESULT = 0x06         #: -> Result of the last sample


class Status(enum.IntEnum):
    """Reply status; anything but OK carries no payload and changed nothing."""

    OK = 0x00
    BAD_CRC = 0x01        #: the frame check failed
    UNKNOWN_COMMAND = 0x02
    BAD_LENGTH = 0x03     #: payload length wrong for the command (or over the buffer)
    BAD_ADDRESS = 0x04    #: unknown target, or words beyond the memory's end
    BUSY = 0x05           #: a sample is running; ask again when STATUS says idle
    NO_RESULT = 0x06      #: RESULT before any sample ran
    TIMEOUT = 0x07        #: the frame stopped arriving part-way


class Target(enum.IntEnum):
    """Memories WRITE_MEMORY and READ_MEMORY reach."""

    WEIGHTS = 0    #: word ``j * W + k``: weights of input ``j`` to neurons ``k*P .. k*P+P-1``
    THETA = 1      #: word ``k``: adaptive thresholds of neurons ``k*P .. k*P+P-1``
    VOTES = 2      #: word ``c * n_neurons + i``: the readout vote of neuron ``i`` for class c


def _bytes(bits: int) -> int:
    return (bits + 7) // 8


@dataclass(frozen=True)
class Geometry:
    """Every size of the link for one configuration."""

    n_inputs: int
    n_neurons: int
    n_pe: int
    timesteps: int
    direct: bool
    pixel_bytes: int
    raster_bytes: int          #: bytes of one timestep's input spikes (direct input)
    word_bits: tuple[int, int, int]       #: per Target
    word_bytes: tuple[int, int, int]      #: per Target
    depth: tuple[int, int, int]           #: words per Target
    count_bits: int
    count_bytes: int
    n_classes: int
    vote_bits: int
    score_bits: int
    baud_divisor: int          #: clock cycles per UART bit
    request_bytes: int         #: largest request payload (the receive buffer)
    reply_bytes: int           #: largest reply payload (the transmit buffer)

    @classmethod
    def of(cls, config: Config) -> Geometry:
        core = config.core
        # the core runs them (its access port has a bias target); the link has no bias
        # target, and the host's and the fake board's golden checks build an STDP network
        for unsupported, field in ((core.widths.weight_signed, "weight_signed = true"),
                                   (core.widths.bias > 0, f"bias = {core.widths.bias}")):
            if unsupported:
                raise ConfigError(f"layers[0].widths.{field}: the board does not run networks "
                                  "trained elsewhere yet (no bias target on the host link)")
        words = core.n_neurons // core.n_pe
        direct = core.encoder.kind == "direct"
        word_bits = (core.n_pe * core.widths.weight, core.n_pe * core.widths.theta,
                     config.classify.vote_bits)
        word_bytes = tuple(_bytes(b) for b in word_bits)
        for target, size in zip(Target, word_bytes, strict=True):
            if size > CHUNK_BYTES:
                raise ConfigError(
                    f"n_pe = {core.n_pe}: a {target.name.lower()} word of {size} bytes does not "
                    f"fit one host-link frame ({CHUNK_BYTES} bytes); use fewer PE lanes or "
                    "narrower words for a board build")
        depth = (core.n_inputs * words, words, config.classify.n_classes * core.n_neurons)
        pixel_bytes = _bytes(core.encoder.pixel_bits)
        raster_bytes = _bytes(core.n_inputs)
        sample = (core.timesteps * raster_bytes if direct else core.n_inputs * pixel_bytes)
        count_bits = core.derived.count_bits
        score_bits = (count_bits + config.classify.vote_bits
                      + max(1, (core.n_neurons - 1).bit_length()))
        result = 1 + 4 + 4 + 4 + core.n_neurons * _bytes(count_bits)
        return cls(
            n_inputs=core.n_inputs, n_neurons=core.n_neurons, n_pe=core.n_pe,
            timesteps=core.timesteps, direct=direct, pixel_bytes=pixel_bytes,
            raster_bytes=raster_bytes, word_bits=word_bits,
            word_bytes=word_bytes, depth=depth,  # type: ignore[arg-type]
            count_bits=count_bits, count_bytes=_bytes(count_bits),
            n_classes=config.classify.n_classes, vote_bits=config.classify.vote_bits,
            score_bits=score_bits,
            baud_divisor=round(config.board.clock_hz / config.board.baud),
            request_bytes=max(5 + sample, 3 + CHUNK_BYTES),
            reply_bytes=max(result, CHUNK_BYTES, len(identify_payload(config)),
                            StatusReport.SIZE),
        )

    @property
    def sample_bytes(self) -> int:
        """Pixel or raster bytes of one RUN_SAMPLE (after its 5 header bytes)."""
        return (self.timesteps * self.raster_bytes if self.direct
                else self.n_inputs * self.pixel_bytes)

    def chunk_words(self, target: Target) -> int:
        """Most words of ``target`` one WRITE_MEMORY or READ_MEMORY frame carries."""
        return CHUNK_BYTES // self.word_bytes[target]

    @property
    def result_bytes(self) -> int:
        return 13 + self.n_neurons * self.count_bytes


# -- frames -----------------------------------------------------------------------------


def request(command: int, payload: bytes = b"") -> bytes:
    """The bytes of one request frame."""
    body = struct.pack("<BH", command, len(payload)) + payload
    return bytes([SYNC_REQUEST]) + body + struct.pack("<H", crc16(body))


def reply_frame(command: int, status: int, payload: bytes = b"") -> bytes:
    """The bytes of one reply frame (what the board sends; the gateware builds the same in
    ``boards/link.py``, and the fake board and the tests use this)."""
    body = struct.pack("<BBH", command, status, len(payload)) + payload
    return bytes([SYNC_REPLY]) + body + struct.pack("<H", crc16(body))


#: Bytes a reply frame adds to its payload: sync, command, status, length (2), CRC (2).
REPLY_OVERHEAD = len(reply_frame(0, 0))


class RequestParser:
    """Request frames out of received bytes, as the board's receiver takes them: bytes
    before a sync are skipped; ``feed`` returns ``(command, payload, status)`` per frame,
    ``status`` ``BAD_CRC`` or ``BAD_LENGTH`` (over ``max_payload``) when it failed, else
    ``None``."""

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes, Status | None]]:
        self._buffer += data
        out: list[tuple[int, bytes, Status | None]] = []
        while True:
            start = self._buffer.find(SYNC_REQUEST)
            if start < 0:
                self._buffer.clear()
                return out
            del self._buffer[:start]
            if len(self._buffer) < 4:
                return out
            command, length = struct.unpack_from("<BH", self._buffer, 1)
            if length > self.max_payload:
                del self._buffer[:4]
                out.append((command, b"", Status.BAD_LENGTH))
                continue
            end = 4 + length + 2
            if len(self._buffer) < end:
                return out
            body = bytes(self._buffer[1:4 + length])
            (crc,) = struct.unpack_from("<H", self._buffer, 4 + length)
            del self._buffer[:end]
            out.append((command, body[3:], None if crc == crc16(body) else Status.BAD_CRC))


@dataclass(frozen=True)
class Reply:
    command: int
    status: Status
    payload: bytes


class ReplyParser:
    """Turns received bytes into :class:`Reply` frames, skipping bytes outside frames.

    A sync byte whose header announces more than ``max_payload`` bytes is not taken for a
    frame start (line noise that happens to hold a sync byte): the parser skips it and looks
    for the next.  ``feed`` returns the replies completed by the new bytes; a frame that
    fails its CRC, or passes it with an unknown status, raises :class:`ValueError` naming
    what arrived.  :attr:`skipped` counts the bytes dropped outside frames.
    """

    def __init__(self, max_payload: int = 0xFFFF) -> None:
        self._buffer = bytearray()
        self.max_payload = max_payload
        self.skipped = 0

    def feed(self, data: bytes) -> list[Reply]:
        self._buffer += data
        replies: list[Reply] = []
        while True:
            start = self._buffer.find(SYNC_REPLY)
            if start < 0:
                self.skipped += len(self._buffer)
                self._buffer.clear()
                return replies
            self.skipped += start
            del self._buffer[:start]
            if len(self._buffer) < 5:
                return replies
            command, status, length = struct.unpack_from("<BBH", self._buffer, 1)
            if length > self.max_payload:
                self.skipped += 1          # not a frame: resynchronize after this byte
                del self._buffer[:1]
                continue
            end = 5 + length + 2
            if len(self._buffer) < end:
                return replies
            body = bytes(self._buffer[1:5 + length])
            (crc,) = struct.unpack_from("<H", self._buffer, 5 + length)
            del self._buffer[:end]
            if crc != crc16(body):
                raise ValueError(f"the reply to {command_name(command)} failed its CRC "
                                 f"({length} payload bytes)")
            try:
                code = Status(status)
            except ValueError:
                raise ValueError(f"the reply to {command_name(command)} has unknown status "
                                 f"{status:#04x}") from None
            replies.append(Reply(command, code, body[4:]))

    @property
    def pending(self) -> int:
        """Bytes held of an incomplete frame."""
        return len(self._buffer)


def command_name(command: int) -> str:
    """``"STATUS"`` for a known command, else ``"command 0x7e"``."""
    try:
        return Command(command).name
    except ValueError:
        return f"command {command:#04x}"


# -- payloads ---------------------------------------------------------------------------


def identify_payload(config: Config) -> bytes:
    """What IDENTIFY answers (a ROM in the gateware): see :class:`Identity`."""
    core = config.core
    version = [int(x) for x in __version__.split(".")[:3]]
    return (MAGIC + bytes([PROTOCOL_VERSION, *version]) + bytes.fromhex(core.digest())
            + struct.pack("<HHHBBBBB", core.n_inputs, core.n_neurons, core.timesteps,
                          core.n_pe, core.widths.weight, core.widths.theta,
                          config.classify.n_classes, config.classify.vote_bits)
            + bytes([1 if core.encoder.kind == "direct" else 0]))


@dataclass(frozen=True)
class Identity:
    protocol: int
    version: str
    digest: str
    n_inputs: int
    n_neurons: int
    timesteps: int
    n_pe: int
    weight_bits: int
    theta_bits: int
    n_classes: int
    vote_bits: int
    direct: bool

    #: Payload bytes of an identity (protocol version 1).
    SIZE = 28

    @classmethod
    def parse(cls, payload: bytes) -> Identity:
        """Decode an IDENTIFY payload; :class:`ValueError` names what is wrong with it."""
        n = len(payload)
        if n >= len(MAGIC) and payload[:4] != MAGIC:
            raise ValueError(f"the IDENTIFY reply is not from a plasticore bitstream: it "
                             f"starts {bytes(payload[:4])!r}, not {MAGIC!r}")
        if n <= len(MAGIC):
            raise ValueError(f"the IDENTIFY reply has {n} payload bytes, expected {cls.SIZE} "
                             f"(starting {MAGIC!r} and the protocol version)")
        if payload[4] != PROTOCOL_VERSION:
            raise ValueError(f"the board speaks host-link protocol {payload[4]}, this host "
                             f"protocol {PROTOCOL_VERSION}: use the plasticore version that "
                             "built the bitstream, or rebuild it")
        if n != cls.SIZE:
            raise ValueError(f"the IDENTIFY reply has {n} payload bytes, expected {cls.SIZE}")
        n_inputs, n_neurons, timesteps, n_pe, weight_bits, theta_bits, n_classes, \
            vote_bits = struct.unpack_from("<HHHBBBBB", payload, 16)
        return cls(payload[4], ".".join(str(b) for b in payload[5:8]), payload[8:16].hex(),
                   n_inputs, n_neurons, timesteps, n_pe, weight_bits, theta_bits, n_classes,
                   vote_bits, direct=bool(payload[27]))


@dataclass(frozen=True)
class StatusReport:
    """STATUS payload: ``flags (1), last error (1), samples (4), last sample cycles (4),
    busy cycles (8), good frames (4), bad frames (4)``; flags bit 0 busy, 1 learning,
    2 error (the last reply was an error), 3 result ready."""

    SIZE = 26
    FORMAT = "<BBIIQII"

    busy: bool
    learning: bool
    error: bool
    result_ready: bool
    last_error: int
    samples: int
    last_cycles: int
    busy_cycles: int
    good_frames: int
    bad_frames: int

    @classmethod
    def parse(cls, payload: bytes) -> StatusReport:
        """Decode a STATUS payload; :class:`ValueError` if it is not :attr:`SIZE` bytes."""
        if len(payload) != cls.SIZE:
            raise ValueError(f"the STATUS reply has {len(payload)} payload bytes, expected "
                             f"{cls.SIZE}")
        flags, last_error, *rest = struct.unpack(cls.FORMAT, payload)
        return cls(bool(flags & 1), bool(flags & 2), bool(flags & 4), bool(flags & 8),
                   last_error, *rest)


@dataclass(frozen=True)
class Result:
    """RESULT payload: ``class (1), spikes (4), cycles (4), sample number (4)``, then every
    neuron's count (``count_bytes`` each)."""

    predicted: int
    spikes: int
    cycles: int
    sample: int
    counts: Any

    @classmethod
    def parse(cls, payload: bytes, geometry: Geometry) -> Result:
        import numpy as np

        if len(payload) != geometry.result_bytes:
            raise ValueError(f"the RESULT reply has {len(payload)} payload bytes, expected "
                             f"{geometry.result_bytes}")
        predicted, spikes, cycles, sample = struct.unpack_from("<BIII", payload)
        raw = np.frombuffer(payload[13:], dtype=np.uint8).reshape(geometry.n_neurons,
                                                                 geometry.count_bytes)
        counts = (raw.astype(np.int64) << (8 * np.arange(geometry.count_bytes))).sum(axis=1)
        return cls(predicted, spikes, cycles, sample, counts)
