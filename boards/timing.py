"""An *estimated* clock for a Yosys ``synth_xilinx`` netlist: logic depth and a delay model.

Yosys does no timing analysis for Xilinx parts, so this module does a small one on the
mapped netlist Yosys writes (``write_json``): every register-to-register path through
the combinational cells (LUTs, ``INV``, ``MUXF7``/``MUXF8``, ``CARRY4``, and the
combinational arcs of LUT RAM, shift registers and DSP slices), with a fixed delay per
cell and per net taken from :data:`ARTIX7_1`.  Its results:

- **LUT levels**: the most LUTs on any such path (the classic depth measure; placement
  independent, so it is exact for the netlist);
- **estimated Fmax**: ``1000 / (longest path delay in ns)``, with the path that sets it.

The estimate ignores placement, routing congestion, clock skew and jitter: Vivado's
routed timing on the same design differs (typically lower for designs with high fanout).
``docs/boards.md`` ("Clock estimate") documents the model and its sources.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DelayModel", "ARTIX7_1", "PathStep", "TimingEstimate", "estimate_timing"]


@dataclass(frozen=True)
class DelayModel:
    """Delays in ns; see ``docs/boards.md`` for where each number comes from.

    Members
    -------
    name : str
        What the model is for.
    ff_clk_to_q, ff_setup, ff_ce_setup, ff_sr_setup : float
        Slice flip-flop clock-to-Q and setup times (D, CE, set/reset pins).
    lut : float
        One LUT (any size; ``INV`` is a LUT1), input to output.
    net, net_per_fanout_doubling, net_max : float
        One routed net: ``net + net_per_fanout_doubling * log2(fanout)``, at most
        ``net_max``.  Dedicated routes (carry chain, MUXF7/F8 inputs, DSP cascades) cost 0.
    muxf : float
        ``MUXF7``/``MUXF8``, input to output.
    carry_in, carry_through, carry_out : float
        ``CARRY4``: from ``S``/``DI``/``CYINIT`` to any output; from ``CI`` to ``CO``
        (the next carry block's ``CI``); from ``CI`` to a sum output ``O``.
    bram_clk_to_out, bram_clk_to_out_reg, bram_addr_setup, bram_setup : float
        Block RAM clock-to-``DO`` without and with the output register; setup of the
        address pins and of every other input pin.
    lutram_clk_to_out, lutram_setup : float
        Distributed RAM / SRL: clock (write) to output, and setup of data, write-enable
        and write-address pins.  The read address to output is a LUT.
    dsp_input_setup, dsp_mult, dsp_alu, dsp_reg_clk_to_out, dsp_p_clk_to_out, dsp_setup : float
        DSP48E1: setup of a registered input; the pre-adder and multiplier (A/B/D to the M
        stage); the ALU (M or C to P); clock-to-out of an internal register (A/B/C/D/M);
        clock-to-out of the P register; setup of the M or P register.
    """

    name: str
    ff_clk_to_q: float
    ff_setup: float
    ff_ce_setup: float
    ff_sr_setup: float
    lut: float
    net: float
    net_per_fanout_doubling: float
    net_max: float
    muxf: float
    carry_in: float
    carry_through: float
    carry_out: float
    bram_clk_to_out: float
    bram_clk_to_out_reg: float
    bram_addr_setup: float
    bram_setup: float
    lutram_clk_to_out: float
    lutram_setup: float
    dsp_input_setup: float
    dsp_mult: float
    dsp_alu: float
    dsp_reg_clk_to_out: float
    dsp_p_clk_to_out: float
    dsp_setup: float

    def net_delay(self, fanout: int) -> float:
        extra = self.net_per_fanout_doubling * math.log2(max(1, fanout))
        return min(self.net_max, self.net + extra)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: Artix-7, speed grade -1 (the -1L parts of the Arty boards have the -1 timing).
ARTIX7_1 = DelayModel(
    name="Artix-7 -1 (estimate; docs/boards.md)",
    ff_clk_to_q=0.46, ff_setup=0.05, ff_ce_setup=0.30, ff_sr_setup=0.45,
    lut=0.12,
    net=0.45, net_per_fanout_doubling=0.10, net_max=1.50,
    muxf=0.30,
    carry_in=0.60, carry_through=0.12, carry_out=0.35,
    bram_clk_to_out=2.46, bram_clk_to_out_reg=0.89, bram_addr_setup=0.57, bram_setup=0.74,
    lutram_clk_to_out=1.10, lutram_setup=0.50,
    dsp_input_setup=0.30, dsp_mult=2.60, dsp_alu=1.40, dsp_reg_clk_to_out=0.30,
    dsp_p_clk_to_out=0.60, dsp_setup=0.10,
)


@dataclass(frozen=True)
class PathStep:
    """One cell on the critical path: the net it drives, its type and the arrival time."""

    net: str
    cell_type: str
    arrival_ns: float

    def to_dict(self) -> dict[str, Any]:
        return {"net": self.net, "cell": self.cell_type, "arrival_ns": round(self.arrival_ns, 3)}


@dataclass(frozen=True)
class TimingEstimate:
    """What :func:`estimate_timing` found.

    Members
    -------
    lut_levels : int
        Most LUTs (``INV`` counted as a LUT1) on any register-to-register path.
    critical_ns : float
        Longest estimated path delay, clock-to-out to setup.
    fmax_mhz : float
        ``1000 / critical_ns`` (an estimate: see the module docstring).
    path : tuple of PathStep
        The critical path, start (a register, RAM or port) to end (the endpoint pin).
    path_luts, path_carry4 : int
        LUTs and ``CARRY4`` blocks on the critical path.
    unmodeled : dict
        Cell types the model does not know, with counts (their pins are not timed).
    loops : int
        Combinational loops broken while walking the netlist (0 in a sane design).
    """

    lut_levels: int
    critical_ns: float
    fmax_mhz: float
    path: tuple[PathStep, ...]
    path_luts: int
    path_carry4: int
    model: DelayModel = field(repr=False)
    unmodeled: dict[str, int] = field(default_factory=dict)
    loops: int = 0

    def path_summary(self, limit: int = 6) -> str:
        """``start -> ... -> end`` with the cell types, for one line of output."""
        if not self.path:
            return "(no register-to-register path)"
        steps = [f"{s.net} ({s.cell_type})" for s in self.path]
        if len(steps) > limit:
            steps = steps[:limit // 2] + [f"... {len(steps) - limit} more ..."] + \
                steps[-(limit - limit // 2):]
        return " -> ".join(steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lut_levels": self.lut_levels,
            "critical_ns": round(self.critical_ns, 3),
            "fmax_mhz_estimate": round(self.fmax_mhz, 1),
            "path_luts": self.path_luts,
            "path_carry4": self.path_carry4,
            "path": [s.to_dict() for s in self.path],
            "model": self.model.name,
            "unmodeled_cells": dict(self.unmodeled),
            "combinational_loops": self.loops,
        }


# -- cell classes -----------------------------------------------------------------------

_LUT = re.compile(r"^LUT[1-6]$")
_FF = {"FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1"}
_BRAM = {"RAMB18E1", "RAMB36E1", "FIFO18E1", "FIFO36E1"}
_LUTRAM_READ = re.compile(r"^(ADDR[A-D]|A\d?|DPRA\d?|A\[\d+\]|RADR\d?)$")
_IGNORED = {"$scopeinfo", "BUFG", "BUFGCE", "BUFH", "IBUF", "OBUF", "IOBUF", "OBUFT",
            "IBUFG", "MMCME2_BASE", "MMCME2_ADV", "PLLE2_BASE", "PLLE2_ADV", "STARTUPE2",
            "GND", "VCC", "IDELAYCTRL", "BUFR", "BUFIO"}
_CLOCK_PINS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "RDCLK", "WRCLK"}

# Combinational cell delay: (cell, input pin, output pin) -> delay; plus the
# dedicated-route rule for inputs.


def _is_lutram(cell_type: str) -> bool:
    return cell_type.startswith(("RAM32", "RAM64", "RAM128", "RAM256", "SRL16", "SRLC16",
                                 "SRLC32"))


def _int_param(cell: Mapping[str, Any], name: str, default: int = 0) -> int:
    value = cell.get("parameters", {}).get(name)
    if value is None:
        return default
    try:
        return int(value, 2) if isinstance(value, str) else int(value)
    except ValueError:
        return default


def _str_param(cell: Mapping[str, Any], name: str) -> str:
    # Yosys writes string parameters as text (with a trailing space when the text could
    # be read as a bit string) and numbers as bit strings.
    return str(cell.get("parameters", {}).get(name, "")).strip()


class _Graph:
    """Nodes are net bits (ints) plus internal DSP nodes (tuples); arcs carry a delay."""

    def __init__(self, model: DelayModel) -> None:
        self.model = model
        # node -> list of (source node, delay, wire?, source is a dedicated route)
        self.fanin: dict[Any, list[tuple[Any, float, bool]]] = defaultdict(list)
        self.node_kind: dict[Any, str] = {}       # cell type that drives the node
        self.is_lut: dict[Any, bool] = {}
        self.starts: dict[Any, float] = {}        # node -> clock-to-out
        # (node, setup, dedicated route, what the endpoint is: "FDRE.D", "port", ...)
        self.ends: list[tuple[Any, float, bool, str]] = []
        self.fanout: dict[Any, int] = defaultdict(int)


def _bits(conn: Iterable[Any]) -> list[int]:
    return [b for b in conn if isinstance(b, int)]


def _build(module: Mapping[str, Any], model: DelayModel, ports_are_registers: bool,
           unmodeled: dict[str, int]) -> _Graph:
    g = _Graph(model)
    cells: Mapping[str, Any] = module.get("cells", {})

    # fanout of every net bit: input pins of cells (clock pins excluded) and output ports.
    for cell in cells.values():
        dirs = cell.get("port_directions", {})
        for pin, conn in cell.get("connections", {}).items():
            if dirs.get(pin) == "input" and pin not in _CLOCK_PINS:
                for b in _bits(conn):
                    g.fanout[b] += 1
    for port in module.get("ports", {}).values():
        if port.get("direction") == "output":
            for b in _bits(port.get("bits", [])):
                g.fanout[b] += 1

    def comb(out_bits: list[int], in_bits: list[tuple[int, bool]], delay: float,
             kind: str, lut: bool) -> None:
        for o in out_bits:
            g.node_kind[o] = kind
            g.is_lut[o] = lut
            for b, dedicated in in_bits:
                g.fanin[o].append((b, delay, dedicated))

    def start(bits: list[int], clk_to_out: float, kind: str) -> None:
        for b in bits:
            g.starts[b] = max(clk_to_out, g.starts.get(b, 0.0))
            g.node_kind[b] = kind
            g.is_lut[b] = False

    def end(bits: list[int], setup: float, what: str, dedicated: bool = False) -> None:
        for b in bits:
            g.ends.append((b, setup, dedicated, what))

    drivers: dict[int, str] = {}
    for cell in cells.values():
        dirs = cell.get("port_directions", {})
        for pin, conn in cell.get("connections", {}).items():
            if dirs.get(pin) == "output":
                for b in _bits(conn):
                    drivers[b] = cell["type"]

    def dedicated_from(b: int, types: tuple[str, ...]) -> bool:
        return drivers.get(b, "").startswith(types)

    for name, cell in cells.items():
        t = cell["type"]
        conns = cell.get("connections", {})
        pins = {p: _bits(c) for p, c in conns.items()}
        if t in _IGNORED:
            continue
        if _LUT.match(t) or t == "INV":
            ins = [(b, False) for p, bs in pins.items() if p != "O" for b in bs]
            comb(pins.get("O", []), ins, model.lut, t, True)
        elif t in ("MUXF7", "MUXF8"):
            feeder = ("LUT",) if t == "MUXF7" else ("MUXF7",)
            ins = [(b, dedicated_from(b, feeder)) for p in ("I0", "I1") for b in pins.get(p, [])]
            ins += [(b, False) for b in pins.get("S", [])]
            comb(pins.get("O", []), ins, model.muxf, t, False)
        elif t == "CARRY4":
            ci = [(b, dedicated_from(b, ("CARRY4",))) for b in pins.get("CI", [])]
            side = [(b, False) for p in ("S", "DI", "CYINIT") for b in pins.get(p, [])]
            for o in pins.get("CO", []):
                g.node_kind[o], g.is_lut[o] = t, False
                g.fanin[o] += [(b, model.carry_in, d) for b, d in side]
                g.fanin[o] += [(b, model.carry_through, d) for b, d in ci]
            for o in pins.get("O", []):
                g.node_kind[o], g.is_lut[o] = t, False
                g.fanin[o] += [(b, model.carry_in, d) for b, d in side]
                g.fanin[o] += [(b, model.carry_out, d) for b, d in ci]
        elif t in _FF:
            start(pins.get("Q", []), model.ff_clk_to_q, t)
            end(pins.get("D", []), model.ff_setup, f"{t}.D")
            end(pins.get("CE", []), model.ff_ce_setup, f"{t}.CE")
            for p in ("R", "S", "CLR", "PRE"):
                end(pins.get(p, []), model.ff_sr_setup, f"{t}.{p}")
        elif t in _BRAM:
            reg = _int_param(cell, "DOA_REG") or _int_param(cell, "DOB_REG")
            clk_to_out = model.bram_clk_to_out_reg if reg else model.bram_clk_to_out
            dirs = cell.get("port_directions", {})
            for p, bs in pins.items():
                if dirs.get(p) == "output":
                    start(bs, clk_to_out, t)
                elif p not in _CLOCK_PINS:
                    end(bs, model.bram_addr_setup if p.startswith("ADDR") else model.bram_setup,
                        f"{t}.{p}")
        elif _is_lutram(t):
            dirs = cell.get("port_directions", {})
            outs = [b for p, bs in pins.items() if dirs.get(p) == "output" for b in bs]
            start(outs, model.lutram_clk_to_out, t)
            reads = [(b, False) for p, bs in pins.items()
                     if dirs.get(p) == "input" and _LUTRAM_READ.match(p) for b in bs]
            for o in outs:
                g.is_lut[o] = True
                g.fanin[o] += [(b, model.lut, d) for b, d in reads]
            for p, bs in pins.items():
                if dirs.get(p) == "input" and p not in _CLOCK_PINS:
                    end(bs, model.lutram_setup, f"{t}.{p}")
        elif t == "DSP48E1":
            _dsp(g, name, cell, pins, model, dedicated_from)
        else:
            unmodeled[t] = unmodeled.get(t, 0) + 1

    if ports_are_registers:
        for port in module.get("ports", {}).values():
            bits = _bits(port.get("bits", []))
            if port.get("direction") == "input":
                for b in bits:
                    if b not in g.node_kind:
                        start([b], model.ff_clk_to_q, "port")
            elif port.get("direction") == "output":
                end(bits, 0.0, "output port")
    return g


def _dsp(g: _Graph, name: str, cell: Mapping[str, Any], pins: dict[str, list[int]],
         model: DelayModel, dedicated_from: Any) -> None:
    """DSP48E1 as three stages: input registers, multiplier (M), ALU (P)."""
    use_mult = _str_param(cell, "USE_MULT").upper() != "NONE"
    m_node, p_node = (name, "M"), (name, "P")
    for node in (m_node, p_node):
        g.node_kind[node], g.is_lut[node] = "DSP48E1", False

    def feed(pin_names: tuple[str, ...], reg: int, target: Any, delay: float,
             cascade: str) -> None:
        for p in pin_names:
            for b in pins.get(p, []):
                dedicated = p == cascade and dedicated_from(b, ("DSP48E1",))
                if reg:
                    g.ends.append((b, model.dsp_input_setup, dedicated, f"DSP48E1.{p}"))
                else:
                    g.fanin[target].append((b, delay, dedicated))
        if reg:
            qnode = (name, pin_names[0] + "REG")
            g.starts[qnode] = model.dsp_reg_clk_to_out
            g.node_kind[qnode], g.is_lut[qnode] = "DSP48E1", False
            g.fanin[target].append((qnode, delay, True))

    mult_delay = model.dsp_mult if use_mult else model.dsp_reg_clk_to_out
    feed(("A", "ACIN"), _int_param(cell, "AREG", 1), m_node, mult_delay, "ACIN")
    feed(("B", "BCIN"), _int_param(cell, "BREG", 1), m_node, mult_delay, "BCIN")
    feed(("D",), _int_param(cell, "DREG", 1), m_node, mult_delay, "")
    feed(("C",), _int_param(cell, "CREG", 1), p_node, model.dsp_alu, "")
    for b in pins.get("PCIN", []):
        g.fanin[p_node].append((b, model.dsp_alu, dedicated_from(b, ("DSP48E1",))))
    if _int_param(cell, "MREG", 1):
        g.ends.append((m_node, model.dsp_setup, True, "DSP48E1.MREG"))
        mq = (name, "MREG")
        g.starts[mq] = model.dsp_reg_clk_to_out
        g.node_kind[mq], g.is_lut[mq] = "DSP48E1", False
        g.fanin[p_node].append((mq, model.dsp_alu, True))
    else:
        g.fanin[p_node].append((m_node, model.dsp_alu, True))
    outs = pins.get("P", []) + pins.get("PCOUT", [])
    if _int_param(cell, "PREG", 1):
        g.ends.append((p_node, model.dsp_setup, True, "DSP48E1.PREG"))
        for b in outs:
            g.starts[b] = model.dsp_p_clk_to_out
            g.node_kind[b], g.is_lut[b] = "DSP48E1", False
    else:
        for b in outs:
            g.node_kind[b], g.is_lut[b] = "DSP48E1", False
            g.fanin[b].append((p_node, 0.0, True))
    # Control pins (mode selects, clock enables, resets, carry-in) end at registers.
    for p, bs in pins.items():
        if p.startswith(("OPMODE", "ALUMODE", "INMODE", "CARRYIN", "CE", "RST")):
            for b in bs:
                g.ends.append((b, model.dsp_input_setup, False, f"DSP48E1.{p}"))


def _names(module: Mapping[str, Any]) -> dict[int, str]:
    """Bit -> the most readable net name (public names first, shortest first)."""
    best: dict[int, tuple[int, int, str]] = {}
    for name, net in module.get("netnames", {}).items():
        hidden = 1 if net.get("hide_name") else 0
        bits = net.get("bits", [])
        for i, b in enumerate(bits):
            if not isinstance(b, int):
                continue
            label = name.lstrip("\\") + (f"[{i}]" if len(bits) > 1 else "")
            key = (hidden, len(label), label)
            if b not in best or key < best[b]:
                best[b] = key
    return {b: k[2] for b, k in best.items()}


def estimate_timing(netlist: Mapping[str, Any], top: str, *, model: DelayModel = ARTIX7_1,
                    ports_are_registers: bool = False) -> TimingEstimate:
    """Estimate logic depth and Fmax of module ``top`` of a Yosys JSON netlist.

    ``ports_are_registers``: time the top module's ports as if registers drove its inputs
    and took its outputs (a bare core that will sit between registers); otherwise ports are
    pins and paths to and from them are not timed.
    """
    try:
        module = netlist["modules"][top]
    except KeyError:
        raise ValueError(f"netlist has no module {top!r}") from None
    unmodeled: dict[str, int] = {}
    g = _build(module, model, ports_are_registers, unmodeled)

    # arrival[node] = (time, levels, predecessor); levels is the deepest LUT count (its own
    # longest path, not necessarily the one with the latest arrival).
    arrival: dict[Any, float] = {}
    levels: dict[Any, int] = {}
    pred: dict[Any, Any] = {}
    loops = 0
    on_stack: set[Any] = set()

    def visit(root: Any) -> None:
        nonlocal loops
        stack: list[tuple[Any, int]] = [(root, 0)]
        while stack:
            node, state = stack.pop()
            if node in arrival:
                continue
            if state == 0:
                if node in on_stack:
                    continue
                on_stack.add(node)
                stack.append((node, 1))
                for src, _, _ in g.fanin.get(node, ()):
                    if src not in arrival:
                        if src in on_stack:
                            loops += 1
                        else:
                            stack.append((src, 0))
                continue
            on_stack.discard(node)
            best_t, best_src, best_l = g.starts.get(node, -math.inf), None, 0
            for src, delay, dedicated in g.fanin.get(node, ()):
                t_src = arrival.get(src, -math.inf)
                if t_src == -math.inf:
                    continue
                wire = 0.0 if dedicated else model.net_delay(g.fanout.get(src, 1))
                t = t_src + wire + delay
                if t > best_t:
                    best_t, best_src = t, src
                best_l = max(best_l, levels.get(src, 0))
            arrival[node] = best_t
            levels[node] = best_l + (1 if g.is_lut.get(node) and g.fanin.get(node) else 0)
            if best_src is not None:
                pred[node] = best_src

    worst: tuple[float, Any, str] = (-math.inf, None, "")
    max_levels = 0
    for node, setup, dedicated, what in g.ends:
        visit(node)
        t = arrival.get(node, -math.inf)
        if t == -math.inf:
            continue
        max_levels = max(max_levels, levels.get(node, 0))
        wire = 0.0 if dedicated else model.net_delay(g.fanout.get(node, 1))
        total = t + wire + setup
        if total > worst[0]:
            worst = (total, node, what)

    names = _names(module)
    path: list[PathStep] = []
    node = worst[1]
    while node is not None:
        label = names.get(node, str(node)) if isinstance(node, int) else f"{node[0]}.{node[1]}"
        path.append(PathStep(label, g.node_kind.get(node, "port"), arrival.get(node, 0.0)))
        node = pred.get(node)
    path.reverse()
    critical = 0.0 if worst[1] is None else worst[0]
    if path:
        path.append(PathStep(path[-1].net, worst[2], critical))
    return TimingEstimate(
        lut_levels=max_levels,
        critical_ns=critical,
        fmax_mhz=1000.0 / critical if critical > 0 else math.inf,
        path=tuple(path),
        path_luts=sum(1 for s in path if s.cell_type.startswith(("LUT", "INV"))),
        path_carry4=sum(1 for s in path if s.cell_type == "CARRY4"),
        model=model,
        unmodeled=unmodeled,
        loops=loops,
    )
