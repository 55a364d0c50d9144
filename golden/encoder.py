"""Rate encoder (golden model of ``RateEncoder``): pixels to Bernoulli spikes per timestep.

Input ``j`` spikes at timestep ``t`` when ``lo16(g_j[t]) < (pixel_j * rate_mult) >>
pixel_bits``, with ``g_j[t]`` its xorshift32 state after ``t + 1`` steps from the sample's
start state (``lfsr.py``).  A full-scale pixel spikes with probability ``max_rate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import ENCODER_RAND_BITS, ROUNDING_RAND_BITS, CoreConfig
from .lfsr import STATE_BITS

__all__ = ["rate_threshold", "spikes_from_states", "rounding_bits"]

# the two draws split the state word between them
assert ENCODER_RAND_BITS + ROUNDING_RAND_BITS == STATE_BITS

_LO_MASK = np.uint32((1 << ENCODER_RAND_BITS) - 1)


def rate_threshold(core: CoreConfig, pixels: Any) -> Any:
    """Per-input comparison threshold ``(pixel * rate_mult) >> pixel_bits`` (``int64``)."""
    p = np.asarray(pixels, dtype=np.int64)
    hi = (1 << core.encoder.pixel_bits) - 1
    if p.size and (p.min() < 0 or p.max() > hi):
        raise ValueError(f"pixel values must lie in 0..{hi} (pixel_bits = "
                         f"{core.encoder.pixel_bits}), got {p.min()}..{p.max()}")
    return (p * core.derived.rate_mult) >> core.encoder.pixel_bits


def spikes_from_states(threshold: Any, states: Any) -> Any:
    """Spike flags: the low ``ENCODER_RAND_BITS`` (16) of each generator state below the
    input's threshold."""
    return (states & _LO_MASK).astype(np.int64) < threshold


def rounding_bits(states: Any) -> Any:
    """The high ``ROUNDING_RAND_BITS`` (16) of each generator state: the stochastic-rounding
    draw (``int64``)."""
    return (states >> np.uint32(STATE_BITS - ROUNDING_RAND_BITS)).astype(np.int64)
