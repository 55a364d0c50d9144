"""The harness's script and capture formats (``plasticore.sim.harness``), without a simulator:
the words the harness plays and what :class:`CaptureReader` makes of its lines, worked out
by hand from the payload layouts, for one core and for a network of two layers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from plasticore.config import NetworkConfig
from plasticore.sim.core_session import Sample
from plasticore.sim.harness import TOPLEVEL, CaptureReader, build_dir, harness_verilog, write_script
from plasticore.sim.matrix import scaled_core, scaled_network

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


# -- a network of two layers (NetworkCore) ---------------------------------------------------

# 4 inputs -> 4 neurons (2 words of 2 lanes, 4-bit unsigned weights, 5-bit thresholds) ->
# 2 neurons (2 words of 1 lane, 4-bit signed weights, 5-bit thresholds, 6-bit biases)
NETWORK = scaled_network([4, 4, 2], [2, 1], timesteps=3, layers=[
    {"widths.weight": 4, "widths.theta": 5, "neuron.theta_plus": 3},
    {"widths.weight": 4, "widths.theta": 5, "widths.weight_signed": True, "widths.bias": 6,
     "neuron.theta_plus": 0, "neuron.w_inh": 0}])


def _access(write: int, theta: int, addr: int, data: int, layer: int, bias: int = 0) -> int:
    """The network's access word by hand: write (bit 0), theta (1), addr (2..4: at most 8
    weight words in a layer), data (5..14: the widest layer's 2 lanes of 5 bits), layer
    (15), bias (16)."""
    return write | theta << 1 | addr << 2 | data << 5 | layer << 15 | bias << 16


def test_network_script_words(tmp_path: Path) -> None:
    w0 = np.arange(16).reshape(4, 4) % 16
    w1 = np.array([[-3, 1], [2, -8], [7, 0], [-1, 5]])
    path = write_script(tmp_path / "s.hex", NETWORK, [w0, w1], [np.array([1, 2, 3, 4]),
                        np.array([5, 6])], [Sample(np.array([9, 0, 0, 255]), key=2,
                                                   learn=False)],
                        bias=[None, np.array([3, -32])])
    lines = path.read_text().splitlines()
    writes = [int(line.split()[1], 16) for line in lines[1:23]]
    assert all(line.split()[0] == "1" for line in lines[1:23])
    assert writes[0] == _access(1, 0, 0, 0 | 1 << 4, 0)         # input 0, neurons 0 and 1
    assert writes[7] == _access(1, 0, 7, 14 | 15 << 4, 0)       # input 3, neurons 2 and 3
    assert writes[8] == _access(1, 1, 0, 1 | 2 << 5, 0)         # thresholds of neurons 0, 1
    assert writes[10] == _access(1, 0, 0, 0b1101, 1)            # layer 1: -3 in 4 bits
    assert writes[13] == _access(1, 0, 3, 0b1000, 1)            # input 1, neuron 1: -8
    assert writes[18] == _access(1, 1, 0, 5, 1)                 # threshold of neuron 0
    assert writes[20:] == [_access(1, 0, 0, 3, 1, bias=1),      # biases: 3, -32 in 6 bits
                           _access(1, 0, 1, 0b100000, 1, bias=1)]
    assert lines[23] == f"3 {2:x} 4 9 0 0 ff"                  # command (key 2), 4 pixels
    reads = [int(line.split()[1], 16) for line in lines[24:-1]]
    assert all(line.split()[0] == "2" for line in lines[24:-1]) and len(reads) == 22
    assert reads[0] == 0 and reads[8] == _access(0, 1, 0, 0, 0)
    assert reads[10] == _access(0, 0, 0, 0, 1) and reads[-1] == _access(0, 0, 1, 0, 1, 1)
    assert lines[-1] == "0"


def test_network_capture_reader() -> None:
    # the last layer's spike payload: timestep (2 bits), word (1 bit), mask (1 bit); count:
    # neuron (1 bit), count (2 bits: up to 3 timesteps), last
    capture = io.StringIO(
        "T 0 30\nT 0 41\nT 1 45\nS " + f"{2 | 1 << 2 | 1 << 3:x}\n" + "T 0 52\nT 1 56\n"
        "T 1 67\n" + f"C {0 | 0 << 1}\nC {1 | 1 << 1 | 1 << 3:x}\n" + "E 10 14 75\n"
        + "".join(f"R {w:x}\n" for w in [0] * 10 + [0b1101, 0] + [0] * 6 + [5, 6, 3, 32]))
    reader = CaptureReader(NETWORK, capture)
    assert reader.read_samples() == 1
    got = reader.result
    assert got.spikes[0].tolist() == [[2, 1]]              # timestep 2, word 1, lane 0
    assert got.counts[0].tolist() == [0, 1]
    assert [e.tolist() for e in got.step_ends[0]] == [[20, 31, 42], [35, 46, 57]]
    assert got.cycles[0].tolist() == [35, 11, 11]          # the last layer's, from the command
    assert got.totals == [66]                              # 75 - 10 + 1
    state = reader.read_state()
    assert state.weights[0].shape == (4, 4) and not state.weights[0].any()
    assert state.weights[1].tolist() == [[-3, 0], [0, 0], [0, 0], [0, 0]]
    assert [t.tolist() for t in state.theta] == [[0, 0, 0, 0], [5, 6]]
    assert state.bias[0] is None and state.bias[1].tolist() == [3, -32]


def test_network_harness_verilog() -> None:
    """A network's harness instantiates network_core with a timestep_done bit and a T line
    per layer; a one-layer network's is its core's, byte for byte."""
    text = harness_verilog(NETWORK)
    assert "  network_core core (" in text and "  wire [1:0] timestep_done;" in text
    assert 'if (timestep_done[1]) $fwrite(fout, "T 1 %0d\\n", cycle);' in text
    assert "reg [16:0] access__payload" in text                # 17 bits, see _access
    assert "wire [9:0] readback__payload" in text
    alone = NetworkConfig.from_core(CORE)
    assert harness_verilog(alone) == harness_verilog(CORE)
    assert "  snn_core core (" in harness_verilog(CORE)
