"""The host driver (``boards/host.py``) against scripted transports, and ``board`` CLI errors."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pytest

from plasticore.boards.host import BoardLink, LinkError, Transport
from plasticore.boards.protocol import (
    Command,
    Geometry,
    Status,
    Target,
    crc16,
    identify_payload,
    reply_frame,
)
from plasticore.cli import main
from plasticore.config import ConfigError, load_config


class Scripted(Transport):
    """Answers each write with the next scripted bytes (split in two reads)."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.written: list[bytes] = []
        self.pending = b""

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self.pending += self.answers.pop(0) if self.answers else b""

    def read(self, n: int, timeout: float) -> bytes:
        half = max(1, len(self.pending) // 2)
        out, self.pending = self.pending[:half], self.pending[half:]
        return out


def test_identity_of_another_config_is_refused():
    """Another geometry: the first layer field that differs is named; the same geometry
    with another neuron parameter: the digest."""
    digits = load_config("digits")
    other = load_config("mnist-400")
    link = BoardLink(Scripted([reply_frame(Command.IDENTIFY, 0, identify_payload(other))]),
                     digits, timeout=0.01)
    with pytest.raises(LinkError, match=r"^the board's layer 0 has n_inputs = 784, the "
                                        r"configuration 64 \("):
        link.check_identity()
    t_ref = digits.core.neuron.t_ref + 1
    tuned = dataclasses.replace(digits, core=digits.core.replace(**{"neuron.t_ref": t_ref}))
    link = BoardLink(Scripted([reply_frame(Command.IDENTIFY, 0, identify_payload(tuned))]),
                     digits, timeout=0.01)
    with pytest.raises(LinkError, match="runs configuration"):
        link.check_identity()


def test_silence_and_bad_crc_are_link_errors():
    config = load_config("digits")
    with pytest.raises(LinkError, match="no reply to STATUS"):
        BoardLink(Scripted([b""]), config, timeout=0.01).status()
    frame = bytearray(reply_frame(Command.STATUS, 0, bytes(26)))
    frame[7] ^= 1
    with pytest.raises(LinkError, match="CRC"):
        BoardLink(Scripted([bytes(frame)]), config, timeout=0.01).status()
    with pytest.raises(LinkError, match="BUSY"):
        BoardLink(Scripted([reply_frame(Command.STATUS, Status.BUSY)]), config,
                  timeout=0.01).status()


def test_write_memory_splits_into_chunks_and_frames_words_little_endian():
    config = load_config("digits")
    g = Geometry.of(config)
    n = g.chunk_words(Target.WEIGHTS) + 3
    transport = Scripted([reply_frame(Command.WRITE_MEMORY, 0)] * 2)
    BoardLink(transport, config, timeout=0.01).write_memory(
        Target.WEIGHTS, [0x04030201 + i for i in range(n)], address=5)
    first, second = transport.written
    assert first[1] == Command.WRITE_MEMORY
    assert first[4:7] == bytes([Target.WEIGHTS, 5, 0])
    assert first[7:11] == bytes([1, 2, 3, 4])
    assert second[4:7] == struct.pack("<BH", Target.WEIGHTS, 5 + g.chunk_words(
        Target.WEIGHTS))
    assert len(second) == 1 + 3 + 3 + 3 * 4 + 2


def test_a_word_longer_than_a_frame_is_a_config_error(tmp_path, capsys):
    """n_pe = 400 with 16-bit weights: 800-byte weight words, more than one frame carries."""
    config = load_config("mnist-400")
    config = dataclasses.replace(config, core=config.core.replace(
        n_pe=400, **{"widths.weight": 16, "widths.membrane": 24, "widths.theta": 14}))
    with pytest.raises(ConfigError, match=r"n_pe = 400: a weights word of 800 bytes"):
        Geometry.of(config)
    path = tmp_path / "wide.toml"
    config.save(path)
    weights = tmp_path / "w.npz"
    weights.write_bytes(b"")
    status = main(["board", "run", str(path), "--weights", str(weights), "--simulate",
                   "icarus"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "800 bytes" in err


def test_sample_payload_pixels_and_raster():
    config = load_config("digits")
    transport = Scripted([reply_frame(Command.RUN_SAMPLE, 0)])
    BoardLink(transport, config, timeout=0.01).start_sample(np.arange(64), key=9, learn=True)
    assert transport.written[0][4:9] == bytes([1, 9, 0, 0, 0])
    assert transport.written[0][9:9 + 64] == bytes(range(64))


# -- CLI -------------------------------------------------------------------------------------


def test_board_run_bad_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["board", "run", "digits", "--weights", str(tmp_path / "none.npz"),
                 "--port", "/dev/null"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plasticore: error:") and "no such weights file" in err
    assert "\n" not in err

    from plasticore.golden.network import Network

    net = Network(load_config("digits").core)
    path = tmp_path / "w.npz"
    np.savez(path, weights=net.weights, theta=net.theta)
    assert main(["board", "run", "digits", "--weights", str(path), "--port", "/dev/null"]) == 2
    assert "no readout" in capsys.readouterr().err

    np.savez(path, weights=net.weights, theta=net.theta, class_rates=np.zeros((10, 100)))
    assert main(["board", "run", "digits", "--weights", str(path),
                 "--port", str(tmp_path / "ttyNONE")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot open serial port" in err or "pyserial" in err
    assert "\n" not in err


def test_board_simulation_failures_are_one_line(monkeypatch, capsys):
    """A missing simulator is a user error (2); a run that wrote no report exits 1; both one
    line, no traceback."""
    from plasticore.boards import board_sim
    from plasticore.sim.cosim import CosimError
    from plasticore.sim.runner import SimulatorNotFoundError

    def missing(*args, **kwargs):
        raise SimulatorNotFoundError("Icarus Verilog not found on PATH")

    monkeypatch.setattr(board_sim, "run", missing)
    assert main(["board", "fuzz", "digits", "--frames", "3", "--simulator", "icarus"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "plasticore: error: Icarus Verilog not found on PATH"

    def crashed(*args, **kwargs):
        raise CosimError("the simulation produced no report; see build/x/sim.log")

    monkeypatch.setattr(board_sim, "run", crashed)
    assert main(["board", "fuzz", "digits", "--frames", "3"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("plasticore: error: the simulation produced no report")
    assert "\n" not in err


@pytest.mark.parametrize("poll, polls", [
    # each poll is a 6-byte RESULT request and a 7-byte BUSY reply: 13 bytes of 10 bits at
    # 115200 baud, 1.1285 ms of line time.  The link gives up at the first poll that ends
    # past 0.05 s: 13 * 10 * k / 115200 > 0.05 first holds at k = 45 ...
    (0.0, 45),
    # ... and with a 1 ms pause after every poll but the last, 1.1285 k + (k - 1) > 50 ms
    # first at k = 24.
    (0.001, 24),
])
def test_busy_for_ever_without_a_clock_is_bounded_by_line_time(poll, polls):
    config = load_config("digits")
    busy = reply_frame(Command.RESULT, Status.BUSY)
    transport = Scripted([busy] * 1000)
    link = BoardLink(transport, config, timeout=0.01, poll=poll, busy_timeout=0.05)
    with pytest.raises(LinkError, match=r"still answers RESULT with BUSY after 0\.05 s"):
        link.wait_result()
    assert len(transport.written) == polls


def test_the_default_busy_bound_comes_from_the_cycle_model():
    """digits: the slowest sample (every input and neuron spiking, learning on) is
    1,129,485 cycles by hdl.cycles (18.82 ms at 60 MHz); 10 times that plus 1 s."""
    from plasticore.hdl.cycles import sample_cycles

    config = load_config("digits")
    core = config.core
    cycles = sample_cycles(core, np.ones((350, 64), bool), np.ones((350, 100), bool),
                           learn=True).total
    assert cycles == 1_129_485
    link = BoardLink(Scripted([]), config)
    assert link.busy_timeout == pytest.approx(10 * cycles / 60e6 + 1.0)


def test_crc16_equals_amaranths_bitwise_crc():
    """The table-driven crc16 against ``CRC.compute`` (amaranth's reference, a bit at a
    time) on random frames of every length up to the largest, and the check value."""
    import random

    from plasticore.boards.protocol import CRC

    rng = random.Random(0)
    assert crc16(b"123456789") == 0x29B1
    for n in range(0, 7 + 813, 3):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert crc16(data) == int(CRC.compute(data)), n
