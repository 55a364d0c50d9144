"""The host link: the network core behind the framed UART protocol of ``protocol.py``.

The core is ``SnnCore`` for a network of one layer (an STDP layer, or one trained
elsewhere) and ``hdl.network.NetworkCore`` for several layers; a memory frame's target byte
(``protocol.selector``) names the memory and the layer, and goes to the core's access port
as its ``theta``/``bias`` bits and ``layer`` field.

``LinkedCore`` is everything of a board design below the pins, so the board testbench
simulates exactly what the bitstream contains apart from clocking:

- ``UartRx`` -> a byte FIFO -> the **frame engine**: it parses a request into the receive
  buffer, checks its CRC, executes it (memory reads and writes through the core's access
  port, the vote memory, status, identity), writes the reply payload into the transmit
  buffer and sends the reply through ``UartTx``;
- the **sample feeder**: started by RUN_SAMPLE, it gives the core its command and the
  pixels (or the spike raster, one word per timestep) from the receive buffer;
- the **collector**: stores the core's per-sample counts, then the **readout** scores every
  class, ``sum_i count[i] * vote[c, i]``, and keeps the argmax (ties to the lowest class:
  ``golden.classify.predict_votes``); with a membrane readout (``classify.readout``
  ``membrane_max`` or ``membrane_final``) the class is instead the output neuron whose
  membrane word value is the highest, ties to the lowest (``protocol.board_class``), kept
  as the core's membrane words arrive after the counts, and the words are stored (a memory
  of ``W`` words of ``n_pe`` membranes of the output layer) for RESULT, which sends every
  membrane after the counts.

A frame is validated completely (CRC, length, target, address range, busy) before it changes
anything, so a bad frame leaves the core's state intact.  While a sample runs, requests that
carry a payload are not stored (they are answered BUSY), so the running sample's input is
never overwritten.
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..config import Config
from ..hdl.core import SnnCore
from ..hdl.core.membrane import membrane_mode
from ..hdl.network import NetworkCore
from .protocol import (
    CRC,
    RESULT_HEAD,
    SYNC_REPLY,
    SYNC_REQUEST,
    TIMEOUT_BYTES,
    Command,
    Geometry,
    Status,
    StatusReport,
    Target,
    identify_payload,
    selector,
)
from .uart import UartRx, UartTx

__all__ = ["status_layout", "LinkedCore", "network_core"]

#: Status flags the board shows on its LEDs.
status_layout = data.StructLayout({"idle": 1, "learning": 1, "busy": 1, "error": 1})


def network_core(config: Config) -> SnnCore | NetworkCore:
    """The core a board runs: ``SnnCore`` for one layer, ``NetworkCore`` for several; with
    the membrane readout ``classify.readout`` names (``membrane_mode``)."""
    network, membrane = config.network, membrane_mode(config.classify)
    if len(network.layers) == 1:
        return SnnCore(config.core, membrane)
    return NetworkCore(network, membrane)


class _Shared:
    """Registers and flags the link's processes share."""

    def __init__(self) -> None:
        self.start_sample = Signal()     # frame engine -> feeder, collector: one cycle
        self.sample_learn = Signal()
        self.sample_key = Signal(32)
        self.feeding = Signal()
        self.scoring = Signal()
        self.busy = Signal()             # a sample is anywhere in flight
        self.result_ready = Signal()
        self.result_class = Signal(8)
        self.spikes = Signal(32)         # of the last sample
        self.sample_cycles = Signal(32)  # core busy cycles of the last sample
        self.samples = Signal(32)        # samples run since reset
        self.busy_cycles = Signal(64)    # core busy cycles since reset
        self.good_frames = Signal(32)
        self.bad_frames = Signal(32)
        self.last_error = Signal(8)      # status of the last reply


class LinkedCore(wiring.Component):
    """The network core (:func:`network_core`) behind the UART host link.

    ``rx``/``tx`` are the UART line levels (idle high) at ``config.board.baud`` for a clock
    of ``config.board.clock_mhz``; ``status`` drives the LEDs.  Simulation overrides
    ``divisor`` (clock cycles per UART bit) and ``timeout_bytes`` (the receive timeout, in
    byte times) to run the line faster than a real board.
    """

    def __init__(self, config: Config, *, divisor: int | None = None,
                 timeout_bytes: int = TIMEOUT_BYTES) -> None:
        self.config = config
        self.geometry = Geometry.of(config)
        self.divisor = divisor or self.geometry.baud_divisor
        self.timeout_bytes = timeout_bytes
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1),
                          "status": Out(status_layout)})

    def elaborate(self, platform) -> Module:
        m = Module()
        g = self.geometry
        cfg = self.config
        N = g.n_neurons

        m.submodules.core = core = network_core(cfg)
        m.submodules.uart_rx = uart_rx = UartRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.divisor)
        m.submodules.rx_fifo = rx_fifo = SyncFIFOBuffered(width=8, depth=16)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        wiring.connect(m, uart_rx.data, rx_fifo.w_stream)
        byte_in = rx_fifo.r_stream

        # -- memories ------------------------------------------------------------------------
        m.submodules.rx_buf = rx_buf = Memory(shape=8, depth=g.request_bytes, init=[])
        rx_w, rx_r, feed_r = rx_buf.write_port(), rx_buf.read_port(), rx_buf.read_port()
        m.submodules.tx_buf = tx_buf = Memory(shape=8, depth=g.reply_bytes, init=[])
        tx_w, tx_r = tx_buf.write_port(), tx_buf.read_port()
        identity = identify_payload(cfg)
        m.submodules.id_rom = id_rom = Memory(shape=8, depth=len(identity),
                                              init=list(identity))
        id_r = id_rom.read_port()
        m.submodules.counts = counts = Memory(shape=g.count_bits, depth=N, init=[])
        counts_w, counts_r, score_counts_r = (counts.write_port(), counts.read_port(),
                                              counts.read_port())
        m.submodules.votes = votes = Memory(shape=g.vote_bits, depth=g.memory(Target.VOTES).depth,
                                            init=[])
        votes_w, votes_r, score_votes_r = (votes.write_port(), votes.read_port(),
                                           votes.read_port())
        membranes = self._membrane_memory(m)
        m.submodules.crc_rx = crc_rx = CRC.create()
        m.submodules.crc_tx = crc_tx = CRC.create()

        s = _Shared()
        m.d.comb += s.busy.eq(s.start_sample | s.feeding | core.busy | s.scoring)
        m.d.comb += [
            self.status.busy.eq(s.busy),
            self.status.idle.eq(~s.busy),
            self.status.learning.eq(s.busy & s.sample_learn),
            self.status.error.eq(s.last_error != Status.OK),
        ]

        self._frame_engine(m, g, core, byte_in, uart_tx, crc_rx, crc_tx, rx_w, rx_r, tx_w,
                           tx_r, id_r, len(identity), counts_r, votes_w, votes_r,
                           membranes and membranes[1], s)
        self._feeder(m, g, core, feed_r, s)
        self._collector(m, g, core, counts_w, score_counts_r, score_votes_r,
                        membranes and membranes[0], s)
        return m

    def _membrane_memory(self, m):
        """For a membrane readout, the memory of the output layer's membranes (``W`` words
        of ``n_pe`` lanes of its membrane width, as ``membrane_layout``'s ``v``): its write
        and read ports; else ``None``."""
        if not self.geometry.membrane_bits:
            return None
        last = self.config.network.cores[-1]
        m.submodules.membranes = memory = Memory(
            shape=last.n_pe * self.geometry.membrane_bits,
            depth=last.derived.neurons_per_pe, init=[])
        return memory.write_port(), memory.read_port()

    # -- frame engine ----------------------------------------------------------------------

    def _frame_engine(self, m, g, core, byte_in, uart_tx, crc_rx, crc_tx, rx_w, rx_r, tx_w,
                      tx_r, id_r, id_len, counts_r, votes_w, votes_r, membranes_r,
                      s) -> None:
        busy = s.busy
        timeout_cycles = self.timeout_bytes * 10 * self.divisor

        command = Signal(8)
        length = Signal(16)
        index = Signal(16)               # payload byte being received / processed
        store = Signal()                 # the payload goes into the receive buffer
        crc_received = Signal(16)
        crc_expected = Signal(16)
        status = Signal(8)
        reply_length = Signal(16)
        timer = Signal(range(timeout_cycles + 1))

        # memory operation registers
        target = Signal(8)               # the target byte: memory and layer (selector)
        address = Signal(16)
        words = Signal(16)               # words the frame carries / asks for
        rest = Signal(16)                # bytes left to divide into words
        memories = g.memories
        lanes = self.config.network.cores[-1].n_pe      # membranes in a stored word
        most_bytes = max(*(memory.bytes for memory in memories.values()), g.count_bytes,
                         lanes * g.membrane_bytes)
        word = Signal(8 * most_bytes)
        byte = Signal(range(most_bytes + 1))
        out_index = Signal(16)
        word_bytes = Signal(range(most_bytes + 1))
        depth = Signal(range(max(memory.depth for memory in memories.values()) + 1))
        chunk = Signal(16)
        known = Signal()                 # the target byte names a memory of this network
        with m.Switch(target):
            for key, memory in memories.items():
                with m.Case(key):
                    m.d.comb += [known.eq(1), word_bytes.eq(memory.bytes),
                                 depth.eq(memory.depth), chunk.eq(memory.chunk_words)]
        votes_target = target == selector(Target.VOTES)

        status_bytes = Cat(
            s.busy, s.sample_learn & s.busy, s.last_error != Status.OK,
            s.result_ready, Const(0, 4),
            s.last_error, s.samples, s.sample_cycles, s.busy_cycles,
            s.good_frames, s.bad_frames)
        assert len(status_bytes) == 8 * StatusReport.SIZE
        result_head = Cat(s.result_class, s.spikes, s.sample_cycles, s.samples)
        assert len(result_head) == 8 * RESULT_HEAD

        def access_request(payload):
            """The core's access fields for the memory word at ``address`` of ``target``:
            the memory as the ``theta``/``bias`` bits, the layer as ``layer`` (the fields
            the core's access layout has)."""
            fields = {name for name, _ in payload.shape()}
            m.d.comb += [payload.theta.eq(target[:2] == Target.THETA),
                         payload.addr.eq(address)]
            if "bias" in fields:
                m.d.comb += payload.bias.eq(target[:2] == Target.BIAS)
            if "layer" in fields:
                m.d.comb += payload.layer.eq(target[2:])

        def take_byte():
            """Consume the FIFO's byte this cycle (when there is one)."""
            m.d.comb += byte_in.ready.eq(1)

        def reply(code, length=0):
            m.d.sync += [status.eq(code), reply_length.eq(length), index.eq(0)]
            m.next = "REPLY_SYNC"

        def admit(refusals, state):
            """Dispatch a checked frame: reply with the status of the first refusal whose
            condition holds (in the order given), else go to ``state``."""
            for n, (refused, code) in enumerate(refusals):
                with (m.Elif if n else m.If)(refused):
                    reply(code)
            with m.Else():
                m.next = state

        @contextmanager
        def receive(checked=True):
            """A state inside a frame: take the next byte, or answer TIMEOUT when none came
            in time; the body runs for the byte (fed to the CRC when ``checked``)."""
            m.d.comb += in_frame.eq(1)
            take_byte()
            with m.If(expired):
                reply(Status.TIMEOUT)
            with m.Elif(byte_in.valid):
                if checked:
                    m.d.comb += crc_rx.valid.eq(1)
                yield

        def send_word(size, word_done):
            """Write the next byte of ``word`` (LSB first) into the transmit buffer; after
            its ``size`` bytes, run ``word_done``."""
            m.d.comb += [tx_w.addr.eq(out_index), tx_w.en.eq(1), tx_w.data.eq(word[:8])]
            m.d.sync += [out_index.eq(out_index + 1), word.eq(word >> 8), byte.eq(byte + 1)]
            with m.If(byte == size - 1):
                word_done()

        # Receive timeout: any state inside a frame restarts it on every byte.
        in_frame = Signal()
        with m.If(~in_frame | (byte_in.valid & byte_in.ready)):
            m.d.sync += timer.eq(timeout_cycles)
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        expired = in_frame & (timer == 0)

        m.d.comb += crc_rx.data.eq(byte_in.payload)
        m.d.comb += rx_w.data.eq(byte_in.payload)

        with m.FSM(name="frame"):
            # ---- receive --------------------------------------------------------------------
            with m.State("SYNC"):
                take_byte()
                with m.If(byte_in.valid & (byte_in.payload == SYNC_REQUEST)):
                    m.d.comb += crc_rx.start.eq(1)
                    m.d.sync += command.eq(0)
                    m.next = "COMMAND"
            with m.State("COMMAND"):
                with receive():
                    m.d.sync += command.eq(byte_in.payload)
                    m.next = "LENGTH_LOW"
            with m.State("LENGTH_LOW"):
                with receive():
                    m.d.sync += length[:8].eq(byte_in.payload)
                    m.next = "LENGTH_HIGH"
            with m.State("LENGTH_HIGH"):
                with receive():
                    full = Cat(length[:8], byte_in.payload)
                    m.d.sync += [length[8:].eq(byte_in.payload), index.eq(0),
                                 store.eq(~busy)]
                    with m.If(full > g.request_bytes):
                        # The length cannot be trusted: drop the line until it goes quiet.
                        m.next = "DISCARD"
                    with m.Elif(full == 0):
                        m.next = "CRC_LOW"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                with receive():
                    m.d.comb += [rx_w.addr.eq(index), rx_w.en.eq(store)]
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == length - 1):
                        m.next = "CRC_LOW"
            with m.State("CRC_LOW"):
                m.d.sync += crc_expected.eq(crc_rx.crc)
                with receive(checked=False):
                    m.d.sync += crc_received[:8].eq(byte_in.payload)
                    m.next = "CRC_HIGH"
            with m.State("CRC_HIGH"):
                with receive(checked=False):
                    m.d.sync += crc_received[8:].eq(byte_in.payload)
                    m.next = "CHECK"
            with m.State("DISCARD"):
                m.d.comb += in_frame.eq(1)
                take_byte()
                with m.If(expired):
                    reply(Status.BAD_LENGTH)

            # ---- dispatch -------------------------------------------------------------------
            with m.State("CHECK"):
                m.d.sync += index.eq(0)
                with m.If(crc_received != crc_expected):
                    reply(Status.BAD_CRC)
                with m.Elif(command == Command.IDENTIFY):
                    admit([(length != 0, Status.BAD_LENGTH)], "IDENTIFY")
                with m.Elif(command == Command.STATUS):
                    admit([(length != 0, Status.BAD_LENGTH)], "STATUS")
                with m.Elif(command == Command.RESULT):
                    admit([(length != 0, Status.BAD_LENGTH), (busy, Status.BUSY),
                           (~s.result_ready, Status.NO_RESULT)], "RESULT_HEAD")
                with m.Elif(command == Command.WRITE_MEMORY):
                    admit([(busy | ~store, Status.BUSY), (length < 4, Status.BAD_LENGTH)],
                          "MEM_HEADER")
                with m.Elif(command == Command.READ_MEMORY):
                    admit([(busy | ~store, Status.BUSY), (length != 5, Status.BAD_LENGTH)],
                          "MEM_HEADER")
                with m.Elif(command == Command.RUN_SAMPLE):
                    admit([(busy | ~store, Status.BUSY),
                           (length != 5 + g.sample_bytes, Status.BAD_LENGTH)], "SAMPLE_HEADER")
                with m.Else():
                    reply(Status.UNKNOWN_COMMAND)

            # ---- IDENTIFY: the identity ROM into the transmit buffer ---------------------------
            with m.State("IDENTIFY"):
                m.d.comb += id_r.addr.eq(index)
                m.d.sync += index.eq(index + 1)
                with m.If(index != 0):
                    m.d.comb += [tx_w.addr.eq(index - 1), tx_w.data.eq(id_r.data),
                                 tx_w.en.eq(1)]
                with m.If(index == id_len):
                    reply(Status.OK, id_len)

            # ---- STATUS ---------------------------------------------------------------------
            with m.State("STATUS"):
                m.d.comb += [tx_w.addr.eq(index), tx_w.en.eq(1),
                             tx_w.data.eq(status_bytes.word_select(index, 8))]
                m.d.sync += index.eq(index + 1)
                with m.If(index == StatusReport.SIZE - 1):
                    reply(Status.OK, StatusReport.SIZE)

            # ---- RESULT: header, then every neuron's count ------------------------------------
            with m.State("RESULT_HEAD"):
                m.d.comb += [tx_w.addr.eq(index), tx_w.en.eq(1),
                             tx_w.data.eq(result_head.word_select(index, 8))]
                m.d.sync += index.eq(index + 1)
                with m.If(index == RESULT_HEAD - 1):
                    m.d.sync += [address.eq(0), out_index.eq(RESULT_HEAD)]
                    m.next = "RESULT_READ"
            with m.State("RESULT_READ"):
                m.d.comb += counts_r.addr.eq(address)
                m.next = "RESULT_LATCH"
            with m.State("RESULT_LATCH"):
                m.d.sync += [word.eq(counts_r.data), byte.eq(0)]
                m.next = "RESULT_BYTES"
            with m.State("RESULT_BYTES"):
                def count_sent():
                    m.d.sync += address.eq(address + 1)
                    with m.If(address == g.n_neurons - 1):
                        if membranes_r is None:
                            reply(Status.OK, g.result_bytes)
                        else:
                            m.d.sync += address.eq(0)
                            m.next = "RESULT_MEMBRANE_READ"
                    with m.Else():
                        m.next = "RESULT_READ"
                send_word(g.count_bytes, count_sent)
            if membranes_r is not None:
                self._send_membranes(m, g, lanes, membranes_r, address, word, byte,
                                     send_word, reply)

            # ---- WRITE_MEMORY / READ_MEMORY: target (1), address (2)[, count (2)] -------------
            with m.State("MEM_HEADER"):
                # read payload bytes 0..4 (one per cycle, data a cycle later)
                m.d.comb += rx_r.addr.eq(index)
                m.d.sync += index.eq(index + 1)
                with m.Switch(index):
                    with m.Case(1):
                        m.d.sync += target.eq(rx_r.data)
                    with m.Case(2):
                        with m.If(~known):
                            reply(Status.BAD_ADDRESS)
                        m.d.sync += address[:8].eq(rx_r.data)
                    with m.Case(3):
                        m.d.sync += [address[8:].eq(rx_r.data), words.eq(0),
                                     rest.eq(length - 3)]
                        with m.If(command == Command.WRITE_MEMORY):
                            m.next = "WRITE_COUNT"
                    with m.Case(4):
                        m.d.sync += words[:8].eq(rx_r.data)
                    with m.Case(5):
                        m.d.sync += words[8:].eq(rx_r.data)
                        m.next = "READ_CHECK"
            with m.State("WRITE_COUNT"):
                # words = (length - 3) / word_bytes, by subtraction; a remainder is bad length
                with m.If(rest >= word_bytes):
                    m.d.sync += [rest.eq(rest - word_bytes), words.eq(words + 1)]
                with m.Elif((rest != 0) | (words == 0)):
                    reply(Status.BAD_LENGTH)
                with m.Elif(address + words > depth):
                    reply(Status.BAD_ADDRESS)
                with m.Else():
                    m.d.sync += [index.eq(3), byte.eq(0), word.eq(0)]
                    m.next = "WRITE_READ"
            with m.State("WRITE_READ"):
                m.d.comb += rx_r.addr.eq(index)
                m.d.sync += index.eq(index + 1)
                m.next = "WRITE_BYTE"
            with m.State("WRITE_BYTE"):
                # little-endian: byte b lands at bits 8b
                shifted = Cat(word[8:], rx_r.data)
                m.d.sync += [word.eq(shifted), byte.eq(byte + 1)]
                with m.If(byte == word_bytes - 1):
                    m.next = "WRITE_ALIGN"
                with m.Else():
                    m.next = "WRITE_READ"
            with m.State("WRITE_ALIGN"):
                # the word was shifted in from the top: bring it down to bit 0
                top = len(word)
                with m.Switch(target):
                    for key, memory in memories.items():
                        with m.Case(key):
                            aligned = word >> (top - 8 * memory.bytes)
                            m.d.sync += word.eq(aligned[:memory.bits])
                m.next = "WRITE_WORD"
            with m.State("WRITE_WORD"):
                with m.If(votes_target):
                    m.d.comb += [votes_w.addr.eq(address), votes_w.data.eq(word),
                                 votes_w.en.eq(1)]
                with m.Else():
                    m.d.comb += [core.access.valid.eq(1), core.access.payload.write.eq(1),
                                 core.access.payload.data.eq(word)]
                    access_request(core.access.payload)
                with m.If(votes_target | core.access.ready):
                    m.d.sync += [address.eq(address + 1), words.eq(words - 1), byte.eq(0),
                                 word.eq(0)]
                    with m.If(words == 1):
                        reply(Status.OK)
                    with m.Else():
                        m.next = "WRITE_READ"
            with m.State("READ_CHECK"):
                with m.If((words == 0) | (words > chunk)):
                    reply(Status.BAD_LENGTH)
                with m.Elif(address + words > depth):
                    reply(Status.BAD_ADDRESS)
                with m.Else():
                    m.d.sync += [out_index.eq(0), reply_length.eq(0)]
                    m.next = "READ_ISSUE"
            with m.State("READ_ISSUE"):
                with m.If(votes_target):
                    m.d.comb += votes_r.addr.eq(address)
                    m.next = "READ_VOTE"
                with m.Else():
                    m.d.comb += [core.access.valid.eq(1), core.access.payload.write.eq(0)]
                    access_request(core.access.payload)
                    with m.If(core.access.ready):
                        m.next = "READ_WAIT"
            with m.State("READ_VOTE"):
                m.d.sync += [word.eq(votes_r.data), byte.eq(0)]
                m.next = "READ_BYTES"
            with m.State("READ_WAIT"):
                m.d.comb += core.readback.ready.eq(1)
                with m.If(core.readback.valid):
                    with m.Switch(target):
                        for key, memory in memories.items():
                            with m.Case(key):
                                m.d.sync += word.eq(core.readback.payload[:memory.bits])
                    m.d.sync += byte.eq(0)
                    m.next = "READ_BYTES"
            with m.State("READ_BYTES"):
                def memory_word_sent():
                    m.d.sync += [address.eq(address + 1), words.eq(words - 1)]
                    with m.If(words == 1):
                        reply(Status.OK, out_index + 1)
                    with m.Else():
                        m.next = "READ_ISSUE"
                send_word(word_bytes, memory_word_sent)

            # ---- RUN_SAMPLE: learn (1), key (4); the feeder reads the pixels -------------------
            with m.State("SAMPLE_HEADER"):
                m.d.comb += rx_r.addr.eq(index)
                m.d.sync += index.eq(index + 1)
                with m.Switch(index):
                    with m.Case(1):
                        m.d.sync += s.sample_learn.eq(rx_r.data[0])
                    for b in range(4):
                        with m.Case(2 + b):
                            m.d.sync += s.sample_key[8 * b:8 * b + 8].eq(rx_r.data)
                    with m.Case(6):
                        m.d.comb += s.start_sample.eq(1)
                        reply(Status.OK)

            # ---- reply ----------------------------------------------------------------------
            def send(value, feed_crc=True, next_state=None):
                m.d.comb += [uart_tx.data.valid.eq(1), uart_tx.data.payload.eq(value),
                             crc_tx.data.eq(value)]
                with m.If(uart_tx.data.ready):
                    if feed_crc:
                        m.d.comb += crc_tx.valid.eq(1)
                    if next_state:
                        m.next = next_state

            with m.State("REPLY_SYNC"):
                m.d.comb += crc_tx.start.eq(1)
                send(SYNC_REPLY, feed_crc=False, next_state="REPLY_COMMAND")
            with m.State("REPLY_COMMAND"):
                send(command, next_state="REPLY_STATUS")
            with m.State("REPLY_STATUS"):
                send(status, next_state="REPLY_LENGTH_LOW")
            with m.State("REPLY_LENGTH_LOW"):
                send(reply_length[:8], next_state="REPLY_LENGTH_HIGH")
            with m.State("REPLY_LENGTH_HIGH"):
                m.d.comb += tx_r.addr.eq(0)
                m.d.sync += index.eq(0)
                send(reply_length[8:],
                     next_state=None)
                with m.If(uart_tx.data.ready):
                    with m.If(reply_length == 0):
                        m.next = "REPLY_CRC_LOW"
                    with m.Else():
                        m.next = "REPLY_PAYLOAD"
            with m.State("REPLY_PAYLOAD"):
                # tx_r.data holds byte `index` (addressed the cycle before, and held)
                m.d.comb += tx_r.addr.eq(index)
                send(tx_r.data)
                with m.If(uart_tx.data.ready):
                    m.d.comb += tx_r.addr.eq(index + 1)
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == reply_length - 1):
                        m.next = "REPLY_CRC_LOW"
            with m.State("REPLY_CRC_LOW"):
                send(crc_tx.crc[:8], feed_crc=False)
                with m.If(uart_tx.data.ready):
                    m.d.sync += crc_expected.eq(crc_tx.crc)
                    m.next = "REPLY_CRC_HIGH"
            with m.State("REPLY_CRC_HIGH"):
                send(crc_expected[8:], feed_crc=False, next_state="SYNC")
                with m.If(uart_tx.data.ready):
                    m.d.sync += s.last_error.eq(status)
                    with m.If(status == Status.OK):
                        m.d.sync += s.good_frames.eq(s.good_frames + 1)
                    with m.Else():
                        m.d.sync += s.bad_frames.eq(s.bad_frames + 1)

    @staticmethod
    def _send_membranes(m, g, lanes, membranes_r, address, word, byte, send_word,
                        reply) -> None:
        """RESULT after the counts: every stored membrane word (``n_neurons / lanes``), a
        lane at a time from lane 0, each membrane sign-extended to ``membrane_bytes``
        (little-endian), then the reply."""
        bits, size = g.membrane_bits, 8 * g.membrane_bytes
        with m.State("RESULT_MEMBRANE_READ"):
            m.d.comb += membranes_r.addr.eq(address)
            m.next = "RESULT_MEMBRANE_LATCH"
        with m.State("RESULT_MEMBRANE_LATCH"):
            fields = [membranes_r.data[p * bits:(p + 1) * bits] for p in range(lanes)]
            m.d.sync += [word.eq(Cat(*(Cat(v, v[-1].replicate(size - bits)) for v in fields))),
                         byte.eq(0)]
            m.next = "RESULT_MEMBRANE_BYTES"
        with m.State("RESULT_MEMBRANE_BYTES"):
            def membranes_sent():
                m.d.sync += address.eq(address + 1)
                with m.If(address == g.n_neurons // lanes - 1):
                    reply(Status.OK, g.result_bytes)
                with m.Else():
                    m.next = "RESULT_MEMBRANE_READ"
            send_word(lanes * g.membrane_bytes, membranes_sent)

    # -- sample feeder ---------------------------------------------------------------------

    def _feeder(self, m, g, core, feed_r, s) -> None:
        """Command, then the pixels (``pixel_bytes`` each, a word of ``encoder.lanes`` per
        token) or the raster (``raster_bytes`` per timestep) from receive-buffer byte 5
        on."""
        if g.direct:
            items, item_bytes, port = g.timesteps, g.raster_bytes, core.raster
            fields, field_bits = 1, g.n_inputs
        else:
            lanes = self.config.core.encoder.lanes
            items, item_bytes, port = g.n_inputs // lanes, g.pixel_bytes * lanes, core.pixels
            fields, field_bits = lanes, self.config.core.encoder.pixel_bits
        field_bytes = item_bytes // fields
        pointer = Signal(range(g.request_bytes + 1))
        item = Signal(range(items + 1))
        byte = Signal(range(item_bytes + 1))
        value = Signal(8 * item_bytes)

        with m.FSM(name="feeder"):
            with m.State("IDLE"):
                with m.If(s.start_sample):
                    m.d.sync += [pointer.eq(5), item.eq(0), byte.eq(0)]
                    m.next = "COMMAND"
            with m.State("COMMAND"):
                m.d.comb += [s.feeding.eq(1), core.command.valid.eq(1),
                             core.command.payload.key.eq(s.sample_key),
                             core.command.payload.learn.eq(s.sample_learn)]
                with m.If(core.command.ready):
                    m.next = "READ"
            with m.State("READ"):
                m.d.comb += [s.feeding.eq(1), feed_r.addr.eq(pointer)]
                m.d.sync += pointer.eq(pointer + 1)
                m.next = "BYTE"
            with m.State("BYTE"):
                m.d.comb += s.feeding.eq(1)
                m.d.sync += [value.eq(Cat(value[8:], feed_r.data)), byte.eq(byte + 1)]
                with m.If(byte == item_bytes - 1):
                    m.next = "OFFER"
                with m.Else():
                    m.next = "READ"
            with m.State("OFFER"):
                payload = Cat(value.word_select(f, 8 * field_bytes)[:field_bits]
                              for f in range(fields))
                m.d.comb += [s.feeding.eq(1), port.valid.eq(1), port.payload.eq(payload)]
                with m.If(port.ready):
                    m.d.sync += [item.eq(item + 1), byte.eq(0)]
                    with m.If(item == items - 1):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ"

    # -- counts and readout ------------------------------------------------------------------

    def _collector(self, m, g, core, counts_w, counts_r, votes_r, membranes_w, s) -> None:
        N, C = g.n_neurons, g.n_classes
        m.d.comb += [core.spikes.ready.eq(1), core.counts.ready.eq(1)]
        spikes = Signal(32)
        cycles = Signal(32)
        with m.If(core.busy):
            m.d.sync += [cycles.eq(cycles + 1), s.busy_cycles.eq(s.busy_cycles + 1)]
        with m.If(s.start_sample):
            m.d.sync += [s.result_ready.eq(0), spikes.eq(0), cycles.eq(0)]

        m.d.comb += [counts_w.addr.eq(core.counts.payload.neuron),
                     counts_w.data.eq(core.counts.payload.count),
                     counts_w.en.eq(core.counts.valid)]
        neuron = Signal(range(N + 1))
        klass = Signal(range(C + 1))
        score = Signal(g.score_bits)
        best = Signal(g.score_bits)
        best_class = Signal(8)
        valid = Signal()                 # counts_r / votes_r data belong to a product
        membrane = membrane_mode(self.config.classify) is not None
        with m.FSM(name="readout"):
            with m.State("WAIT"):
                with m.If(core.counts.valid):
                    m.d.sync += spikes.eq(spikes + core.counts.payload.count)
                    with m.If(core.counts.payload.last):
                        m.d.sync += [neuron.eq(0), klass.eq(0), score.eq(0), best.eq(0),
                                     best_class.eq(0), valid.eq(0)]
                        m.next = "MEMBRANES" if membrane else "SCORE"
            if membrane:
                self._membrane_argmax(m, core, best_class, membranes_w, s)
            else:
                with m.State("SCORE"):
                    m.d.comb += [s.scoring.eq(1), counts_r.addr.eq(neuron),
                                 votes_r.addr.eq(klass * N + neuron)]
                    with m.If(valid):
                        m.d.sync += score.eq(score + counts_r.data * votes_r.data)
                    m.d.sync += valid.eq(neuron != N)
                    with m.If(neuron != N):
                        m.d.sync += neuron.eq(neuron + 1)
                    with m.Elif(~valid):
                        # class `klass` scored: keep it if strictly better (ties: lowest class)
                        with m.If((klass == 0) | (score > best)):
                            m.d.sync += [best.eq(score), best_class.eq(klass)]
                        m.d.sync += [klass.eq(klass + 1), neuron.eq(0), score.eq(0)]
                        with m.If(klass == C - 1):
                            m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += s.scoring.eq(1)
                m.d.sync += [s.result_class.eq(best_class), s.result_ready.eq(1),
                             s.spikes.eq(spikes), s.sample_cycles.eq(cycles),
                             s.samples.eq(s.samples + 1)]
                m.next = "WAIT"

    def _membrane_argmax(self, m, core, best_class, membranes_w, s) -> None:
        """State ``MEMBRANES`` of the readout: every ``membrane_layout`` word stored at its
        word address for RESULT; the class is the output neuron with the highest membrane
        (words in neuron order; a lane replaces the best only when strictly higher, so ties
        go to the lowest neuron), then ``DONE``."""
        token = core.membranes.payload
        P = len(token.v)
        best = Signal(token.v.shape().elem_shape, name="best_membrane")
        m.d.comb += [core.membranes.ready.eq(1),
                     membranes_w.addr.eq(token.word), membranes_w.data.eq(token.v),
                     membranes_w.en.eq(core.membranes.valid)]
        with m.State("MEMBRANES"):
            m.d.comb += s.scoring.eq(1)
            with m.If(core.membranes.valid):
                value, index = best, best_class
                for p in range(P):
                    take = (token.v[p] > value) | ((token.word == 0) & (p == 0))
                    value = Mux(take, token.v[p], value)
                    index = Mux(take, token.word * P + p, index)
                m.d.sync += [best.eq(value), best_class.eq(index)]
                with m.If(token.last):
                    m.next = "DONE"
