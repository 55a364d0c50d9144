"""A Verilog harness that runs the core free, without Python in the loop per cycle.

``plasticore.sim.core_session.drive`` moves the core one clock at a time from Python; under
cocotb every cycle then crosses the simulator interface, which caps Verilator at about
23,000 core cycles per second.  The harness (:func:`harness_verilog`, top module
:data:`TOPLEVEL`) instead wraps ``snn_core`` with its own clock (``always #5``), plays a
session script from a file and writes what the core produces into another, so the
simulator runs a whole sample at its own speed and Python wakes once per sample:

- the **script** (:func:`write_script`, whitespace-separated hex words read with
  ``$fscanf``) holds the stall setting, the access writes (every layer's weights,
  thresholds and biases), every sample (command, then its pixel or raster words) and the
  access reads;
- the harness drives the core's streams as ``drive`` does, cycle for cycle: a token is held
  until taken, the pixels follow the command's cycle back to back, the spike and count
  consumers drop ``ready`` with a seeded pattern (a xorshift generator in the harness,
  probability ``stall``), the spikes still queued after the last count are drained;
- the **capture** (``$fwrite``, flushed after every sample) has a line per spike token
  (``S``), timestep end (``T cycle``; a network: ``T layer cycle``, one per layer),
  count token (``C``), membrane token (``M``, with a membrane readout only: the
  ``membrane_layout`` word, after the counts; its consumer stalls with the count
  consumer's draw, and its last token, not the last count, ends the sample), readback
  (``R``) and sample end (``E started loaded last``);
  :class:`CaptureReader` turns it into the
  :class:`~plasticore.sim.core_session.SessionResult` ``drive`` would have returned;
- the harness counts finished samples on its output ``samples_done`` and raises
  ``finished`` after the script's end, which the cocotb side awaits (``tb_core.py``).

The cycle numbers (command, last pixel, timestep ends, last count) are those ``drive``
records, so the cycles per timestep and per sample compare with the cycle model unchanged.

The design is a :class:`~.target.Target`: one ``snn_core`` (a ``CoreConfig``), or a
``network_core`` (``NetworkCore``, a ``NetworkConfig`` of several layers).  A network takes
the first layer's command and input and gives the last layer's spikes and counts; its
access words carry a ``layer`` field, its ``timestep_done`` has a bit per layer, each
captured as its own ``T`` line, so every layer's timestep ends compare with
``hdl.cycles.network_sample_cycles``.  A one-layer network is its core: the same harness.
Under Verilator the harness needs ``--timing``: run it with ``run_cocotb(..., timing=True)``.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from amaranth import Shape

from ..config import CoreConfig, NetworkConfig
from ..hdl.core.layouts import (
    command_layout,
    count_layout,
    input_stream,
    membrane_layout,
    spike_layout,
)
from .core_session import Sample, SessionResult
from .target import CORE_MODULE, Target

__all__ = [
    "TOPLEVEL",
    "CORE_TOPLEVEL",
    "SCRIPT_NAME",
    "CAPTURE_NAME",
    "CLOCK_NS",
    "harness_verilog",
    "build_dir",
    "write_script",
    "CaptureReader",
]

TOPLEVEL = "snn_harness"
"""Top module of the harness."""
CORE_TOPLEVEL = CORE_MODULE
"""Module name the harness instantiates for a single core (a network's:
``Target.module``)."""
SCRIPT_NAME = "harness_script.hex"
"""The script file, relative to the simulator's working directory."""
CAPTURE_NAME = "harness_capture.txt"
"""The capture file, relative to the simulator's working directory."""
CLOCK_NS = 10
"""The harness clock period."""

# script opcodes
_END, _WRITE, _READ, _SAMPLE, _STALL = 0, 1, 2, 3, 4
_STALL_SCALE = 1 << 16


def _width(layout: Any) -> int:
    return int(Shape.cast(layout).width)


def _membrane_parts(target: Target) -> dict[str, str]:
    """The harness's Verilog for the membrane stream (empty strings without one): its
    registers and wires, its port connections, its capture, its stall draw, and the end
    of the sample (the last membrane token instead of the last count)."""
    nw = _width(count_layout(target.last))
    ends_on_count = f"counts__valid && counts__ready && counts__payload[{nw - 1}]"
    if target.membrane is None:
        return dict(wires="", ports="", capture="", draw="", stop="", end=ends_on_count)
    mw = _width(membrane_layout(target.last))
    return dict(
        wires=f"\n  reg membranes__ready = 0;\n  wire membranes__valid;"
              f"\n  wire [{mw - 1}:0] membranes__payload;",
        ports="\n    .membranes__valid(membranes__valid), .membranes__ready(membranes__ready),"
              "\n    .membranes__payload(membranes__payload),",
        capture='\n        if (membranes__valid && membranes__ready) '
                '$fwrite(fout, "M %h\\n", membranes__payload);',
        draw="\n      membranes__ready <= {1'b0, rnd[31:16]} >= stall;",
        stop="\n          membranes__ready <= 0;",
        end=f"membranes__valid && membranes__ready && membranes__payload[{mw - 1}]")


def harness_verilog(config: CoreConfig | NetworkConfig | Target) -> str:
    """The harness module (:data:`TOPLEVEL`) around the design of ``config``
    (``snn_core``, or ``network_core`` for several layers; a ``Target`` with a membrane
    readout also takes its ``membranes``)."""
    target = Target.of(config)
    first, last, layers = target.first, target.last, len(target.cores)
    src, payload = input_stream(first)      # pixels (rate or current input), or a raster
    pixels = src == "pixels"
    cw = _width(command_layout(first))
    sw = _width(payload)
    pw = _width(spike_layout(last))
    nw = _width(count_layout(last))
    aw = _width(target.access_layout)
    rw = target.readback_bits
    loaded = "loaded <= cycle;" if pixels else ""
    membrane = _membrane_parts(target)
    captures = ('if (counts__valid && counts__ready) $fwrite(fout, "C %h\\n", counts__payload);'
                + membrane["capture"])
    if target.layered:      # a timestep_done bit and a T line per layer
        done_wires = f"busy;\n  wire [{layers - 1}:0] timestep_done;"
        step_ends = "\n        ".join(
            f'if (timestep_done[{n}]) $fwrite(fout, "T {n} %0d\\n", cycle);'
            for n in range(layers))
    else:
        done_wires = "busy, timestep_done;"
        step_ends = 'if (timestep_done) $fwrite(fout, "T %0d\\n", cycle);'
    return f"""\
`timescale 1ns/1ps
// Generated by plasticore.sim.harness: runs {target.module} free from a script; see its docstring.
// Only these ports are visible to cocotb: the build leaves out --public-flat-rw, which
// makes the model about ten times slower
module {TOPLEVEL}(start, samples_done, finished);
  input start /*verilator public_flat_rw*/;
  output reg [31:0] samples_done /*verilator public_flat_rw*/ = 0;
  output reg finished /*verilator public_flat_rw*/ = 0;

  reg clk = 0;
  always #{CLOCK_NS // 2} clk = ~clk;
  reg rst = 1;
  reg [1:0] rst_count = 0;

  reg command__valid = 0;
  reg [{cw - 1}:0] command__payload = 0;
  reg {src}__valid = 0;
  reg [{sw - 1}:0] {src}__payload = 0;
  reg spikes__ready = 0;
  reg counts__ready = 0;
  reg access__valid = 0;
  reg [{aw - 1}:0] access__payload = 0;
  reg readback__ready = 0;
  wire command__ready, {src}__ready, spikes__valid, counts__valid, access__ready;
  wire readback__valid, {done_wires}
  wire [{pw - 1}:0] spikes__payload;
  wire [{nw - 1}:0] counts__payload;
  wire [{rw - 1}:0] readback__payload;{membrane["wires"]}

  {target.module} core (
    .clk(clk), .rst(rst),
    .command__valid(command__valid), .command__ready(command__ready),
    .command__payload(command__payload),
    .{src}__valid({src}__valid), .{src}__ready({src}__ready), .{src}__payload({src}__payload),
    .spikes__valid(spikes__valid), .spikes__ready(spikes__ready),
    .spikes__payload(spikes__payload),
    .counts__valid(counts__valid), .counts__ready(counts__ready),
    .counts__payload(counts__payload),{membrane["ports"]}
    .access__valid(access__valid), .access__ready(access__ready),
    .access__payload(access__payload),
    .readback__valid(readback__valid), .readback__ready(readback__ready),
    .readback__payload(readback__payload),
    .busy(busy), .timestep_done(timestep_done));

  localparam WAIT = 0, ACCESS = 1, READBACK = 2, COMMAND = 3, SAMPLE = 4, DRAIN = 5,
             DONE = 6;
  reg [2:0] state = WAIT;
  integer fin = 0, fout = 0, r = 0;
  reg [63:0] cycle = 0, started = 0, loaded = 0, last = 0;
  reg [31:0] op = 0, remaining = 0, rnd = 1, seed = 1;
  reg [16:0] stall = 0;
  reg reading = 0;
  reg [{aw - 1}:0] access_word = 0;
  reg [{cw - 1}:0] command_word = 0;
  reg [{sw - 1}:0] word = 0;

  // the next script entry: set up its first token (same cycle, as drive does)
  task fetch;
    begin
      op = {_STALL};
      while (op == {_STALL}) begin
        r = $fscanf(fin, "%h", op);
        if (r != 1) op = {_END};
        if (op == {_STALL}) begin
          r = $fscanf(fin, "%h %h", stall, seed);
          rnd = seed;
        end
      end
      if (op == {_WRITE} || op == {_READ}) begin
        r = $fscanf(fin, "%h", access_word);
        access__payload <= access_word;
        access__valid <= 1;
        reading = op == {_READ};
        state <= ACCESS;
      end else if (op == {_SAMPLE}) begin
        r = $fscanf(fin, "%h %h", command_word, remaining);
        command__payload <= command_word;
        command__valid <= 1;
        state <= COMMAND;
      end else begin
        $fflush(fout);
        finished <= 1;
        state <= DONE;
      end
    end
  endtask

  // a draw of the stall pattern: xorshift32
  task draw;
    begin
      rnd = rnd ^ (rnd << 13);
      rnd = rnd ^ (rnd >> 17);
      rnd = rnd ^ (rnd << 5);
      spikes__ready <= {{1'b0, rnd[15:0]}} >= stall;
      counts__ready <= {{1'b0, rnd[31:16]}} >= stall;{membrane["draw"]}
    end
  endtask

  always @(posedge clk) begin
    cycle <= cycle + 1;
    if (rst_count == 2'd2) rst <= 0;
    else rst_count <= rst_count + 1;
    case (state)
      WAIT:
        if (start && !rst) begin
          fin = $fopen("{SCRIPT_NAME}", "r");
          fout = $fopen("{CAPTURE_NAME}", "w");
          fetch;
        end
      ACCESS:
        if (access__ready) begin
          access__valid <= 0;
          if (reading) begin
            readback__ready <= 1;
            state <= READBACK;
          end else fetch;
        end
      READBACK:
        if (readback__valid) begin
          $fwrite(fout, "R %h\\n", readback__payload);
          readback__ready <= 0;
          fetch;
        end
      COMMAND:
        if (command__ready) begin
          command__valid <= 0;
          started <= cycle;
          loaded <= cycle;
          if (remaining != 0) begin
            r = $fscanf(fin, "%h", word);
            {src}__payload <= word;
            {src}__valid <= 1;
          end
          draw;
          state <= SAMPLE;
        end
      SAMPLE: begin
        if ({src}__valid && {src}__ready) begin
          remaining = remaining - 1;
          {loaded}
          if (remaining != 0) begin
            r = $fscanf(fin, "%h", word);
            {src}__payload <= word;
          end else {src}__valid <= 0;
        end
        {step_ends}
        if (spikes__valid && spikes__ready) $fwrite(fout, "S %h\\n", spikes__payload);
        {captures}
        if ({membrane["end"]}) begin
          last <= cycle;
          {src}__valid <= 0;
          counts__ready <= 0;{membrane["stop"]}
          spikes__ready <= 1;
          state <= DRAIN;
        end else draw;
      end
      DRAIN:
        if (spikes__valid) $fwrite(fout, "S %h\\n", spikes__payload);
        else begin
          spikes__ready <= 0;
          $fwrite(fout, "E %0d %0d %0d\\n", started, loaded, last);
          $fflush(fout);
          samples_done <= samples_done + 1;
          fetch;
        end
      default: ;
    endcase
  end
endmodule
"""


def build_dir(simulator: str, sources: Sequence[Path], root: Path | None = None,
              top: str = TOPLEVEL) -> Path:
    """Where the build of ``sources`` lives: ``<root>/<top>-<simulator>-<digest>``, the
    digest of the Verilog texts, so every test and CLI call that generates the same Verilog
    reuses one build (the runner locks it and rebuilds only when a source or an option
    changes).  ``root`` defaults to env ``PLASTICORE_SIM_BUILD``, else ``build/sim`` in the
    repository."""
    if root is None:
        from ..tools import repo_root

        env = os.environ.get("PLASTICORE_SIM_BUILD")
        root = Path(env) if env else repo_root() / "build" / "sim"
    digest = hashlib.sha256()
    for source in sources:
        digest.update(Path(source).read_bytes() + b"\0")
    return Path(root) / f"{top}-{simulator}-{digest.hexdigest()[:16]}"


def _hex(words: Iterable[int]) -> str:
    return " ".join(f"{w:x}" for w in words)


def write_script(path: Path, config: CoreConfig | NetworkConfig, weights: Any, theta: Any,
                 samples: list[Sample], stall: float = 0.0, seed: int = 7,
                 bias: Any = None) -> Path:
    """Write the session script: the stall setting, every layer's weight, threshold and
    bias writes, the samples, every layer's weight, threshold and bias reads (the order of
    ``drive``; :meth:`~.target.Target.writes`).  A network's ``weights``, ``theta`` and
    ``bias`` hold one entry per layer."""
    target = Target.of(config)
    command = command_layout(target.first)
    threshold = min(_STALL_SCALE, max(0, round(stall * _STALL_SCALE)))
    state = random.Random(seed).getrandbits(32) or 1        # xorshift: never 0
    lines = [f"{_STALL:x} {threshold:x} {state:x}"]
    lines += [f"{_WRITE:x} {target.access_word(request):x}"
              for request in target.writes(weights, theta, bias)]
    for s in samples:
        words = target.input_words(s.pixels)
        cmd = int(command.const({"key": s.key, "learn": int(s.learn)}).as_bits())
        lines.append(f"{_SAMPLE:x} {cmd:x} {len(words):x} {_hex(words)}")
    lines += [f"{_READ:x} {target.access_word(request):x}" for request in target.reads()]
    lines.append(f"{_END:x}")
    path.write_text("\n".join(lines) + "\n")
    return path


class CaptureReader:
    """Reads the capture file as the harness writes it: a sample at a time, then the
    readback, into a :class:`SessionResult` (what ``drive`` returns; for a network also
    every layer's timestep ends, ``step_ends``)."""

    def __init__(self, config: CoreConfig | NetworkConfig | Target, stream: TextIO) -> None:
        self.target = Target.of(config)
        self.stream = stream
        self.result = SessionResult()
        self._spike = spike_layout(self.target.last)
        self._count = count_layout(self.target.last)
        self._membrane = membrane_layout(self.target.last)
        self._pending = ""
        self._readback: list[int] = []
        self._new_sample()

    def _new_sample(self) -> None:
        self._spikes: list[tuple[int, int]] = []
        self._counts = np.zeros(self.target.last.n_neurons, np.int64)
        self._membranes = np.zeros(self.target.last.n_neurons, np.int64)
        self._ends: list[list[int]] = [[] for _ in self.target.cores]

    def _lines(self) -> list[str]:
        text = self._pending + self.stream.read()
        lines = text.split("\n")
        self._pending = lines.pop()               # an unfinished line waits for the rest
        return lines

    def read_samples(self) -> int:
        """Read every sample the capture holds so far; returns how many were new (a
        sample's lines before its end line wait in the reader)."""
        P = self.target.last.n_pe
        new = 0
        for line in self._lines():
            kind, _, rest = line.partition(" ")
            if kind == "S":
                token = self._spike.from_bits(int(rest, 16))
                t, k, mask = int(token.timestep), int(token.word), int(token.mask)
                self._spikes += [(t, k * P + p) for p in range(P) if mask >> p & 1]
            elif kind == "C":
                token = self._count.from_bits(int(rest, 16))
                self._counts[int(token.neuron)] = int(token.count)
            elif kind == "M" and self.target.membrane is not None:
                token = self._membrane.from_bits(int(rest, 16))
                k = int(token.word)
                self._membranes[k * P:(k + 1) * P] = [int(v) for v in token.v]
            elif kind == "T":
                *layer, cycle = (int(x) for x in rest.split())
                self._ends[layer[0] if layer else 0].append(cycle)
            elif kind == "E":
                started, loaded, last = (int(x) for x in rest.split())
                self._end_sample(started, loaded, last)
                new += 1
            elif kind == "R":
                self._readback.append(int(rest, 16))
            elif kind:
                raise ValueError(f"harness capture: unknown line {line!r}")
        return new

    def _end_sample(self, started: int, loaded: int, last: int) -> None:
        """A sample's end: its timesteps' cycles (a single core's from its last pixel, a
        network's last layer's from the command, as the cycle models count them)."""
        out = self.result
        ends = [np.array(e, dtype=np.int64) for e in self._ends]
        if self.target.layered:
            out.step_ends.append([e - started for e in ends])
            out.cycles.append(np.diff(np.concatenate([[started], ends[-1]])))
        else:
            out.cycles.append(np.diff(np.concatenate([[loaded], ends[0]])))
        out.totals.append(last - started + 1)
        out.spikes.append(np.array(sorted(self._spikes), dtype=np.int64).reshape(-1, 2))
        out.counts.append(self._counts)
        if self.target.membrane is not None:
            out.membranes.append(self._membranes)
        self._new_sample()

    def read_state(self) -> SessionResult:
        """Read the rest (the readback) and fill in every layer's final weights, thresholds
        and biases."""
        self.read_samples()
        if (self._pending or self._spikes or any(self._ends) or self._counts.any()
                or self._membranes.any()):
            raise ValueError("harness capture: a sample without its end")
        try:
            state = self.target.unpack(self._readback)
        except ValueError as exc:
            raise ValueError(f"harness capture: {exc}") from None
        out, target = self.result, self.target
        out.weights = target.shaped([s.weights for s in state])
        out.theta = target.shaped([s.theta for s in state])
        out.bias = target.shaped([s.bias for s in state])
        return out
