"""The LUT forward's tables (``golden/lut.py``): hand-worked tables and currents, the bank
layout the RTL holds, and the table path equal to the accumulate path for every
configuration of the regression matrices, signed and unsigned weights, with and without a
bias."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plasticore.config import ConfigError, CoreConfig, EncoderConfig, StdpConfig
from plasticore.golden.arith import IntegerArithmetic
from plasticore.golden.layer import Layer
from plasticore.golden.lut import (
    LutForward,
    bank_tables,
    build_tables,
    group_of,
    patterns,
    table_sum,
)
from plasticore.golden.network import Network
from plasticore.sim.matrix import config_matrix, network_matrix

OFF = StdpConfig(learn=False, w_init_max=0, norm=0)


def _lut(core: CoreConfig, k: int, **changes) -> CoreConfig:
    """``core`` on the LUT engine with groups of ``k``, learning off."""
    return core.replace(forward="lut", lut_group=k,
                        stdp=dataclasses.replace(core.stdp, learn=False), **changes)


def _tiny(lanes: int = 1, k: int = 2) -> CoreConfig:
    return CoreConfig(n_inputs=4, n_neurons=2, n_pe=1, forward="lut", lut_group=k,
                      timesteps=3, stdp=OFF, encoder=EncoderConfig(lanes=lanes))


W4 = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])     # w[j, i]


def test_tables_by_hand() -> None:
    """Groups {0, 1} and {2, 3}; entry x sums the weights of the bits of x."""
    core = _tiny()
    group, bit = group_of(core)
    assert group.tolist() == [0, 0, 1, 1] and bit.tolist() == [0, 1, 0, 1]
    t = build_tables(core, W4)
    # neuron 0: group 0 [0, w0, w1, w0 + w1] = [0, 1, 3, 4]; group 1 [0, 5, 7, 12]
    assert t[:, :, 0].tolist() == [[0, 1, 3, 4], [0, 5, 7, 12]]
    assert t[:, :, 1].tolist() == [[0, 2, 4, 6], [0, 6, 8, 14]]
    spikes = np.array([True, False, True, True])
    assert patterns(core, spikes).tolist() == [0b01, 0b11]
    # 1 + 12 and 2 + 14
    assert table_sum(t, patterns(core, spikes)).tolist() == [13, 16]
    assert core.derived.lut_groups == 2 and core.derived.lut_entries == 4
    # 8-bit weights: a sum of two is 9 bits unsigned (510), signed 9 bits (-256..254)
    assert core.derived.lut_sum_bits == 9
    signed = core.replace(**{"widths.weight_signed": True})
    assert signed.derived.lut_sum_bits == 9
    assert core.replace(lut_group=3).derived.lut_sum_bits == 10      # 765


def test_groups_follow_the_encode_lanes() -> None:
    """Two lanes: encode word c holds inputs 2c, 2c + 1; a group is one lane over k = 2
    words: group 0 = {0 (bit 0), 2 (bit 1)}, group 1 = {1, 3}."""
    core = _tiny(lanes=2)
    group, bit = group_of(core)
    assert group.tolist() == [0, 1, 0, 1] and bit.tolist() == [0, 0, 1, 1]
    t = build_tables(core, W4)
    assert t[0, :, 0].tolist() == [0, 1, 5, 6]          # w0 = 1, w2 = 5
    assert t[1, :, 1].tolist() == [0, 4, 8, 12]         # w1 = 4, w3 = 8 (neuron 1)
    # k = 3 on 4 inputs in one lane: groups {0, 1, 2} and {3}, the last with one bit
    core3 = _tiny(k=3)
    assert group_of(core3)[0].tolist() == [0, 0, 0, 1]
    assert core3.derived.lut_groups == 2
    t3 = build_tables(core3, W4)
    assert t3[1, :, 0].tolist() == [0, 7, 0, 7, 0, 7, 0, 7]
    assert t3[0, 7, 1] == 2 + 4 + 6


def test_bank_layout_by_hand() -> None:
    """Two banks: group g in bank g % 2 at in-bank group g // 2; word
    ((g_in_bank * W + k_word) << k) | x, lane p neuron k_word * n_pe + p."""
    core = CoreConfig(n_inputs=8, n_neurons=4, n_pe=2, row_banks=2, forward="lut",
                      lut_group=2, timesteps=3, stdp=OFF, encoder=EncoderConfig(lanes=2))
    rng = np.random.default_rng(3)
    w = rng.integers(0, 255, (8, 4))
    t = build_tables(core, w)
    banks = bank_tables(core, t)
    d = core.derived
    assert banks.shape == (2, d.lut_bank_words, 2) == (2, 2 * 2 * 4, 2)
    # group 3 = block 1 (words 2, 3), lane 1: inputs 5 (bit 0) and 7 (bit 1); bank 1,
    # in-bank group 1; word 1 (neurons 2, 3), pattern 0b10 (input 7): address
    # ((1 * 2 + 1) << 2) | 2 = 14
    assert group_of(core)[0].tolist() == [0, 1, 0, 1, 2, 3, 2, 3]
    assert banks[1, 14].tolist() == [w[7, 2], w[7, 3]]
    assert banks[1, 15].tolist() == [w[5, 2] + w[7, 2], w[5, 3] + w[7, 3]]
    assert banks[0, 5].tolist() == [w[0, 2], w[0, 3]]      # group 0, word 1, input 0
    assert d.lut_bank_bits == d.lut_bank_words * 2 * d.lut_sum_bits
    assert d.lut_memory_bits == 2 * d.lut_bank_bits


def _cases() -> list[tuple[str, CoreConfig]]:
    """Every core of the matrices (each layer of each network) on the LUT engine, k 2..6
    in turn."""
    cores = [(e.label, e.core) for e in config_matrix()]
    cores += [(f"{e.label}-layer{i}", core) for e in network_matrix()
              for i, core in enumerate(e.network.cores) if core.encoder.kind != "current"]
    return [(f"{label}-k{2 + n % 5}", _lut(core, 2 + n % 5))
            for n, (label, core) in enumerate(cores)]


@pytest.mark.parametrize("signed", [False, True])
def test_table_path_equals_accumulate_for_the_matrix(signed: bool) -> None:
    """The weight sum through the tables is ``spikes @ w`` for every matrix core, random
    weights over the whole range and random spike rasters of every density."""
    rng = np.random.default_rng(17)
    for label, core in _cases():
        if signed and core.widths.weight < 2:
            continue
        core = core.replace(**{"widths.weight_signed": signed})
        d = core.derived
        w = rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons), endpoint=True)
        spikes = rng.random((12, core.n_inputs)) < rng.random((12, 1))
        got = LutForward(core).weight_sum(w, spikes)
        assert (got == spikes.astype(np.int64) @ w).all(), label
        t = build_tables(core, w)
        if signed:      # the entries fit the table's word
            half = 1 << (d.lut_sum_bits - 1)
            assert -half <= t.min() and t.max() < half, label
        else:
            assert 0 <= t.min() and t.max() < 1 << d.lut_sum_bits, label


@pytest.mark.parametrize("bias", [0, 9])
def test_layer_current_uses_the_tables(bias: int) -> None:
    """``Layer.current`` of a LUT layer equals the accumulate layer's (signed weights,
    ``current_shift``, a bias), single spikes and a batch; spoiling its table changes it,
    so the table path is the one taken."""
    base = config_matrix()[0].core.replace(
        **{"widths.weight_signed": True, "widths.bias": bias, "widths.current_shift": 2})
    lut, acc = _lut(base, 3), base.replace(stdp=OFF)
    rng = np.random.default_rng(5)
    d = lut.derived
    w = rng.integers(d.w_min, d.w_max, (lut.n_inputs, lut.n_neurons), endpoint=True)
    b = rng.integers(d.bias_min, d.bias_max, lut.n_neurons, endpoint=True) if bias else None
    layers = [Layer(c, IntegerArithmetic(c), w, bias=b) for c in (lut, acc)]
    assert layers[0].lut is not None and layers[1].lut is None
    spikes = rng.random((20, lut.n_inputs)) < 0.5
    for s in spikes:
        assert (layers[0].current(s) == layers[1].current(s)).all()
    assert (layers[0].current(spikes) == layers[1].current(spikes)).all()
    # the batch loop passes the weights converted to float64 once
    wf = w.astype(np.float64)
    assert (layers[0].current(spikes, wf) == layers[1].current(spikes, wf)).all()
    s = np.ones(lut.n_inputs, bool)
    tables = layers[0].lut.tables(layers[0].weights)
    tables[0, 7, 0] += 1                        # every input spiked: entry 7 of group 0
    assert layers[0].current(s)[0] == layers[1].current(s)[0] + (1 << 2)


def test_network_lut_equals_accumulate() -> None:
    """A whole network with both layers on the LUT engine spikes as on the accumulate one
    (the golden network runs the literal loop through the tables)."""
    entry = network_matrix()[0]
    net = entry.network
    lut = net.__class__(**{**net.__dict__, "layers": tuple(
        layer.__class__(**{**layer.__dict__, "forward": "lut", "lut_group": 2 + i})
        for i, layer in enumerate(net.layers))})
    rng = np.random.default_rng(2)
    weights = [rng.integers(c.derived.w_min, c.derived.w_max, (c.n_inputs, c.n_neurons),
                            endpoint=True) for c in net.cores]
    pixels = np.full(net.input.n_inputs, 255)
    a = Network(net, weights=weights).run_sample(pixels, 7, learn=False, record=True)
    b = Network(lut, weights=weights).run_sample(pixels, 7, learn=False, record=True)
    assert a.raster.any()
    assert (a.raster == b.raster).all() and (a.counts == b.counts).all()
    # the batch loop too
    batch = np.full((6, net.input.n_inputs), 255)
    keys = np.arange(6)
    got = Network(lut, weights=weights).run_batch(batch, keys)
    want = Network(net, weights=weights).run_batch(batch, keys)
    assert want.any() and (got == want).all()


def test_tables_follow_the_weights() -> None:
    """A changed weight rebuilds the tables (as a weight write does in the RTL)."""
    core = _tiny()
    lut = LutForward(core)
    w = W4.copy()
    first = lut.tables(w)
    assert lut.tables(w.copy()) is first
    w[3, 0] = 0
    assert lut.tables(w)[1, 3, 0] == 5


@pytest.mark.parametrize("changes, message", [
    ({"lut_group": 1}, "lut_group = 1: must be at least 2"),
    ({"lut_group": 7}, "lut_group = 7: must be at most 6"),
    ({"forward": "table"}, "forward = 'table': must be one of 'accumulate', 'lut'"),
    ({"forward": "lut", "stdp.learn": True}, "forward = 'lut': the tables are built once"),
    ({"forward": "lut", "encoder.kind": "current"},
     "forward = 'lut': current input (encoder.kind = 'current') has no spikes"),
])
def test_config_refuses(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CoreConfig(stdp=OFF).replace(**changes)
    assert str(info.value).startswith(message)
