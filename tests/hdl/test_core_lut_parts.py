# amaranth: UnusedElaboratable=no
"""The LUT engine's components in Amaranth's simulator against the golden tables
(``golden/lut.py``): the group gather's patterns, the table store's single-input entries
(what the access port writes and reads back), and the build's tables, entry for entry, with
its cycles (``hdl.cycles.build_cycles``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from plasticore.config import CoreConfig, EncoderConfig, RuleConfig, Widths
from plasticore.golden.lut import bank_tables, build_tables, patterns
from plasticore.hdl.core.build import TableBuild
from plasticore.hdl.core.groups import GroupGather
from plasticore.hdl.core.layouts import pack_words
from plasticore.hdl.core.tables import ACCESS_LATENCY, TableStore
from plasticore.hdl.cycles import build_cycles

OFF = RuleConfig(kind="none").core_stdp


def _core(n_inputs: int, k: int, lanes: int, banks: int, signed: bool = True,
          n_neurons: int = 4, n_pe: int = 2) -> CoreConfig:
    return CoreConfig(n_inputs=n_inputs, n_neurons=n_neurons, n_pe=n_pe, row_banks=banks,
                      forward="lut", lut_group=k, timesteps=2, stdp=OFF,
                      widths=Widths(weight=6, weight_signed=signed),
                      encoder=EncoderConfig(kind="direct", lanes=lanes))


SHAPES = {     # n_inputs, k, lanes, banks: k dividing the words or not, banks of lanes
    "16-k2-lanes1": (16, 2, 1, 1),
    "12-k5-lanes1": (12, 5, 1, 1),
    "24-k3-lanes4-banks2": (24, 3, 4, 2),
    "32-k4-lanes4-banks4": (32, 4, 4, 4),
    "40-k6-lanes8-banks2": (40, 6, 8, 2),
    "8-k6-lanes8-banks8": (8, 6, 8, 8),
}


def _run(dut, bench) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("label", list(SHAPES))
def test_gather_patterns(label: str) -> None:
    """Two timesteps of random spikes, word by word with idle cycles between some: every
    block of groups goes out with the last of its words, each lane's pattern the golden
    pattern of its group."""
    core = _core(*SHAPES[label])
    E, C = core.encoder.lanes, core.derived.input_words
    dut = GroupGather(core)
    rng = np.random.default_rng(4)
    spikes = rng.random((2, core.n_inputs)) < 0.4
    expected = patterns(core, spikes)
    got: list[dict[int, int]] = [{}, {}]

    async def bench(ctx: Any) -> None:
        for t in range(2):
            for c in range(C):
                ctx.set(dut.appended, {"valid": 1, "word": c, "flags": int(sum(
                    int(spikes[t, c * E + e]) << e for e in range(E)))})
                if ctx.get(dut.groups.valid):
                    q = ctx.get(dut.groups.word)
                    flags = ctx.get(dut.groups.flags)
                    for e in range(E):
                        pattern = ctx.get(dut.groups.payloads[e])
                        assert (flags >> e & 1) == (pattern != 0)
                        got[t][q * E + e] = pattern
                    # a block ends at word k - 1 of it, or at the last word
                    assert c % core.lut_group == core.lut_group - 1 or c == C - 1
                await ctx.tick()
                if rng.random() < 0.3:           # idle cycles change nothing
                    ctx.set(dut.appended.valid, 0)
                    await ctx.tick()
            ctx.set(dut.appended.valid, 0)
            await ctx.tick()

    _run(dut, bench)
    for t in range(2):
        assert [got[t][g] for g in range(core.derived.lut_groups)] == expected[t].tolist()


class _Tables(wiring.Component):
    """The table store with its build, as the core wires them."""

    def __init__(self, core: CoreConfig) -> None:
        self.store, self.build = TableStore(core), TableBuild(core)
        super().__init__({})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.store, m.submodules.build = store, build = self.store, self.build
        m.d.comb += [build.written.eq(store.access_write.en),
                     store.build_read.eq(build.read), build.tables.eq(store.bank_data),
                     store.build_write.eq(build.write)]
        return m


@pytest.mark.parametrize("label", list(SHAPES))
def test_tables_build(label: str) -> None:
    """Weights written word by word through the access path read back as written; a
    command then waits ``build_cycles`` for the build, after which every bank word read
    through the neuron pass's port is the golden ``bank_tables`` word.  A command with clean
    tables passes at once; after one more weight write the next waits for a build again."""
    core = _core(*SHAPES[label])
    d, R, P = core.derived, core.row_banks, core.n_pe
    W, bits = d.neurons_per_pe, core.widths.weight
    dut = _Tables(core)
    store, build = dut.store, dut.build
    rng = np.random.default_rng(9)
    w = rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons), endpoint=True)
    words = pack_words(w, P, bits)              # word j * W + k of input j, neurons k*P..
    expected = bank_tables(core, build_tables(core, w))
    read_back: list[int] = []
    waited: list[int] = []
    got = np.zeros_like(expected)

    async def bench(ctx: Any) -> None:
        for addr, word in enumerate(words):
            ctx.set(store.access_write.en, 1)
            ctx.set(store.access_write.addr, addr)
            ctx.set(store.access_write.data.as_value(), word)
            await ctx.tick()
        ctx.set(store.access_write.en, 0)
        for addr in range(len(words)):      # a word ACCESS_LATENCY + 1 cycles later
            ctx.set(store.access_addr, addr)
            await ctx.tick().repeat(ACCESS_LATENCY + 1)
            read_back.append(ctx.get(store.data.as_value()))
        ctx.set(build.release.ready, 1)

        async def command() -> None:
            """A command; how long until the sequencer has it."""
            ctx.set(build.command.valid, 1)
            ctx.set(build.command.payload, {"key": 5, "learn": 0})
            cycles = 0
            while True:
                taken = ctx.get(build.command.ready)
                released = ctx.get(build.release.valid)
                await ctx.tick()
                if taken:
                    ctx.set(build.command.valid, 0)
                if released:
                    break
                cycles += 1
            waited.append(cycles)

        await command()
        # clean tables: the next command goes straight through
        ctx.set(build.command.valid, 1)
        ctx.set(build.command.payload, {"key": 6, "learn": 0})
        assert ctx.get(build.release.valid) and ctx.get(build.release.payload.key) == 6
        ctx.set(build.command.valid, 0)
        for block in range(d.lut_bank_groups * W):
            for x in range(d.lut_entries):
                ctx.set(store.rows, {"en": 1, "addr": [block] * R})
                ctx.set(store.patterns, [x] * R)
                await ctx.tick()
                for b in range(R):
                    got[b, (block << core.lut_group) | x] = ctx.get(store.bank_data[b])
        ctx.set(store.rows.en, 0)
        # one more weight write: the next command (once it has landed) waits for a build
        ctx.set(store.access_write.en, 1)
        await ctx.tick()
        ctx.set(store.access_write.en, 0)
        await ctx.tick().repeat(ACCESS_LATENCY)
        await command()

    _run(dut, bench)
    assert read_back == words
    assert waited == [build_cycles(core)] * 2
    assert (got == expected).all()


@pytest.mark.parametrize("n_inputs, n_neurons, k, lanes, banks", [
    (100, 10, 6, 1, 1),         # W = 10, k = 6: both quotients by reciprocal multiplies
    (48, 4, 3, 4, 2),           # k = 3, lanes and banks (W a power of two with banks)
    (30, 7, 5, 2, 1),           # W = 7, a short last group
    (64, 8, 4, 8, 4),           # powers of two: shifts only
])
def test_table_address(n_inputs: int, n_neurons: int, k: int, lanes: int,
                       banks: int) -> None:
    """Every weight address ``j * W + k_word``, one per cycle, comes out
    ``ACCESS_LATENCY`` cycles later as the bank and word of input ``j``'s single-input
    entry in the golden layout (``golden.lut.group_of``)."""
    from amaranth import Signal

    from plasticore.golden.lut import group_of
    from plasticore.hdl.core.tables import table_address

    core = _core(n_inputs, k, lanes, banks, n_neurons=n_neurons, n_pe=1)
    W, R = core.derived.neurons_per_pe, banks
    group, bit = group_of(core)
    expected = [(int(group[a // W] % R),
                 int(((group[a // W] // R * W + a % W) << k) | 1 << bit[a // W]))
                for a in range(n_inputs * W)]
    m = Module()
    addr = Signal(range(n_inputs * W))
    bank, entry = table_address(core, m, addr)
    got: list[tuple[int, int]] = []

    async def bench(ctx: Any) -> None:
        for a in range(n_inputs * W + ACCESS_LATENCY):
            ctx.set(addr, min(a, n_inputs * W - 1))
            if a >= ACCESS_LATENCY:
                got.append((ctx.get(bank), ctx.get(entry)))
            await ctx.tick()

    _run(m, bench)
    assert got == expected
