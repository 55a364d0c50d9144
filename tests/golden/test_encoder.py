"""Tests of the rate encoder: thresholds by hand, spike statistics, range checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plasticore.config import CoreConfig, EncoderConfig, StdpConfig
from plasticore.golden.encoder import rate_threshold, rounding_bits, spikes_from_states
from plasticore.golden.lfsr import STREAM_INPUT, base_states, jump_table, start_states
from plasticore.golden.network import Network


def core4() -> CoreConfig:
    """4-bit pixels at max_rate 0.5, 4 inputs, 2 neurons."""
    return CoreConfig(n_inputs=4, n_neurons=2, n_pe=1, timesteps=20,
                      encoder=EncoderConfig(pixel_bits=4, max_rate=0.5),
                      stdp=StdpConfig(norm=100))


def test_rate_threshold_default() -> None:
    """Default: pixel_bits 8, rate_mult = round(0.255 * 2**24 / 255) = 16777."""
    core = CoreConfig()
    got = rate_threshold(core, [0, 1, 128, 254, 255]).tolist()
    # 0; 16777 >> 8 = 65 (65.5); 128 * 16777 >> 8 = 8388 (8388.5);
    # 254 * 16777 = 4261358 >> 8 = 16645 (16645.9); 255 * 16777 = 4278135 >> 8 = 16711 (16711.5)
    assert got == [0, 65, 8388, 16645, 16711]


def test_rate_threshold_4bit() -> None:
    """pixel_bits 4, max_rate 0.5: rate_mult = round(0.5 * 2**20 / 15) = round(34952.53) = 34953."""
    core = core4()
    assert core.derived.rate_mult == 34953
    got = rate_threshold(core, np.array([[0, 1, 8, 15]]))
    # 34953 >> 4 = 2184 (2184.6); 8 * 34953 >> 4 = 17476 (17476.5);
    # 15 * 34953 = 524295 >> 4 = 32768 (32768.4): a full pixel spikes with probability 1/2
    assert got.shape == (1, 4)
    assert got.tolist() == [[0, 2184, 17476, 32768]]


def test_rate_threshold_full_rate() -> None:
    """max_rate 1.0, 8-bit pixels: rate_mult = round(2**24 / 255) = round(65793.004) = 65793.

    A full pixel's threshold is 255 * 65793 = 16777215 >> 8 = 65535: it spikes for every
    lo16 except 0xFFFF, i.e. with probability 1 - 2**-16, not exactly 1.
    """
    core = CoreConfig().replace(**{"encoder.max_rate": 1.0})
    assert core.derived.rate_mult == 65793
    assert rate_threshold(core, [255]).tolist() == [65535]


def test_spike_rule_boundary() -> None:
    """Spike iff lo16(state) < threshold; the high half does not matter."""
    states = np.array([0x0000_1000, 0xFFFF_0FFF, 0x1234_1001, 0x0001_0000], dtype=np.uint32)
    # lo16 = 0x1000 (not < 0x1000), 0x0FFF (<), 0x1001 (not <), 0x0000 (<)
    assert spikes_from_states(0x1000, states).tolist() == [False, True, False, True]
    assert rounding_bits(states).tolist() == [0x0000, 0xFFFF, 0x1234, 0x0001]


def test_pixel_zero_never_spikes() -> None:
    """Threshold 0: no lo16 value is below it, for all 65536 of them."""
    core = CoreConfig()
    states = (np.arange(1 << 16, dtype=np.uint32) << np.uint32(16)) | np.arange(
        1 << 16, dtype=np.uint32)[::-1]
    assert not spikes_from_states(rate_threshold(core, [0])[0], states).any()


def test_pixel_zero_never_spikes_in_network() -> None:
    """Zero pixels give no input spikes for any key; a full pixel does spike."""
    core = CoreConfig(n_inputs=6, n_neurons=2, n_pe=1, timesteps=200,
                      stdp=StdpConfig(norm=100))
    net = Network(core)
    pixels = np.array([0, 255, 0, 0, 255, 0])
    for key in range(5):
        res = net.run_sample(pixels, key=key, learn=False, record=True)
        assert res.input_raster is not None
        assert not res.input_raster[:, pixels == 0].any()
        assert res.input_raster[:, pixels == 255].any()


def binomial_ok(count: int, n: int, p: float, sigmas: float = 6.0) -> bool:
    """count within ``sigmas`` standard deviations of n * p."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("pixel", [1, 64, 128, 255])
def test_spike_frequency(pixel: int) -> None:
    """Over 64 inputs x 2000 timesteps the spike count is binomial(n, threshold / 2**16).

    Fixed seed and key: the draw is deterministic; the 6-sigma bound has slack for any seed.
    """
    core = CoreConfig()
    T, n = 2000, 64
    threshold = rate_threshold(core, np.full(n, pixel))
    states = jump_table(T).run(start_states(base_states(core.seed, STREAM_INPUT, n), 3))
    count = int(spikes_from_states(threshold, states).sum())
    p = int(threshold[0]) / 65536
    assert binomial_ok(count, T * n, p)
    if pixel == 255:
        # 16711 / 65536 = 0.254990 is max_rate 0.255 to within 2**-16
        assert abs(p - 0.255) < 2**-16
        assert binomial_ok(count, T * n, 0.255)


def test_spike_frequency_across_keys() -> None:
    """The same input over 100 keys x 20 timesteps fires at its rate."""
    core = core4()
    net = Network(core)
    pixels = np.array([15, 8, 1, 0])
    totals = np.zeros(4, np.int64)
    for key in range(100):
        res = net.run_sample(pixels, key=key, learn=False, record=True)
        assert res.input_raster is not None
        totals += res.input_raster.sum(axis=0)
    n = 100 * core.timesteps
    for j, thr in enumerate([32768, 17476, 2184]):  # from test_rate_threshold_4bit
        assert binomial_ok(int(totals[j]), n, thr / 65536)
    assert totals[3] == 0


def test_out_of_range_pixels_raise() -> None:
    """Pixels outside 0 .. 2**pixel_bits - 1 are errors, not wrapped or clipped."""
    core = CoreConfig()
    with pytest.raises(ValueError, match="0..255"):
        rate_threshold(core, [0, 256])
    with pytest.raises(ValueError):
        rate_threshold(core, [-1, 3])
    with pytest.raises(ValueError, match="0..15"):
        rate_threshold(core4(), [16])
    net = Network(core4())
    with pytest.raises(ValueError):
        net.run_sample(np.array([0, 1, 2, 16]), key=0, learn=False)
    with pytest.raises(ValueError):
        net.run_batch(np.array([[0, 1, 2, 3], [0, 1, 2, 99]]), np.arange(2))
