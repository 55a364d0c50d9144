"""The host's serial path end to end: ``plasticore board run --port`` and :class:`BoardLink`
over pyserial against a fake board on a pseudo-terminal (``boards/fakeboard.py``, answering
from the golden model), with slow, fragmented, malformed, noisy and stuck replies.

Every failure must be one line on stderr naming the port, exit 2, no traceback.  A run that
does not end within ``GUARD_S`` fails the test (a hang guard, not a speed limit: every run
here takes a few seconds at most).
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plasticore.boards.fakeboard import FakeBoard, PtyBoard, measure_throughput
from plasticore.boards.host import BoardLink, LinkError, SerialTransport, run_test_set
from plasticore.boards.protocol import (
    SYNC_REPLY,
    Command,
    Status,
    Target,
    identify_payload,
    reply_frame,
)
from plasticore.cli import main
from plasticore.config import load_config
from plasticore.golden.network import Network

CONFIG = load_config("digits")
CORE = CONFIG.core
GUARD_S = 60
#: digits: a RESULT payload is 13 header bytes and 100 counts of 2 bytes.
RESULT_BYTES = 13 + 100 * 2


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits network: initial weights, small random thresholds, a random readout."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("weights") / "w.npz"
    np.savez(path, weights=Network(CORE).weights, theta=rng.integers(0, 64, CORE.n_neurons),
             class_rates=rng.random((10, CORE.n_neurons)) * 5)
    return path


def guarded(fn: Callable[[], Any], guard: float = GUARD_S) -> Any:
    """``fn()`` in a thread: its value or its exception; a test failure if it hangs."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(guard)
    if thread.is_alive():
        pytest.fail(f"still running after {guard} s: the host hangs")
    if "error" in out:
        raise out["error"]
    return out["value"]


def board_run(capsys: pytest.CaptureFixture[str], weights: Path, port: str,
              samples: int = 2) -> tuple[int, str, str]:
    """``plasticore board run digits`` in this process (an exception escaping ``main`` fails
    the test): exit status, stdout, stderr."""
    status = guarded(lambda: main(["board", "run", "digits", "--weights", str(weights),
                                   "--port", port, "--samples", str(samples)]))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def board_run_process(weights: Path, port: str, samples: int = 2) -> tuple[int, str, str]:
    """The same in a fresh interpreter, as users run it."""
    done = subprocess.run([sys.executable, "-m", "plasticore.cli", "board", "run", "digits",
                           "--weights", str(weights), "--port", port, "--samples", str(samples)],
                          capture_output=True, text=True, timeout=GUARD_S)
    return done.returncode, done.stdout, done.stderr


def assert_port_error(status: int, err: str, port: str, *words: str) -> None:
    assert status == 2, err
    assert err.startswith(f"plasticore: error: {port}: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def frame_parts(frame: bytes) -> tuple[int, int, bytes]:
    """Command, status and payload of a reply frame."""
    command, status, length = struct.unpack_from("<BBH", frame, 1)
    return command, status, frame[5:5 + length]


class Misbehaving(FakeBoard):
    """A correct digits board except that ``wrong(frame)`` replaces its reply ``frame`` to
    ``command`` (the request is still carried out)."""

    def __init__(self, command: int, wrong: Callable[[bytes], Iterable[bytes]],
                 **kwargs: Any) -> None:
        super().__init__(CONFIG, **kwargs)
        self.command, self.wrong = command, wrong

    def reply(self, command: int, payload: bytes) -> Iterable[bytes]:
        frame = b"".join(super().reply(command, payload))
        return self.wrong(frame) if command == self.command else [frame]


def reframed(command: int | None = None, status: int | None = None,
             payload: Callable[[bytes], bytes] | None = None) -> Callable[[bytes], list[bytes]]:
    """A ``wrong`` that rebuilds the frame (good CRC) with another command, status or
    payload."""

    def wrong(frame: bytes) -> list[bytes]:
        c, s, p = frame_parts(frame)
        return [reply_frame(c if command is None else command, s if status is None else status,
                            p if payload is None else payload(p))]

    return wrong


# -- normal runs --------------------------------------------------------------------------


def test_board_run_matches_the_golden_model_through_a_serial_port(weights):
    """20 samples in a fresh interpreter: exit 0, every count and class equal.  (The driver
    before this fix waited its 2 s timeout for every one of the 57 replies: 114 s.)"""
    with PtyBoard(FakeBoard(CONFIG, busy_polls=2)) as pty:
        status, out, err = board_run_process(weights, pty.path, samples=20)
    assert status == 0, err
    assert f"board on {pty.path}, 20 test sample(s): every count and class equal" in out
    assert err == ""


def test_a_wrong_count_on_the_board_is_a_mismatch(weights, capsys):
    """The fault on purpose: the board adds one to neuron 3's count of every sample."""

    def plus_one(frame: bytes) -> list[bytes]:
        c, s, p = frame_parts(frame)
        count = int.from_bytes(p[13 + 6:13 + 8], "little") + 1
        return [reply_frame(c, s, p[:19] + count.to_bytes(2, "little") + p[21:])]

    with PtyBoard(Misbehaving(Command.RESULT, plus_one)) as pty:
        status, out, err = board_run(capsys, weights, pty.path)
    assert status == 1
    assert "MISMATCH: sample 0: neuron 3: count" in out


@pytest.mark.parametrize("line", [
    pytest.param({"delay": 0.1}, id="slow"),
    pytest.param({"chunk": 1, "gap": 0.001}, id="one-byte-writes"),
    pytest.param({"delay": 0.02, "chunk": 5, "gap": 0.01}, id="slow-fragments"),
])
def test_slow_and_fragmented_replies_end_when_the_frame_does(line):
    """With a silence timeout of 600 s, a run ends as soon as each reply frame is complete
    (the driver before this fix read 4096 bytes or waited out the timeout: a hang here)."""
    rng = np.random.default_rng(3)
    net = Network(CORE)
    rates = rng.random((10, CORE.n_neurons)) * 5
    images = rng.integers(0, 256, (2, CORE.n_inputs))
    with PtyBoard(FakeBoard(CONFIG), **line) as pty:
        transport = SerialTransport(pty.path, CONFIG.board.baud)
        try:
            link = BoardLink(transport, CONFIG, timeout=600)
            report = guarded(lambda: run_test_set(link, net.weights, net.theta, rates,
                                                  images, np.zeros(2)))
        finally:
            transport.close()
    assert report.samples == 2 and report.matched, report.first_mismatch


def test_one_byte_writes_through_the_cli(weights, capsys):
    """10 samples, every reply a byte at a time: about 2 s (the driver before this fix
    waited its 2 s timeout for each of the 37 replies: 74 s, past the guard)."""
    with PtyBoard(FakeBoard(CONFIG), chunk=1, gap=0.0005) as pty:
        status, out, err = board_run(capsys, weights, pty.path, samples=10)
    assert status == 0, err
    assert "10 test sample(s): every count and class equal" in out


# -- malformed replies --------------------------------------------------------------------

OTHER_CLASSES = bytearray(identify_payload(CONFIG))
OTHER_CLASSES[25] = 12          # n_classes: after the 16-byte head, 2+2+2 bytes, n_pe, w, th

MALFORMED = [
    ("identify-bad-magic", Command.IDENTIFY, reframed(payload=lambda p: b"PLXX" + p[4:]),
     ["not from a plasticore bitstream", "b'PLXX'"]),
    ("identify-empty", Command.IDENTIFY, reframed(payload=lambda p: b""),
     ["IDENTIFY reply has 0 payload bytes, expected 38 or more"]),
    ("identify-short", Command.IDENTIFY, reframed(payload=lambda p: p[:10]),
     ["IDENTIFY reply has 10 payload bytes, expected 38 or more"]),
    ("identify-long", Command.IDENTIFY, reframed(payload=lambda p: p + b"\x00"),
     ["IDENTIFY reply has 39 payload bytes, expected 38 for the 1 layers it names"]),
    ("identify-two-layers", Command.IDENTIFY,
     reframed(payload=lambda p: p[:28] + b"\x02" + p[29:]),
     ["IDENTIFY reply has 38 payload bytes, expected 47 for the 2 layers it names"]),
    ("identify-protocol-1", Command.IDENTIFY,
     reframed(payload=lambda p: p[:4] + b"\x01" + p[5:]), ["host-link protocol 1"]),
    ("identify-other-classes", Command.IDENTIFY, reframed(payload=lambda p: OTHER_CLASSES),
     ["n_classes = 12", "configuration 10"]),
    ("write-memory-payload", Command.WRITE_MEMORY, reframed(payload=lambda p: b"\x01\x02"),
     ["WRITE_MEMORY reply has 2 payload bytes, expected 0"]),
    ("run-sample-payload", Command.RUN_SAMPLE, reframed(payload=lambda p: b"\x00"),
     ["RUN_SAMPLE reply has 1 payload bytes, expected 0"]),
    ("result-short", Command.RESULT, reframed(payload=lambda p: p[:-1]),
     [f"RESULT reply has {RESULT_BYTES - 1} payload bytes, expected {RESULT_BYTES}"]),
    ("result-long", Command.RESULT, reframed(payload=lambda p: p + b"\x00"),
     [f"RESULT reply has {RESULT_BYTES + 1} payload bytes, expected {RESULT_BYTES}"]),
    ("result-empty", Command.RESULT, reframed(payload=lambda p: b""),
     [f"RESULT reply has 0 payload bytes, expected {RESULT_BYTES}"]),
    ("result-to-status", Command.RESULT, reframed(command=Command.STATUS),
     ["a reply to STATUS came while waiting for RESULT"]),
    ("result-unknown-status", Command.RESULT, reframed(status=0x09, payload=lambda p: b""),
     ["reply to RESULT has unknown status 0x09"]),
    ("busy-with-payload", Command.RESULT, reframed(status=Status.BUSY),
     [f"BUSY reply to RESULT carries {RESULT_BYTES} payload bytes"]),
    ("result-bad-crc", Command.RESULT, lambda f: [f[:-1] + bytes([f[-1] ^ 0x40])],
     ["reply to RESULT failed its CRC"]),
    ("result-no-result", Command.RESULT, reframed(status=Status.NO_RESULT, payload=lambda p: b""),
     ["board answered RESULT with NO_RESULT"]),
]


@pytest.mark.parametrize("command, wrong, words",
                         [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_a_malformed_reply_is_one_line_naming_the_port(weights, capsys, command, wrong, words):
    with PtyBoard(Misbehaving(command, wrong)) as pty:
        status, out, err = board_run(capsys, weights, pty.path)
    assert_port_error(status, err, pty.path, *words)
    assert out == ""


def test_a_truncated_reply_is_one_line_after_the_silence(weights, capsys):
    """100 bytes of the RESULT frame, then nothing: the CLI's 2 s timeout of silence."""
    with PtyBoard(Misbehaving(Command.RESULT, lambda f: [f[:100]])) as pty:
        status, _, err = board_run(capsys, weights, pty.path)
    assert_port_error(status, err, pty.path, "no reply to RESULT within 2 s",
                      "100 bytes came, no whole reply frame")


@pytest.mark.parametrize("payload, words", [
    pytest.param(lambda p: p[:-1], "STATUS reply has 25 payload bytes, expected 26", id="short"),
    pytest.param(lambda p: p + b"\x00", "STATUS reply has 27 payload bytes, expected 26",
                 id="long"),
    pytest.param(lambda p: b"", "STATUS reply has 0 payload bytes, expected 26", id="empty"),
])
def test_a_status_reply_of_the_wrong_length_is_a_link_error(payload, words):
    with PtyBoard(Misbehaving(Command.STATUS, reframed(payload=payload))) as pty:
        transport = SerialTransport(pty.path, CONFIG.board.baud)
        try:
            with pytest.raises(LinkError, match=words):
                guarded(BoardLink(transport, CONFIG).status)
        finally:
            transport.close()


@pytest.mark.parametrize("payload, got", [
    pytest.param(lambda p: p[:-7], 14, id="a-word-short"),   # theta words are 7 bytes
    pytest.param(lambda p: p[:-1], 20, id="a-byte-short"),
    pytest.param(lambda p: p + bytes(7), 28, id="a-word-long"),
])
def test_a_read_back_of_the_wrong_length_is_a_link_error(payload, got):
    """READ_MEMORY of 3 threshold words must answer 3 * 7 = 21 bytes."""
    with PtyBoard(Misbehaving(Command.READ_MEMORY, reframed(payload=payload))) as pty:
        transport = SerialTransport(pty.path, CONFIG.board.baud)
        try:
            link = BoardLink(transport, CONFIG)
            with pytest.raises(LinkError,
                               match=f"READ_MEMORY reply has {got} payload bytes, expected 21"):
                guarded(lambda: link.read_memory(Target.THETA, 3))
        finally:
            transport.close()


# -- line noise and a stuck board ---------------------------------------------------------


def endless(pattern: Callable[[random.Random], bytes]) -> Callable[[bytes], Iterator[bytes]]:
    """A ``wrong`` that sends ``pattern`` chunks for ever instead of the reply."""

    def wrong(frame: bytes) -> Iterator[bytes]:
        rng = random.Random(5)
        while True:
            yield pattern(rng)

    return wrong


def no_sync(rng: random.Random) -> bytes:
    return bytes(rng.choice([b for b in range(256) if b != SYNC_REPLY]) for _ in range(64))


def false_syncs(rng: random.Random) -> bytes:
    """Sync bytes whose headers announce 65535 payload bytes, more than any reply."""
    return bytes([SYNC_REPLY, Command.IDENTIFY, 0, 0xFF, 0xFF]) * 16


def random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(64))


def test_line_noise_ends_the_cli_run(weights):
    """Bytes for ever and never a sync byte: exit 2 after a bounded number of bytes (the
    driver before this fix skipped them for ever)."""
    with PtyBoard(Misbehaving(Command.IDENTIFY, endless(no_sync))) as pty:
        status, _, err = board_run_process(weights, pty.path)
    assert_port_error(status, err, pty.path, "bytes of line noise and no reply frame to "
                      "IDENTIFY")


@pytest.mark.parametrize("pattern, words", [
    pytest.param(no_sync, "line noise", id="no-sync"),
    pytest.param(false_syncs, "line noise", id="false-syncs"),
    pytest.param(random_bytes, "line noise|CRC", id="random"),
])
def test_line_noise_is_a_link_error_within_a_bounded_number_of_bytes(pattern, words):
    """The link reads at most 4 largest reply frames of noise (4 * (7 + 512) bytes for
    digits) and a few chunks more before it gives up."""
    with PtyBoard(Misbehaving(Command.STATUS, endless(pattern))) as pty:
        transport = SerialTransport(pty.path, CONFIG.board.baud)
        try:
            link = BoardLink(transport, CONFIG)
            with pytest.raises(LinkError, match=words):
                guarded(link.status)
        finally:
            transport.close()
    assert link.noise_limit == 4 * (7 + 512)
    assert link.line_bytes <= 6 + link.noise_limit + 4096


def test_a_board_busy_for_ever_is_a_link_error_after_the_bound():
    with PtyBoard(FakeBoard(CONFIG, compute=False, busy_polls=1 << 62)) as pty:
        transport = SerialTransport(pty.path, CONFIG.board.baud)
        try:
            link = BoardLink(transport, CONFIG, busy_timeout=0.2)
            with pytest.raises(LinkError, match=r"still answers RESULT with BUSY after 0\.2 s"):
                guarded(lambda: link.run_sample(np.zeros(CORE.n_inputs), key=0))
        finally:
            transport.close()


def test_a_board_busy_for_ever_ends_the_cli_run(weights):
    """The default bound: 10 times the cycle model's slowest digits sample (1,129,485
    cycles at 60 MHz, 18.8 ms) plus 1 s."""
    with PtyBoard(FakeBoard(CONFIG, busy_polls=1 << 62)) as pty:
        status, _, err = board_run_process(weights, pty.path)
    assert_port_error(status, err, pty.path, "still answers RESULT with BUSY after 1.19 s",
                      "18.8 ms")


# -- fuzz ---------------------------------------------------------------------------------

MUTATIONS = ["none", "truncate", "bitflip", "length", "payload", "status", "command",
             "noise-before", "noise-after", "duplicate", "drop", "random"]


def mutate(rng: random.Random, kind: str, frame: bytes) -> bytes:
    """``frame`` (a correct reply) spoilt one way."""
    c, s, p = frame_parts(frame)
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
    if kind == "truncate":
        return frame[:rng.randrange(len(frame))]
    if kind == "bitflip":
        spoilt = bytearray(frame)
        spoilt[rng.randrange(len(frame))] ^= 1 << rng.randrange(8)
        return bytes(spoilt)
    if kind == "length":
        return frame[:3] + struct.pack("<H", rng.randrange(1 << 16)) + frame[5:]
    if kind == "payload":
        cut = rng.randrange(len(p) + 1)
        return reply_frame(c, s, p[:cut] + noise[:rng.randrange(3)])
    if kind == "status":
        return reply_frame(c, rng.randrange(256), p)
    if kind == "command":
        return reply_frame(rng.randrange(256), s, p)
    if kind == "noise-before":
        return noise + frame
    if kind == "noise-after":
        return frame + noise
    if kind == "duplicate":
        return frame + frame
    if kind == "drop":
        return b""
    if kind == "random":
        return noise
    return frame


class Fuzzing(FakeBoard):
    """Answers every request with its correct reply spoilt by a random :func:`mutate`."""

    def __init__(self, seed: int) -> None:
        super().__init__(CONFIG, compute=False)
        self.rng = random.Random(seed)
        self.kinds: list[str] = []

    def reply(self, command: int, payload: bytes) -> Iterable[bytes]:
        frame = b"".join(super().reply(command, payload))
        self.kinds.append(self.rng.choice(MUTATIONS))
        return [mutate(self.rng, self.kinds[-1], frame)]


def fuzz(rounds: int, seed: int) -> Counter[str]:
    """``rounds`` random requests against :class:`Fuzzing`: each must end in a value or a
    :class:`LinkError`; a round that takes over 10 s is a hang."""
    rng = random.Random(seed)
    image = np.arange(CORE.n_inputs)
    actions = {
        "identify": lambda link: link.check_identity(),
        "status": lambda link: link.status(),
        "read": lambda link: link.read_memory(Target.THETA, rng.randint(1, 25)),
        "write": lambda link: link.write_memory(Target.VOTES, [rng.randrange(256)] * 9,
                                                rng.randrange(990)),
        "sample": lambda link: link.run_sample(image, key=rng.randrange(1 << 32)),
    }
    outcomes: Counter[str] = Counter()
    done = [0]
    failure: list[BaseException] = []
    board = Fuzzing(seed)
    with PtyBoard(board) as pty:
        transport = SerialTransport(pty.path, CONFIG.board.baud)
        link = BoardLink(transport, CONFIG, timeout=0.05, busy_timeout=0.2)

        def work() -> None:
            try:
                for _ in range(rounds):
                    name = rng.choice(sorted(actions))
                    try:
                        actions[name](link)
                        outcomes[f"{name} ok"] += 1
                    except LinkError:
                        outcomes[f"{name} LinkError"] += 1
                    done[0] += 1
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        seen = -1
        while thread.is_alive():
            if done[0] == seen:
                pytest.fail(f"round {seen} (after mutations {board.kinds[-3:]}) hung")
            seen = done[0]
            thread.join(10)
        transport.close()
    if failure:
        raise AssertionError(f"round {done[0]} (mutations {board.kinds[-3:]}): "
                             f"{failure[0]!r}") from failure[0]
    assert sum(outcomes.values()) == rounds
    assert Counter(board.kinds)["none"] > 0
    return outcomes


def test_fuzzed_replies_end_in_a_value_or_a_link_error():
    outcomes = fuzz(300, seed=1)
    # not vacuous: some requests got through, some replies were refused
    assert sum(v for k, v in outcomes.items() if k.endswith(" ok")) > 0
    assert sum(v for k, v in outcomes.items() if k.endswith("LinkError")) > 0


@pytest.mark.slow
def test_fuzzed_replies_10000():
    fuzz(10_000, seed=2)


# -- throughput accounting ----------------------------------------------------------------


def test_throughput_counts_every_byte_on_the_line():
    """digits, 3 samples: IDENTIFY 6 + 45 bytes (a 38-byte identity: 28, the layer count,
    9 for the layer); weights 1600 words of 4 bytes in 12 frames
    of 128 words (4 + 515 + 2 bytes) and one of 64 (4 + 259 + 2); thresholds 25 words of 7
    bytes in one frame (4 + 178 + 2); votes 1000 bytes in frames of 512 and 488 (521 and
    497 bytes); a 7-byte reply to each of these 16 writes; per sample RUN_SAMPLE 4 + 69 + 2
    and its reply 7, RESULT 6 and its reply 7 + 213."""
    load = 6 + 45 + 12 * 521 + 265 + 184 + 521 + 497 + 16 * 7
    per_sample = 75 + 7 + 6 + 220
    got = measure_throughput(CONFIG, samples=3)
    assert got["bytes"] == load + 3 * per_sample == 8806
    assert got["line_bytes_per_s"] == 11_520
    assert got["percent_of_line"] == pytest.approx(100 * got["bytes"] / got["seconds"]
                                                   / 11_520)


def test_the_fake_board_answers_as_the_protocol_says():
    """Statuses by the table in docs/protocol.md, for requests a correct host never sends."""
    board = FakeBoard(CONFIG)
    assert board.handle(Command.RESULT, b"")[0] == Status.NO_RESULT
    assert board.handle(Command.STATUS, b"\x00")[0] == Status.BAD_LENGTH
    assert board.handle(0x42, b"")[0] == Status.UNKNOWN_COMMAND
    # weights: 1600 words of 4 bytes
    assert board.handle(Command.WRITE_MEMORY, struct.pack("<BH", 0, 1599) + bytes(8))[0] \
        == Status.BAD_ADDRESS
    assert board.handle(Command.WRITE_MEMORY, struct.pack("<BH", 0, 0) + bytes(5))[0] \
        == Status.BAD_LENGTH
    assert board.handle(Command.WRITE_MEMORY, struct.pack("<BH", 3, 0) + bytes(4))[0] \
        == Status.BAD_ADDRESS
    assert board.handle(Command.WRITE_MEMORY, struct.pack("<BH", 1, 24) + bytes(range(7))) \
        == (Status.OK, b"")
    assert board.handle(Command.READ_MEMORY, struct.pack("<BHH", 1, 24, 1)) \
        == (Status.OK, bytes(range(7)))
    assert board.handle(Command.READ_MEMORY, struct.pack("<BHH", 1, 0, 0))[0] \
        == Status.BAD_LENGTH
    assert board.handle(Command.RUN_SAMPLE, bytes(5 + 63))[0] == Status.BAD_LENGTH
    request_crc = b"\xa5\x02\x00\x00\x00\x00"       # STATUS with a wrong CRC
    assert list(board.replies(request_crc)) == [reply_frame(Command.STATUS, Status.BAD_CRC)]


def test_bench_link_counts_every_byte_both_ways(tmp_path, capsys):
    """``plasticore bench link``: an unpaced and a paced run, each moving the bytes counted
    by hand above (8,796 for 3 samples, 308 fewer per sample: 8,488 for 2)."""
    assert main(["bench", "link", "--samples", "2", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "link.json").read_text())
    assert [r["line_rate"] for r in result["runs"]] == [False, True]
    assert [r["bytes"] for r in result["runs"]] == [8806 - 308] * 2
    assert "share of the line rate" in (tmp_path / "link.md").read_text()
    capsys.readouterr()


def test_board_serve_answers_board_run(weights, capsys):
    """``plasticore board serve`` in its own process: the port it prints takes a whole
    ``board run`` (every count and class as the golden model's), and Ctrl-C ends it."""
    import signal

    with subprocess.Popen([sys.executable, "-m", "plasticore.cli", "board", "serve",
                           "digits"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as server:
        try:
            line = guarded(server.stdout.readline)
            port = line.split(" fake board on ")[1].split(":")[0]
            status, out, err = board_run(capsys, weights, port)
            assert status == 0, err
            assert "every count and class equal to the golden model" in out
            server.send_signal(signal.SIGINT)
            assert server.wait(GUARD_S) == 0
        finally:
            server.kill()
            server.communicate()


def test_board_serve_and_bench_link_errors_are_one_line(capsys):
    assert main(["board", "serve", "no-such-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plasticore: error: no-such-config: no such config file")
    assert err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "link", "--samples", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith("plasticore: error: bench: argument --samples: expected a "
                          "positive integer, got '0'")
