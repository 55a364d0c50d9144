"""Host driver of the UART link: talk to a board (or the board testbench) frame by frame.

:class:`BoardLink` speaks ``protocol.py`` over any :class:`Transport`: a serial port
(:class:`SerialTransport`, pyserial) on real hardware, or the cocotb testbench's UART model
in simulation (``boards/tb_board.py``), so the protocol is tested end to end without a board.
:func:`run_test_set` is ``plasticore board run``: load a trained network, classify samples
on the board, and hold every answer to the golden model.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..config import SUPERVISED_READOUTS, Config
from ..golden.classify import Readout
from ..golden.network import Network
from ..hdl.core.membrane import membrane_mode
from ..hdl.cycles import network_sample_cycles, sample_cycles
from .protocol import (
    REPLY_OVERHEAD,
    Command,
    Geometry,
    Identity,
    Reply,
    ReplyParser,
    Result,
    Status,
    StatusReport,
    Target,
    board_class,
    board_votes,
    command_name,
    config_digest,
    identify_payload,
    layer_values,
    layer_words,
    per_layer,
    request,
    selector,
)

__all__ = ["LinkError", "Transport", "SerialTransport", "BoardLink", "slowest_sample_s",
           "RunReport", "golden_network", "host_readout", "run_test_set"]

Array = Any


class LinkError(RuntimeError):
    """The board did not answer, answered an error, or is not the configured network."""


class Transport:
    """Byte pipe to the board.

    ``write`` sends every byte.  ``read`` returns the bytes that have arrived (at most ``n``)
    as soon as there is one, waiting at most ``timeout`` seconds of silence for it (``b""``
    when none came).  ``clock`` is the transport's time in seconds, or ``None`` when it has
    none of its own (the simulated board): :class:`BoardLink` then counts line time.
    """

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, n: int, timeout: float) -> bytes:
        raise NotImplementedError

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass (between status polls)."""
        time.sleep(seconds)

    def discard(self) -> None:
        """Drop the bytes that have arrived and not been read (before a request: they cannot
        be its reply)."""

    def clock(self) -> float | None:
        """Seconds since some start, or ``None`` (no clock of its own)."""
        return None

    def close(self) -> None:
        """Release the line."""


class SerialTransport(Transport):
    """A serial port through pyserial (8N1 at the configuration's baud rate).

    :meth:`read` waits for the first byte only, then takes whatever else has arrived, so a
    reply costs its line time, not the timeout.
    """

    def __init__(self, port: str, baud: int) -> None:
        try:
            import serial
        except ImportError:
            raise LinkError("pyserial is not installed: pip install pyserial") from None
        self.port = port
        self._timeout = 0.1
        try:
            self._port = serial.Serial(port, baud, timeout=self._timeout)
        except (serial.SerialException, ValueError) as exc:
            raise LinkError(f"{port}: cannot open serial port: {exc}") from None

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except OSError as exc:         # pyserial's SerialException is an OSError
            raise LinkError(f"{self.port}: cannot write to the serial port: {exc}") from None

    def read(self, n: int, timeout: float) -> bytes:
        port = self._port
        try:
            if timeout != self._timeout:     # pyserial reconfigures the port on every set
                port.timeout = self._timeout = timeout
            first = port.read(1)
            waiting = min(port.in_waiting, n - 1) if first else 0
            return bytes(first + port.read(waiting)) if waiting > 0 else bytes(first)
        except OSError as exc:
            raise LinkError(f"{self.port}: cannot read from the serial port: {exc}") from None

    def discard(self) -> None:
        try:
            self._port.reset_input_buffer()
        except OSError as exc:
            raise LinkError(f"{self.port}: cannot flush the serial port: {exc}") from None

    def clock(self) -> float:
        return time.monotonic()

    def close(self) -> None:
        self._port.close()


#: Largest reply frames of line noise :meth:`BoardLink.exchange` reads before it gives up.
NOISE_FRAMES = 4
#: The wait for a sample's result: this many times the slowest sample (cycle model) ...
BUSY_FACTOR = 10
#: ... plus this many seconds.
BUSY_FLOOR_S = 1.0


def slowest_sample_s(config: Config) -> float:
    """Seconds the slowest sample of ``config`` takes on the board by the cycle model
    (``hdl.cycles.sample_cycles``, ``network_sample_cycles`` for several layers): every
    input and every neuron spiking at every timestep, learning on, at
    ``board.clock_mhz``."""
    cores = config.network.cores
    T, n_inputs = cores[0].timesteps, cores[0].n_inputs
    current = cores[0].encoder.kind == "current"       # no input spikes: every pixel lit
    inputs = None if current else np.ones((T, n_inputs), bool)
    pixels = np.ones(n_inputs, np.int64) if current else None
    rasters = [np.ones((T, core.n_neurons), bool) for core in cores]
    membrane = membrane_mode(config.classify)
    if len(cores) == 1:
        total = sample_cycles(cores[0], inputs, rasters[0], learn=True, pixels=pixels,
                              membrane=membrane).total
    else:
        total = network_sample_cycles(cores, inputs, rasters, pixels, membrane).total
    return total / config.board.clock_hz


class BoardLink:
    """One board behind ``transport``, for the network of ``config``.

    ``timeout`` (seconds) bounds every silence while a reply is due; ``poll`` (seconds) is
    the pause between result polls while a sample runs; ``busy_timeout`` (seconds, default
    :data:`BUSY_FACTOR` times :func:`slowest_sample_s` plus :data:`BUSY_FLOOR_S`) bounds
    the BUSY answers to RESULT, by the transport's clock or, without one, by the line time
    of the polls (bytes at ``board.baud``, 10 bits each) and the pauses between them.  A
    reply is given up after :data:`NOISE_FRAMES` largest reply frames of bytes.
    """

    def __init__(self, transport: Transport, config: Config, timeout: float = 2.0,
                 poll: float = 0.0, busy_timeout: float | None = None) -> None:
        self.transport = transport
        self.config = config
        self.geometry = Geometry.of(config)
        self.timeout = timeout
        self.poll = poll
        self.sample_s = slowest_sample_s(config)
        self.busy_timeout = (BUSY_FACTOR * self.sample_s + BUSY_FLOOR_S
                             if busy_timeout is None else busy_timeout)
        self.noise_limit = NOISE_FRAMES * (REPLY_OVERHEAD + self.geometry.reply_bytes)
        self.line_bytes = 0            #: bytes written and read so far
        self._waited = 0.0             #: seconds of poll pauses so far
        self._parser = ReplyParser(max_payload=self.geometry.reply_bytes)

    # -- frames ---------------------------------------------------------------------------

    def exchange(self, command: int, payload: bytes = b"") -> Reply:
        """Send one request and return its reply (any status); :class:`LinkError` for
        silence, line noise, a malformed reply or a reply to another command."""
        frame = request(command, payload)
        self.transport.discard()       # a late reply to an earlier request, or noise
        self._parser = ReplyParser(max_payload=self.geometry.reply_bytes)
        self.transport.write(frame)
        self.line_bytes += len(frame)
        name = command_name(command)
        received = 0
        while True:
            chunk = self.transport.read(4096, self.timeout)
            if not chunk:
                got = (f": {received} bytes came, no whole reply frame" if received else
                       " (is the board programmed, on this port, at this baud rate?)")
                raise LinkError(f"no reply to {name} within {self.timeout:g} s{got}")
            received += len(chunk)
            self.line_bytes += len(chunk)
            try:
                replies = self._parser.feed(chunk)
            except ValueError as exc:
                raise LinkError(str(exc)) from None
            if replies:
                reply = replies[0]
                if reply.command != command:
                    raise LinkError(f"a reply to {command_name(reply.command)} came while waiting "
                                    f"for {name}")
                if len(replies) > 1:
                    raise LinkError(f"{len(replies)} replies to {name}, expected one")
                if reply.status != Status.OK and reply.payload:
                    raise LinkError(f"the {reply.status.name} reply to {name} carries "
                                    f"{len(reply.payload)} payload bytes; only OK replies "
                                    "carry any")
                return reply
            if received > self.noise_limit:
                raise LinkError(f"{received} bytes of line noise and no reply frame to {name} "
                                "(is the board at this baud rate?)")

    def call(self, command: int, payload: bytes = b"", size: int | None = None) -> bytes:
        """Send one request; its payload (``size`` bytes when given), or :class:`LinkError`
        naming the error status or the wrong length."""
        reply = self.exchange(command, payload)
        if reply.status != Status.OK:
            raise LinkError(f"board answered {command_name(command)} with {reply.status.name}")
        if size is not None and len(reply.payload) != size:
            raise LinkError(f"the {command_name(command)} reply has {len(reply.payload)} payload "
                            f"bytes, expected {size}")
        return reply.payload

    def elapsed(self) -> float:
        """Seconds by the transport's clock, or else the line time so far (see above)."""
        now = self.transport.clock()
        if now is not None:
            return now
        return self.line_bytes * 10 / self.config.board.baud + self._waited

    # -- commands -------------------------------------------------------------------------

    def identify(self) -> Identity:
        return _parsed(Identity.parse, self.call(Command.IDENTIFY))

    def check_identity(self) -> Identity:
        """IDENTIFY, and refuse a bitstream built for another configuration: first its
        sizes and every layer's geometry (the message names the first that differs), then
        the configuration digest."""
        ident = self.identify()
        want = Identity.parse(identify_payload(self.config))
        source = self.config.source
        if len(ident.layers) != len(want.layers):
            raise LinkError(f"the board runs a network of {len(ident.layers)} layer(s), the "
                            f"configuration {len(want.layers)} ({source})")
        for index, (got, wanted) in enumerate(zip(ident.layers, want.layers, strict=True)):
            for key, value in vars(wanted).items():
                if getattr(got, key) != value:
                    raise LinkError(f"the board's layer {index} has {key} = "
                                    f"{getattr(got, key)}, the configuration {value} "
                                    f"({source})")
        for key in ("n_inputs", "n_neurons", "timesteps", "n_pe", "weight_bits", "theta_bits",
                    "n_classes", "vote_bits", "direct"):
            if getattr(ident, key) != getattr(want, key):
                raise LinkError(f"the board's identity has {key} = {getattr(ident, key)}, "
                                f"the configuration {getattr(want, key)} ({source})")
        if ident.digest != want.digest:
            raise LinkError(f"the board runs configuration {ident.digest}, not "
                            f"{config_digest(self.config)} ({source}): rebuild the "
                            "bitstream for this configuration or pass the matching one")
        return ident

    def status(self) -> StatusReport:
        return _parsed(StatusReport.parse, self.call(Command.STATUS))

    def write_memory(self, target: Target, words: list[int], address: int = 0,
                     layer: int = 0) -> None:
        """Write ``words`` into memory ``target`` of ``layer`` from ``address`` on, in as
        many frames as they take."""
        memory = self.geometry.memory(target, layer)
        size, step = memory.bytes, memory.chunk_words
        for start in range(0, len(words), step):
            body = b"".join(w.to_bytes(size, "little") for w in words[start:start + step])
            self.call(Command.WRITE_MEMORY,
                      struct.pack("<BH", selector(target, layer), address + start) + body,
                      size=0)

    def read_memory(self, target: Target, count: int, address: int = 0,
                    layer: int = 0) -> list[int]:
        """``count`` words of memory ``target`` of ``layer`` from ``address`` on."""
        memory = self.geometry.memory(target, layer)
        size, step = memory.bytes, memory.chunk_words
        out: list[int] = []
        for start in range(0, count, step):
            n = min(step, count - start)
            body = self.call(Command.READ_MEMORY, struct.pack(
                "<BHH", selector(target, layer), address + start, n), size=n * size)
            out += [int.from_bytes(body[i:i + size], "little")
                    for i in range(0, len(body), size)]
        return out

    def load(self, weights: Array, theta: Array, votes: Array | None = None,
             bias: Array | None = None) -> None:
        """Every layer's weights ``(n_inputs_l, n_neurons_l)``, thresholds and biases
        ``(n_neurons_l,)`` (a list per layer, or the arrays of a one-layer network; a
        layer's missing bias is zeros) and, for the on-board readout, votes
        ``(n_classes, n_neurons)`` (``protocol.board_votes``)."""
        g = self.geometry
        n = len(g.layers)
        for index, params in enumerate(zip(per_layer(weights, n), per_layer(theta, n),
                                           per_layer(bias, n), strict=True)):
            for target, words in layer_words(g, index, *params).items():
                self.write_memory(target, words, layer=index)
        if votes is not None:
            self.write_memory(Target.VOTES, [int(v) for v in np.asarray(votes).reshape(-1)])

    def read_state(self) -> tuple[list[Array], list[Array], list[Array | None], Array]:
        """Every layer's weights, thresholds and biases (``None`` for a layer without one),
        and the votes, as :meth:`load` takes them."""
        g = self.geometry
        weights, theta, bias = [], [], []
        for index, layer in enumerate(g.layers):
            words = {target: self.read_memory(target, memory.depth, layer=index)
                     for target, memory in layer.memories().items()}
            w, th, b = layer_values(g, index, words)
            weights.append(w)
            theta.append(th)
            bias.append(b)
        votes = np.array(self.read_memory(Target.VOTES, g.memory(Target.VOTES).depth),
                         dtype=np.int64).reshape(g.n_classes, g.n_neurons)
        return weights, theta, bias, votes

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
        self.call(Command.RUN_SAMPLE, struct.pack("<BI", int(learn), key) + data, size=0)

    def wait_result(self) -> Result:
        """Poll RESULT until the running sample's result is there; :class:`LinkError` when
        the board still answers BUSY after :attr:`busy_timeout` seconds."""
        start = self.elapsed()
        while True:
            reply = self.exchange(Command.RESULT)
            if reply.status == Status.OK:
                return _parsed(Result.parse, reply.payload, self.geometry)
            if reply.status != Status.BUSY:
                raise LinkError(f"board answered RESULT with {reply.status.name}")
            if self.elapsed() - start > self.busy_timeout:
                raise LinkError(f"the board still answers RESULT with BUSY after "
                                f"{self.busy_timeout:.3g} s (the slowest sample takes "
                                f"{self.sample_s * 1e3:.3g} ms by the cycle model): it is "
                                "stuck; reset it")
            if self.poll:
                self.transport.wait(self.poll)
                self._waited += self.poll

    def run_sample(self, pixels: Array, key: int, learn: bool = False) -> Result:
        self.start_sample(pixels, key, learn)
        return self.wait_result()




_Parsed = TypeVar("_Parsed")


def _parsed(parse: Callable[..., _Parsed], *args: Any) -> _Parsed:
    """``parse(*args)``, its :class:`ValueError` (a malformed payload) a :class:`LinkError`."""
    try:
        return parse(*args)
    except ValueError as exc:
        raise LinkError(str(exc)) from None


# -- plasticore board run ---------------------------------------------------------------------


@dataclass
class RunReport:
    """How a board's answers compared with the golden model's.

    ``membranes_equal`` (samples whose every membrane equals the golden one) and
    ``membranes`` (the board's membranes, a list per sample) are ``None`` for a counts
    readout, whose RESULT carries no membranes.
    """

    samples: int = 0
    counts_equal: int = 0
    class_equal: int = 0
    correct: int = 0
    float_agree: int = 0
    cycles: list[int] = field(default_factory=list)
    first_mismatch: str = ""
    membranes_equal: int | None = None
    membranes: list[list[int]] | None = None

    @property
    def matched(self) -> bool:
        return (self.samples > 0 and self.counts_equal == self.class_equal == self.samples
                and self.membranes_equal in (None, self.samples))

    def to_dict(self) -> dict[str, Any]:
        """The report as ``plasticore board run --json`` prints it (before its summary
        fields); the membrane fields only for a membrane readout."""
        out: dict[str, Any] = {
            "samples": self.samples, "counts_equal": self.counts_equal,
            "class_equal": self.class_equal, "correct": self.correct,
            "float_agree": self.float_agree, "cycles": self.cycles,
            "first_mismatch": self.first_mismatch}
        if self.membranes is not None:
            out.update(membranes_equal=self.membranes_equal, membranes=self.membranes)
        return out


def golden_network(config: Config, weights: Array, theta: Array,
                   bias: Array | None = None) -> Network:
    """The golden network of ``config`` with these weights, thresholds and biases (per
    layer, or one layer's arrays)."""
    n = len(config.network.layers)
    net = Network(config.network, weights=per_layer(weights, n), theta=per_layer(theta, n),
                  bias=per_layer(bias, n))
    # a membrane readout needs the literal loop, which records the membranes
    net.event_driven = membrane_mode(config.classify) is None
    return net


def host_readout(config: Config, rates: Array | None) -> Readout:
    """The float readout ``plasticore eval`` uses: fitted from the class ``rates`` for a
    readout that labels neurons; for ``count``, output neuron ``c`` is class ``c``."""
    rule, n_classes = config.classify.readout, config.classify.n_classes
    if rule in SUPERVISED_READOUTS:
        return Readout(rule, np.zeros((0, config.network.cores[-1].n_neurons)),
                       np.zeros(0, np.int64), n_classes)
    return Readout.from_rates(rule, rates)


def run_test_set(link: BoardLink, weights: Array, theta: Array, rates: Array | None,
                 images: Array, labels: Array,
                 progress: Callable[[int, int], None] | None = None,
                 stop_at_mismatch: bool = False, bias: Array | None = None) -> RunReport:
    """Load the network (every layer's weights, thresholds and biases, per layer or one
    layer's arrays), classify ``images`` on the board (learning off, key = index, as
    ``golden.train.evaluate`` does), and compare every sample's counts and class with the
    golden model (:func:`~.protocol.board_class`: the vote scores of the counts, or with a
    membrane readout the highest membrane), and with a membrane readout every membrane
    with the golden last layer's ``v_max`` or ``v_final``.  The first difference is named
    in :attr:`RunReport.first_mismatch`: a count, else a membrane, else the class."""
    config = link.config
    votes = board_votes(config, rates)
    link.check_identity()
    link.load(weights, theta, votes, bias)
    net = golden_network(config, weights, theta, bias)
    float_readout = host_readout(config, rates)
    mode = membrane_mode(config.classify)
    report = RunReport()
    if mode is not None:
        report.membranes_equal, report.membranes = 0, []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        golden = net.run_sample(image, key=i, learn=False)
        expected = board_class(config, golden, votes)
        got = link.run_sample(image, key=i)
        report.samples += 1
        report.cycles.append(got.cycles)
        same_counts = bool(np.array_equal(got.counts, golden.counts))
        report.counts_equal += same_counts
        report.class_equal += got.predicted == expected
        report.correct += got.predicted == int(label)
        membranes = {"max": golden.v_max, "final": golden.v_final}.get(mode or "")
        same_membranes = True
        if membranes is not None and report.membranes is not None:
            same_membranes = bool(np.array_equal(got.membranes, membranes))
            report.membranes_equal = (report.membranes_equal or 0) + same_membranes
            report.membranes.append([int(v) for v in got.membranes])
        scores: Array = golden.counts if membranes is None else membranes
        report.float_agree += expected == int(float_readout.predict(scores[None])[0])
        if not report.first_mismatch and (not same_counts or not same_membranes
                                          or got.predicted != expected):
            report.first_mismatch = f"sample {i}: " + _difference(got, golden.counts,
                                                                  membranes, expected)
            if stop_at_mismatch:
                break
        if progress:
            progress(i + 1, len(labels))
    return report


def _difference(got: Result, counts: Array, membranes: Array | None, expected: int) -> str:
    """The first difference of a board's result from the golden one: a count, else a
    membrane, else the class."""
    diff = np.flatnonzero(got.counts != counts)
    if diff.size:
        return f"neuron {diff[0]}: count {got.counts[diff[0]]}, golden {counts[diff[0]]}"
    if membranes is not None:
        diff = np.flatnonzero(got.membranes != membranes)
        if diff.size:
            return (f"neuron {diff[0]}: membrane {got.membranes[diff[0]]}, golden "
                    f"{membranes[diff[0]]}")
    return f"class {got.predicted}, golden {expected}"
