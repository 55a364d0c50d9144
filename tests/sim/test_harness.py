"""The harness's script and capture formats (``plasticore.sim.harness``), without a simulator:
the words the harness plays and what :class:`CaptureReader` makes of its lines, worked out
by hand from the payload layouts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from plasticore.sim.core_session import Sample
from plasticore.sim.harness import TOPLEVEL, CaptureReader, build_dir, harness_verilog, write_script
from plasticore.sim.matrix import scaled_core

# 4 inputs, 4 neurons in 2 words of 2 lanes, 4-bit weights, 5-bit thresholds, 8-bit pixels
CORE = scaled_core(4, 8, n_inputs=4, n_neurons=4, timesteps=3).replace(n_pe=2)


def test_script_words(tmp_path: Path) -> None:
    weights = np.arange(16).reshape(4, 4) % 16
    theta = np.array([1, 2, 3, 4])
    path = write_script(tmp_path / "s.hex", CORE, weights, theta,
                        [Sample(np.array([1, 2, 3, 255]), key=5, learn=True)], stall=0.25)
    lines = path.read_text().splitlines()
    assert lines[0].split()[:2] == ["4", "4000"]          # stall 0.25 of 2**16
    # access payload: write (bit 0), theta (bit 1), addr (bits 2..4: 8 weight words),
    # data (2 lanes of max(4, 5) bits): weight word 0 = inputs 0, neurons 0 and 1
    assert lines[1] == f"1 {1 | 0 << 1 | 0 << 2 | (0 | 1 << 4) << 5:x}"
    assert lines[2] == f"1 {1 | 1 << 2 | (2 | 3 << 4) << 5:x}"   # word 1: neurons 2, 3
    assert lines[9] == f"1 {1 | 1 << 1 | 0 << 2 | (1 | 2 << 5) << 5:x}"  # theta word 0
    # the sample: command (key, learn at bit 32), 4 pixel words (1 lane)
    assert lines[11] == f"3 {5 | 1 << 32:x} 4 1 2 3 ff"
    assert lines[12] == "2 0" and lines[19] == f"2 {7 << 2:x}"   # reads of the 8 words
    assert lines[20] == f"2 {1 << 1:x}" and lines[-1] == "0"


def test_capture_reader() -> None:
    # spike payload: timestep (2 bits), word (1 bit), mask (2 bits); count payload:
    # neuron (2 bits), count (derived.count_bits), last
    cb = CORE.derived.count_bits
    capture = io.StringIO()
    reader = CaptureReader(CORE, capture)
    capture.write("T 20\nS " + f"{1 | 1 << 2 | 0b10 << 3:x}\nT 31\n")
    capture.seek(0)
    assert reader.read_samples() == 0                      # no end line yet
    pos = capture.tell()
    capture.write("T 40\n" + "".join(
        f"C {n | c << 2 | int(n == 3) << (2 + cb):x}\n"
        for n, c in enumerate([0, 0, 0, 1])) + "E 10 14 45\n" + "R 21\n")
    capture.seek(pos)
    assert reader.read_samples() == 1
    got = reader.result
    assert got.spikes[0].tolist() == [[1, 3]]              # timestep 1, word 1, lane 1
    assert got.counts[0].tolist() == [0, 0, 0, 1]
    assert got.cycles[0].tolist() == [6, 11, 9]            # from the last pixel, 14
    assert got.totals == [36]                              # 45 - 10 + 1
    with pytest.raises(ValueError, match="1 readback words, 10 expected"):
        reader.read_state()


def test_build_dir_follows_the_verilog(tmp_path: Path) -> None:
    a, b = tmp_path / "a.v", tmp_path / "b.v"
    a.write_text(harness_verilog(CORE))
    b.write_text(a.read_text() + "// one more line\n")
    assert build_dir("icarus", [a], tmp_path) == build_dir("icarus", [a], tmp_path)
    assert build_dir("icarus", [a], tmp_path).name.startswith(f"{TOPLEVEL}-icarus-")
    assert build_dir("icarus", [a], tmp_path) != build_dir("verilator", [a], tmp_path)
    assert build_dir("icarus", [a], tmp_path) != build_dir("icarus", [b], tmp_path)
