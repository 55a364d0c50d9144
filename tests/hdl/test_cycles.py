"""The cycle model (``hdl/cycles.py``) by hand, on silent samples; the co-simulations hold
it to the RTL timestep by timestep and sample by sample."""

from __future__ import annotations

import numpy as np

from plasticore.config import load_config
from plasticore.hdl.cycles import (
    encode_cycles,
    lower_bound,
    sample_cycles,
    work_of,
)


def _silent(core):
    """Input and output rasters of a sample without a spike."""
    return (np.zeros((core.timesteps, core.n_inputs), bool),
            np.zeros((core.timesteps, core.n_neurons), bool))


def test_silent_digits_sample_by_hand() -> None:
    """digits at 3 timesteps: W = 25 words, encode 64 + 6, a main sequence of
    25 * max(0, 1) + 7 (neuron drain) + 1 (decide) + 1 (end) = 34 with nothing to learn."""
    core = load_config("digits").core.replace(timesteps=3)
    assert encode_cycles(core) == 70
    got = sample_cycles(core, *_silent(core), learn=False)
    # timestep 0: 70 + 1 + 34; then max(0, 70 - 34) + 1 + 34
    assert got.timesteps.tolist() == [105, 71, 71]
    assert (got.load, got.normalize, got.counts) == (1 + 64, 0, 25 * (1 + 4))
    assert got.total == 65 + 247 + 125


def test_normalization_by_hand() -> None:
    """Per word: a column sum (64 reads, 1 drain), the division (27 quotient bits:
    1632 * 2**16 < 2**27), the rescale (64 reads, 3 drain: read, weight and product
    registers)."""
    core = load_config("digits").core.replace(timesteps=3)
    assert core.derived.quotient_bits == 27
    got = sample_cycles(core, *_silent(core), learn=True)
    assert got.normalize == 25 * (64 + 1 + 27 + 64 + 3)
    assert got.total == 65 + 247 + 3975 + 125
    # in 2 groups of 2 lanes: the column sum once, the division and rescale twice
    groups = core.replace(norm_groups=2)
    assert sample_cycles(groups, *_silent(groups), learn=True).normalize == 25 * (
        64 + 2 * (1 + 27 + 64 + 3))
    # without normalization (norm = 0) there is nothing to do after the timesteps
    plain = core.replace(**{"stdp.norm": 0})
    assert sample_cycles(plain, *_silent(plain), learn=True).normalize == 0


def test_encoder_lanes_by_hand() -> None:
    """With E lanes the encode pass takes n_inputs / E cycles plus its drain of 6 (and one
    more for a direct-input raster word), and the pixels load a word of E per cycle."""
    digits = load_config("digits").core.replace(timesteps=3)
    lanes8 = digits.replace(**{"encoder.lanes": 8})
    assert encode_cycles(lanes8) == 64 // 8 + 6
    assert encode_cycles(lanes8.replace(**{"encoder.kind": "direct"})) == 1 + 8 + 6
    assert encode_cycles(load_config("mnist-400").core.replace(
        **{"encoder.lanes": 16})) == 784 // 16 + 6
    got = sample_cycles(lanes8, *_silent(lanes8), learn=True)
    # timestep 0: 14 + 1 + 34; then the encode pass (14) hides under the main sequence (34)
    assert got.timesteps.tolist() == [49, 35, 35]
    # load: the command, then 64 / 8 pixel words
    assert (got.load, got.normalize, got.counts) == (1 + 8, 3975, 125)


def test_lanes_change_no_spike() -> None:
    """Lanes are hardware only: the golden model's spikes, counts and learned weights do not
    depend on them."""
    from plasticore.golden.datasets import load_digits
    from plasticore.golden.network import Network

    core = load_config("digits").core.replace(timesteps=40)
    image = load_digits(core.encoder.pixel_bits)[0].images[0]
    a, b = Network(core), Network(core.replace(**{"encoder.lanes": 16}))
    ra = a.run_sample(image, key=3, learn=True, record=True)
    rb = b.run_sample(image, key=3, learn=True, record=True)
    assert ra.input_raster.any()
    assert (ra.input_raster == rb.input_raster).all() and (ra.raster == rb.raster).all()
    assert (a.weights == b.weights).all()


def test_row_banks_by_hand() -> None:
    """With R row banks the neuron pass takes W * max(Ab, 1) cycles, Ab the most spiking
    inputs in one bank (input j in bank j % R); the learn pass and the rest do not change.

    digits, n_pe = 25 (W = 4 words), 4 lanes, 2 banks, one timestep without learning:
    inputs 0, 2, 4 (bank 0) and 1 (bank 1) spike, so Ab = 3: 4 * 3 + 7 + 1 + 1 = 21
    cycles of neurons, after the encode pass (64 / 4 + 6 = 22) and one cycle: 44.  One
    bank: 4 * 4 + 9 = 25, 48 in all."""
    digits = load_config("digits").core.replace(timesteps=1, n_pe=25,
                                                **{"encoder.lanes": 4})
    banked = digits.replace(row_banks=2)
    inputs = np.zeros((1, 64), bool)
    inputs[0, [0, 1, 2, 4]] = True
    silent = np.zeros((1, 100), bool)
    assert sample_cycles(banked, inputs, silent, learn=False).timesteps.tolist() == [44]
    assert sample_cycles(digits, inputs, silent, learn=False).timesteps.tolist() == [48]
    # the bound spreads the rows over the banks: 4 * 4 / 2 + 4
    work = work_of(banked, inputs, silent)[0]
    assert (work.active, work.bank_active) == (4, 3)
    assert lower_bound(banked, work, learn=False) == 12.0
