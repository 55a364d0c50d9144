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
import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

from amaranth.lib.crc import Algorithm, catalog

from .. import __version__
from ..config import SUPERVISED_READOUTS, Config, ConfigError, CoreConfig
from ..hdl.core.membrane import membrane_mode

__all__ = ["SYNC_REQUEST", "SYNC_REPLY", "PROTOCOL_VERSION", "MAGIC", "TIMEOUT_BYTES",
           "CHUNK_BYTES", "MAX_LAYERS", "RESULT_HEAD", "Command", "Status", "Target", "CRC",
           "crc16", "selector", "LayerGeometry", "MemoryGeometry", "Geometry", "network_json",
           "config_digest",
           "board_votes", "board_class", "per_layer", "layer_words", "layer_values",
           "request", "reply_frame", "REPLY_OVERHEAD", "RequestParser", "Reply", "ReplyParser",
           "command_name", "identify_payload", "Identity", "StatusReport", "Result",
           "result_payload"]

SYNC_REQUEST = 0xA5
SYNC_REPLY = 0x5A
PROTOCOL_VERSION = 2
MAGIC = b"PLCR"
#: A frame whose next byte does not come within this many byte times is abandoned.
TIMEOUT_BYTES = 256
#: Most memory-word bytes one WRITE_MEMORY or READ_MEMORY frame carries.
CHUNK_BYTES = 512
#: Most layers the link addresses: the layer is bits 2-7 of a memory frame's target byte.
MAX_LAYERS = 64
#: Bytes of a RESULT payload before the counts: class (1), spikes (4), cycles (4), sample (4).
RESULT_HEAD = 13

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
    """Memories WRITE_MEMORY and READ_MEMORY reach: bits 0-1 of the target byte (bits 2-7
    are the layer, :func:`selector`)."""

    WEIGHTS = 0    #: word ``j * W + k``: weights of input ``j`` to neurons ``k*P .. k*P+P-1``
    THETA = 1      #: word ``k``: adaptive thresholds of neurons ``k*P .. k*P+P-1``
    VOTES = 2      #: word ``c * n_neurons + i``: the readout vote of output neuron ``i`` for
    #: class ``c`` (layer 0 only)
    BIAS = 3       #: word ``k``: biases of neurons ``k*P .. k*P+P-1`` (layers with a bias)


def selector(target: Target | int, layer: int = 0) -> int:
    """The target byte of a memory frame: ``target`` in bits 0-1, ``layer`` in bits 2-7."""
    return int(target) | layer << 2


def _bytes(bits: int) -> int:
    return (bits + 7) // 8


@dataclass(frozen=True)
class LayerGeometry:
    """One layer as the board reports it (9 bytes of the identity, :attr:`FORMAT`)."""

    FORMAT: ClassVar[str] = "<HHBBBBB"
    SIZE: ClassVar[int] = 9

    n_inputs: int
    n_neurons: int
    n_pe: int
    weight_bits: int
    weight_signed: bool
    theta_bits: int
    bias_bits: int            #: 0: the layer has no bias

    @classmethod
    def of(cls, core: CoreConfig) -> LayerGeometry:
        w = core.widths
        return cls(core.n_inputs, core.n_neurons, core.n_pe, w.weight, w.weight_signed,
                   w.theta, w.bias)

    def pack(self) -> bytes:
        return struct.pack(self.FORMAT, self.n_inputs, self.n_neurons, self.n_pe,
                           self.weight_bits, int(self.weight_signed), self.theta_bits,
                           self.bias_bits)

    @classmethod
    def parse(cls, data: bytes) -> LayerGeometry:
        n_in, n, pe, wb, signed, tb, bb = struct.unpack(cls.FORMAT, data)
        return cls(n_in, n, pe, wb, bool(signed), tb, bb)

    def memories(self) -> dict[Target, MemoryGeometry]:
        """The layer's memories: word width (``n_pe`` lanes) and depth."""
        W = self.n_neurons // self.n_pe
        out = {Target.WEIGHTS: MemoryGeometry(self.n_pe * self.weight_bits,
                                              self.n_inputs * W, self.weight_bits,
                                              self.weight_signed),
               Target.THETA: MemoryGeometry(self.n_pe * self.theta_bits, W, self.theta_bits)}
        if self.bias_bits:
            out[Target.BIAS] = MemoryGeometry(self.n_pe * self.bias_bits, W, self.bias_bits,
                                              True)
        return out


@dataclass(frozen=True)
class MemoryGeometry:
    """One memory the link reaches: ``depth`` words of ``bits`` (``lane_bits`` a lane,
    two's complement when ``signed``), ``ceil(bits / 8)`` bytes each on the line."""

    bits: int
    depth: int
    lane_bits: int
    signed: bool = False

    @property
    def bytes(self) -> int:
        return _bytes(self.bits)

    @property
    def chunk_words(self) -> int:
        """Most words one WRITE_MEMORY or READ_MEMORY frame carries."""
        return CHUNK_BYTES // self.bytes


def network_json(config: Config) -> str:
    """The network's JSON: ``CoreConfig.to_json()`` of a network its core determines (one
    STDP layer, or one layer trained elsewhere), else the layered network's (sorted
    keys)."""
    if config.layered is None:
        return config.core.to_json()
    return json.dumps(config.network.to_dict(), sort_keys=True)


def config_digest(config: Config) -> str:
    """The configuration digest the identity carries: the first 16 hex digits of the
    SHA-256 of :func:`network_json` (``CoreConfig.digest()`` for one layer), followed for a
    membrane readout by a line naming it (the bitstream's readout hardware differs)."""
    text = network_json(config)
    if membrane_mode(config.classify) is not None:
        text += f"\nclassify.readout = {config.classify.readout}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def board_class(config: Config, result: Any, votes: Any) -> int:
    """The class the board reports for a sample whose golden result is ``result`` (a
    ``SampleResult``): for a membrane readout the output neuron with the highest membrane
    readout (``v_max`` or ``v_final``), ties to the lowest index, as the link's collector
    finds it; else the argmax of the vote scores of the counts
    (``golden.classify.predict_votes``, ``votes`` from :func:`board_votes`)."""
    import numpy as np

    from ..golden.classify import predict_votes

    mode = membrane_mode(config.classify)
    if mode is None:
        return int(predict_votes(np.asarray(result.counts), votes)[0])
    membranes = result.v_max if mode == "max" else result.v_final
    if membranes is None:
        raise ValueError("a membrane readout needs the golden network's literal loop "
                         "(Network.event_driven = False), which records the membranes")
    return int(np.argmax(membranes))


def board_votes(config: Config, rates: Any) -> Any:
    """The votes ``(n_classes, n_neurons)`` the board's readout takes: for a readout that
    labels neurons, ``golden.classify.vote_table`` of the class ``rates``; for ``count``
    (output neuron ``c`` is class ``c``) the identity, so the score of class ``c`` is output
    neuron ``c``'s count and the class the argmax of the counts, ties to the lowest, as
    ``golden.classify.Readout`` (``rates`` unused)."""
    import numpy as np

    from ..golden.classify import vote_table

    c = config.classify
    if c.readout in SUPERVISED_READOUTS:
        return np.eye(c.n_classes, config.network.cores[-1].n_neurons, dtype=np.int64)
    return vote_table(c.readout, rates, c.vote_bits)


def per_layer(value: Any, n_layers: int) -> list[Any]:
    """A per-layer parameter as a list of ``n_layers``: a list or tuple (one item per
    layer), ``None`` (``None`` for every layer), or one array (a one-layer network)."""
    if value is None:
        return [None] * n_layers
    items = list(value) if isinstance(value, list | tuple) else [value]
    if len(items) != n_layers:
        raise ValueError(f"{len(items)} layers of parameters for a network of {n_layers}")
    return items


def layer_words(geometry: Geometry, index: int, weights: Any, theta: Any,
                bias: Any = None) -> dict[Target, list[int]]:
    """Layer ``index``'s weights ``(n_inputs, n_neurons)``, thresholds and (when the layer
    has one) biases ``(n_neurons,)`` as the words of its memories (``n_pe`` lanes, lane 0
    at the LSB, signed values in two's complement); a missing bias is zeros."""
    import numpy as np

    from ..hdl.core.layouts import pack_words

    layer = geometry.layers[index]
    P = layer.n_pe
    words = {Target.WEIGHTS: pack_words(weights, P, layer.weight_bits),
             Target.THETA: pack_words(theta, P, layer.theta_bits)}
    if layer.bias_bits:
        words[Target.BIAS] = pack_words(np.zeros(layer.n_neurons, np.int64) if bias is None
                                        else bias, P, layer.bias_bits)
    return words


def layer_values(geometry: Geometry, index: int,
                 words: dict[Target, list[int]]) -> tuple[Any, Any, Any]:
    """Inverse of :func:`layer_words`: ``(weights, theta, bias)``, ``bias`` ``None`` for a
    layer without one."""
    from ..hdl.core.layouts import unpack_words

    layer = geometry.layers[index]
    P = layer.n_pe
    weights = unpack_words(words[Target.WEIGHTS], P, layer.weight_bits,
                           signed=layer.weight_signed).reshape(layer.n_inputs, layer.n_neurons)
    theta = unpack_words(words[Target.THETA], P, layer.theta_bits)
    bias = (unpack_words(words[Target.BIAS], P, layer.bias_bits, signed=True)
            if layer.bias_bits else None)
    return weights, theta, bias


@dataclass(frozen=True)
class Geometry:
    """Every size of the link for one configuration.

    ``n_inputs``, ``timesteps``, the input's sizes are the network's (layer 0's input);
    ``n_neurons``, the counts and the membranes are the output layer's (what RESULT
    carries); ``layers`` every layer's, ``memories`` every memory the link reaches by target
    byte (:func:`selector`).
    """

    n_inputs: int
    n_neurons: int
    timesteps: int
    direct: bool
    pixel_bytes: int
    raster_bytes: int          #: bytes of one timestep's input spikes (direct input)
    layers: tuple[LayerGeometry, ...]
    memories: dict[int, MemoryGeometry]   #: by target byte
    count_bits: int
    count_bytes: int
    membrane_bits: int         #: the output layer's membrane width; 0: a counts readout
    membrane_bytes: int        #: bytes of one membrane in RESULT (0: none sent)
    n_classes: int
    vote_bits: int
    score_bits: int
    baud_divisor: int          #: clock cycles per UART bit
    request_bytes: int         #: largest request payload (the receive buffer)
    reply_bytes: int           #: largest reply payload (the transmit buffer)

    @classmethod
    def of(cls, config: Config) -> Geometry:
        network = config.network
        cores = network.cores
        first, last = cores[0], cores[-1]
        readout = config.classify.readout
        if readout in SUPERVISED_READOUTS and last.n_neurons != config.classify.n_classes:
            raise ConfigError(f"classify.readout = {readout!r}: the board's class is output "
                              f"neuron c, so the last layer's n_neurons ({last.n_neurons}) "
                              f"must equal classify.n_classes ({config.classify.n_classes})")
        if len(cores) > MAX_LAYERS:
            raise ConfigError(f"layers: {len(cores)} layers; the host link addresses at most "
                              f"{MAX_LAYERS}")
        layers = tuple(LayerGeometry.of(core) for core in cores)
        memories = {selector(t, index): memory for index, layer in enumerate(layers)
                    for t, memory in layer.memories().items()}
        memories[selector(Target.VOTES)] = MemoryGeometry(
            config.classify.vote_bits, config.classify.n_classes * last.n_neurons,
            config.classify.vote_bits)
        for key, memory in memories.items():
            if memory.bytes > CHUNK_BYTES:
                name = Target(key & 3).name.lower()
                raise ConfigError(
                    f"n_pe = {layers[key >> 2].n_pe}: a {name} word of {memory.bytes} bytes "
                    f"does not fit one host-link frame ({CHUNK_BYTES} bytes); use fewer PE "
                    "lanes or narrower words for a board build")
        direct = first.encoder.kind == "direct"
        pixel_bytes = _bytes(first.encoder.pixel_bits)
        raster_bytes = _bytes(first.n_inputs)
        sample = (first.timesteps * raster_bytes if direct else first.n_inputs * pixel_bytes)
        count_bits = last.derived.count_bits
        score_bits = (count_bits + config.classify.vote_bits
                      + max(1, (last.n_neurons - 1).bit_length()))
        membrane_bits = (last.widths.membrane if membrane_mode(config.classify) is not None
                         else 0)
        result = RESULT_HEAD + last.n_neurons * (_bytes(count_bits) + _bytes(membrane_bits))
        return cls(
            n_inputs=first.n_inputs, n_neurons=last.n_neurons, timesteps=first.timesteps,
            direct=direct, pixel_bytes=pixel_bytes, raster_bytes=raster_bytes,
            layers=layers, memories=memories,
            count_bits=count_bits, count_bytes=_bytes(count_bits),
            membrane_bits=membrane_bits, membrane_bytes=_bytes(membrane_bits),
            n_classes=config.classify.n_classes, vote_bits=config.classify.vote_bits,
            score_bits=score_bits,
            baud_divisor=round(config.board.clock_hz / config.board.baud),
            request_bytes=max(5 + sample, 3 + CHUNK_BYTES),
            reply_bytes=max(result, CHUNK_BYTES, len(identify_payload(config)),
                            StatusReport.SIZE),
        )

    def memory(self, target: Target | int, layer: int = 0) -> MemoryGeometry:
        """The memory ``target`` of ``layer``; :class:`KeyError` when there is none."""
        return self.memories[selector(target, layer)]

    def chunk_words(self, target: Target | int, layer: int = 0) -> int:
        """Most words of ``target`` one WRITE_MEMORY or READ_MEMORY frame carries."""
        return self.memory(target, layer).chunk_words

    @property
    def sample_bytes(self) -> int:
        """Pixel or raster bytes of one RUN_SAMPLE (after its 5 header bytes)."""
        return (self.timesteps * self.raster_bytes if self.direct
                else self.n_inputs * self.pixel_bytes)

    @property
    def result_bytes(self) -> int:
        """Bytes of a RESULT payload: the head, every output neuron's count and, for a
        membrane readout, its membrane."""
        return RESULT_HEAD + self.n_neurons * (self.count_bytes + self.membrane_bytes)


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
    first = config.core
    layers = [LayerGeometry.of(core) for core in config.network.cores]
    version = [int(x) for x in __version__.split(".")[:3]]
    return (MAGIC + bytes([PROTOCOL_VERSION, *version]) + bytes.fromhex(config_digest(config))
            + struct.pack("<HHHBBBBB", first.n_inputs, layers[-1].n_neurons, first.timesteps,
                          first.n_pe, first.widths.weight, first.widths.theta,
                          config.classify.n_classes, config.classify.vote_bits)
            + bytes([1 if first.encoder.kind == "direct" else 0, len(layers)])
            + b"".join(layer.pack() for layer in layers))


@dataclass(frozen=True)
class Identity:
    """IDENTIFY payload: ``"PLCR"``, protocol, version (3), digest (8), then ``n_inputs``,
    the output layer's ``n_neurons``, ``timesteps`` (2 each), layer 0's ``n_pe``, weight
    and theta bits, ``n_classes``, vote bits, direct (1 each): :attr:`HEAD` bytes; then the
    layer count (1) and every layer's :class:`LayerGeometry`."""

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
    layers: tuple[LayerGeometry, ...] = ()

    #: Payload bytes before the layer table (protocol version 1's whole identity).
    HEAD: ClassVar[int] = 28

    @classmethod
    def size(cls, n_layers: int) -> int:
        """Payload bytes of the identity of a network of ``n_layers``."""
        return cls.HEAD + 1 + n_layers * LayerGeometry.SIZE

    @classmethod
    def parse(cls, payload: bytes) -> Identity:
        """Decode an IDENTIFY payload; :class:`ValueError` names what is wrong with it."""
        n = len(payload)
        if n >= len(MAGIC) and payload[:4] != MAGIC:
            raise ValueError(f"the IDENTIFY reply is not from a plasticore bitstream: it "
                             f"starts {bytes(payload[:4])!r}, not {MAGIC!r}")
        least = f"{cls.size(1)} or more ({cls.HEAD} + 1 + {LayerGeometry.SIZE} per layer)"
        if n <= len(MAGIC):
            raise ValueError(f"the IDENTIFY reply has {n} payload bytes, expected {least}, "
                             f"starting {MAGIC!r} and the protocol version")
        if payload[4] != PROTOCOL_VERSION:
            raise ValueError(f"the board speaks host-link protocol {payload[4]}, this host "
                             f"protocol {PROTOCOL_VERSION}: use the plasticore version that "
                             "built the bitstream, or rebuild it")
        if n < cls.size(1):
            raise ValueError(f"the IDENTIFY reply has {n} payload bytes, expected {least}")
        if payload[cls.HEAD] == 0 or n != cls.size(payload[cls.HEAD]):
            raise ValueError(f"the IDENTIFY reply has {n} payload bytes, expected "
                             f"{cls.size(payload[cls.HEAD])} for the {payload[cls.HEAD]} "
                             "layers it names")
        n_inputs, n_neurons, timesteps, n_pe, weight_bits, theta_bits, n_classes, \
            vote_bits = struct.unpack_from("<HHHBBBBB", payload, 16)
        layers = tuple(LayerGeometry.parse(payload[at:at + LayerGeometry.SIZE])
                       for at in range(cls.HEAD + 1, n, LayerGeometry.SIZE))
        return cls(payload[4], ".".join(str(b) for b in payload[5:8]), payload[8:16].hex(),
                   n_inputs, n_neurons, timesteps, n_pe, weight_bits, theta_bits, n_classes,
                   vote_bits, direct=bool(payload[27]), layers=layers)


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
    """RESULT payload: ``class (1), spikes (4), cycles (4), sample number (4)``
    (:data:`RESULT_HEAD` bytes), then every output neuron's count (``count_bytes`` each)
    and, for a membrane readout only, every output neuron's membrane readout (signed,
    ``membrane_bytes`` each, two's complement little-endian); ``membranes`` is ``None``
    for a counts readout."""

    predicted: int
    spikes: int
    cycles: int
    sample: int
    counts: Any
    membranes: Any = None

    @classmethod
    def parse(cls, payload: bytes, geometry: Geometry) -> Result:
        """Decode a RESULT payload; :class:`ValueError` naming the expected length."""
        g = geometry
        if len(payload) != g.result_bytes:
            raise ValueError(f"the RESULT reply has {len(payload)} payload bytes, expected "
                             f"{g.result_bytes}")
        predicted, spikes, cycles, sample = struct.unpack_from("<BIII", payload)
        counts = _fields(payload[RESULT_HEAD:RESULT_HEAD + g.n_neurons * g.count_bytes],
                         g.count_bytes, signed=False)
        membranes = (_fields(payload[RESULT_HEAD + g.n_neurons * g.count_bytes:],
                             g.membrane_bytes, signed=True) if g.membrane_bytes else None)
        return cls(predicted, spikes, cycles, sample, counts, membranes)


def _fields(data: bytes, size: int, signed: bool) -> Any:
    """``data`` as little-endian integers of ``size`` bytes each (an int64 array)."""
    import numpy as np

    return np.array([int.from_bytes(data[i:i + size], "little", signed=signed)
                     for i in range(0, len(data), size)], dtype=np.int64)


def result_payload(geometry: Geometry, predicted: int, spikes: int, cycles: int,
                   sample: int, counts: Any, membranes: Any = None) -> bytes:
    """The RESULT payload :meth:`Result.parse` reads (the fake board's; the gateware
    writes the same bytes): ``membranes`` only for a membrane readout."""
    g = geometry
    if (membranes is not None) != bool(g.membrane_bytes):
        raise ValueError("membranes go with a membrane readout, and only with one")
    out = struct.pack("<BIII", predicted, spikes, cycles, sample)
    out += b"".join(int(c).to_bytes(g.count_bytes, "little") for c in counts)
    if membranes is not None:
        out += b"".join(int(v).to_bytes(g.membrane_bytes, "little", signed=True)
                        for v in membranes)
    return out
