"""The cycle model of the LUT forward engine (``hdl/cycles.py``) by hand: tokens per word
from the groups with a spike, the table build after a weight write; the core tests hold it
to the RTL."""

from __future__ import annotations

import dataclasses

import numpy as np

from plasticore.config import load_config
from plasticore.hdl.cycles import (
    bank_rows,
    build_cycles,
    network_sample_cycles,
    sample_cycles,
)


def _digits(**changes):
    """digits, learning off, 3 timesteps, n_pe = 25 (W = 4 words)."""
    core = load_config("digits").core
    changes = {"timesteps": 3, **changes}
    return core.replace(n_pe=25, stdp=dataclasses.replace(core.stdp, learn=False), **changes)


def test_groups_with_a_spike_by_hand() -> None:
    """k = 4, one lane: inputs 0, 1, 2 are group 0, input 9 group 2, input 63 group 15:
    three groups with a spike against five spiking inputs; with two banks (four lanes:
    group g = (c // 4) * 4 + e, input j in word c = j // 4, lane e = j % 4) inputs 0, 1, 2
    fall in groups 0, 1, 2 and input 9 in group 1, 63 in group 15: banks {0, 2} and
    {1, 15}: Gb = 2."""
    spikes = np.zeros(64, bool)
    spikes[[0, 1, 2, 9, 63]] = True
    acc = _digits()
    lut = _digits(forward="lut")
    assert bank_rows(acc, spikes) == 5
    assert bank_rows(lut, spikes) == 3
    banked = _digits(forward="lut", row_banks=2, **{"encoder.lanes": 4})
    assert bank_rows(banked, spikes) == 2
    assert bank_rows(lut, np.zeros(64, bool)) == 0


def test_build_by_hand() -> None:
    """digits, k = 4: 16 groups, W = 4 words, 16 entries: 16 * 4 * 16 + 1 cycles; two banks
    halve the groups per bank; k = 6: 11 groups (the last of 4 inputs), 64 entries."""
    assert build_cycles(_digits()) == 0
    assert build_cycles(_digits(forward="lut")) == 16 * 4 * 16 + 1
    assert build_cycles(_digits(forward="lut", row_banks=2, **{"encoder.lanes": 2})) == \
        8 * 4 * 16 + 1
    assert build_cycles(_digits(forward="lut", lut_group=6)) == 11 * 4 * 64 + 1


def test_sample_by_hand() -> None:
    """One silent timestep after a timestep of input spikes in groups 0 and 2 (k = 4):
    the neuron pass takes W * 2 = 8 tokens where the accumulate engine takes W * 5 = 20.
    digits encode 64 + 6 = 70, neuron drain 7, decide and end 1 each.  The build adds to
    the load with rate input, to timestep 0 with direct input."""
    acc, lut = _digits(timesteps=2), _digits(timesteps=2, forward="lut")
    inputs = np.zeros((2, 64), bool)
    inputs[0, [0, 1, 2, 3, 9]] = True
    silent = np.zeros((2, 100), bool)
    # timestep 0: 70 + 1 + (4 * 5 + 9) = 100; timestep 1: max(0, 70 - 29) + 1 + 13 = 55
    assert sample_cycles(acc, inputs, silent, False).timesteps.tolist() == [100, 55]
    # timestep 0: 70 + 1 + (4 * 2 + 9) = 88; timestep 1: max(0, 70 - 17) + 1 + 13 = 67
    got = sample_cycles(lut, inputs, silent, False)
    assert got.timesteps.tolist() == [88, 67] and got.load == 65
    built = sample_cycles(lut, inputs, silent, False, build=True)
    assert built.timesteps.tolist() == [88, 67] and built.load == 65 + 1025
    assert built.total == got.total + 1025
    direct = lut.replace(**{"encoder.kind": "direct"})
    plain = sample_cycles(direct, inputs, silent, False)
    built = sample_cycles(direct, inputs, silent, False, build=True)
    assert built.timesteps[0] == plain.timesteps[0] + 1025 and built.load == plain.load == 1


def test_network_build_delays_the_lut_layer() -> None:
    """In a network the build delays only the LUT layer's schedule (by B, when its
    inputs are not later anyway); an accumulate network is unchanged by ``build``."""
    from plasticore.sim.matrix import network_matrix

    net = network_matrix()[1].network       # direct input, 3 layers
    lut = dataclasses.replace(net, layers=(dataclasses.replace(net.layers[0], forward="lut",
                                                               lut_group=2),
                                           *net.layers[1:]))
    T = net.timesteps
    inputs = np.zeros((T, 16), bool)
    rasters = [np.zeros((T, c.n_neurons), bool) for c in net.cores]
    plain = network_sample_cycles(net.cores, inputs, rasters)
    assert (network_sample_cycles(net.cores, inputs, rasters, build=True).step_ends
            == plain.step_ends).all()
    lut_plain = network_sample_cycles(lut.cores, inputs, rasters)
    lut_built = network_sample_cycles(lut.cores, inputs, rasters, build=True)
    B = build_cycles(lut.cores[0])
    assert B == 8 * 6 * 4 + 1                   # 16 inputs in 8 groups, W = 6, 4 entries
    assert lut_built.step_ends[0][0] == lut_plain.step_ends[0][0] + B
