# amaranth: UnusedElaboratable=no
"""Tests of the rate encoder ``RateEncoder`` (``hdl/encoder.py``).

(a) Fast tier, Amaranth's simulator: token by token against the golden model for several
pixel widths and rates (including a threshold of exactly ``2**16`` and one that is always 0),
a whole sample against ``golden.lfsr.JumpTable``, exact latency, stalls and reset.
(b) cocotb regression (``plasticore.sim.tb_encoder``) under Verilator and Icarus over the
configuration matrix, plus encoder-specific pixel widths and rates in the slow tier.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from plasticore.config import CoreConfig
from plasticore.golden.encoder import rate_threshold, rounding_bits, spikes_from_states
from plasticore.golden.lfsr import STREAM_INPUT, base_states, jump_table, start_states
from plasticore.hdl.encoder import RateEncoder, encoder_input_layout, encoder_output_layout
from plasticore.hdl.verilog import to_verilog
from plasticore.sim.amaranth_streams import (
    check_reset_empties,
    numbered,
    run_checked,
    run_stream,
)
from plasticore.sim.matrix import MatrixEntry, config_matrix
from plasticore.sim.pe_matrix import distinct
from plasticore.sim.tb_encoder import (
    encoder_corner_tokens,
    encoder_expected,
    random_encoder_token,
)
from plasticore.sim.tb_lfsr import COCOTB_TESTS, ENV_TIMESTEPS

TOPLEVEL = "rate_encoder"
TB_MODULE = "plasticore.sim.tb_encoder"
QUICK = config_matrix(quick=True)
CORE = QUICK[0].core


def _encoder_core(pixel_bits: int, max_rate: float, **changes) -> CoreConfig:
    return CORE.replace(**{"encoder.pixel_bits": pixel_bits, "encoder.max_rate": max_rate},
                        **changes)


#: Pixel widths and rates beyond the matrix: the 1-bit pixel at rate 1 has a threshold of
#: exactly 2**16 (always spikes); the tiny rate has rate_mult 0 (never spikes).
ENCODER_CORES = {
    "p8-r0.3": CORE,
    "default": CoreConfig(),
    "p1-r1": _encoder_core(1, 1.0),
    "p16-r1": _encoder_core(16, 1.0),
    "p16-tiny": _encoder_core(16, 1e-6),
    "p4-r0.5": _encoder_core(4, 0.5),
    "p12-r0.9": _encoder_core(12, 0.9, seed=7),
}


def _golden(core: CoreConfig) -> Callable[[list[dict[str, int]]], list[dict[str, int]]]:
    return lambda tokens: [encoder_expected(core, token) for token in tokens]


def test_encoder_cores_cover_threshold_extremes() -> None:
    top = {name: int(rate_threshold(core, (1 << core.encoder.pixel_bits) - 1))
           for name, core in ENCODER_CORES.items()}
    assert top["p1-r1"] == 1 << 16
    assert top["p16-tiny"] == 0 and ENCODER_CORES["p16-tiny"].derived.rate_mult == 0
    assert top["p16-r1"] == 0xFFFF


def test_constructor_and_signature() -> None:
    with pytest.raises(TypeError, match="CoreConfig"):
        RateEncoder("digits")
    unit = RateEncoder(CORE)
    assert unit.core is CORE and unit.latency == 3
    assert unit.i.payload.shape() == encoder_input_layout(CORE)
    assert unit.o.payload.shape() == encoder_output_layout(CORE)
    assert encoder_input_layout(CORE).size == 8 + 32 + 32 + 1
    assert [name for name, _ in encoder_output_layout(CORE)] == ["spike", "state", "rand_hi"]
    assert encoder_output_layout(CORE).size == 1 + 32 + 16
    with pytest.raises(AttributeError):
        unit.latency = 1


@pytest.mark.parametrize("name", list(ENCODER_CORES))
def test_tokens_match_golden(name: str) -> None:
    core = ENCODER_CORES[name]
    rng = random.Random(name)
    tokens = encoder_corner_tokens(core, rng) + [random_encoder_token(core, rng)
                                                 for _ in range(200)]
    run = run_checked(RateEncoder(core), numbered(tokens, "token"), _golden(core), idle=0.2,
                      stall=0.4, seed=name)
    spikes = [out["spike"] for out in run.outputs]
    if name == "p16-tiny":
        assert not any(spikes)
    else:
        assert 0 < sum(spikes) < len(spikes)


def test_pixel_zero_never_spikes_and_full_rate_always_does() -> None:
    rng = random.Random(9)
    for core, pixel, spike in ((CORE, 0, 0), (ENCODER_CORES["p1-r1"], 1, 1)):
        tokens = [{**random_encoder_token(core, rng), "pixel": pixel} for _ in range(100)]
        run = run_stream(RateEncoder(core), tokens)
        assert {out["spike"] for out in run.outputs} == {spike}


@pytest.mark.parametrize("name", ["p8-r0.3", "p12-r0.9"])
def test_sample_matches_jump_table(name: str) -> None:
    """A whole sample: generators started from the config's base states, each timestep's
    tokens carrying the golden state of the timestep before (open loop; the cocotb tier
    closes the loop).  Spikes, states and draws as golden ``JumpTable`` and the encoder."""
    core = ENCODER_CORES[name]
    timesteps = 20
    rng = np.random.default_rng(11)
    top = (1 << core.encoder.pixel_bits) - 1
    pixels = rng.integers(0, top + 1, core.n_inputs)
    pixels[:2] = (0, top)
    bases = base_states(core.seed, STREAM_INPUT, core.n_inputs)
    key = 12345
    states = jump_table(timesteps).run(start_states(bases, key))
    tokens = []
    for t in range(timesteps):
        before = bases if t == 0 else states[t - 1]
        tokens += [{"pixel": int(p), "state": int(s), "key": key, "reseed": int(t == 0)}
                   for p, s in zip(pixels, before, strict=True)]
    run = run_stream(RateEncoder(core), tokens, idle=0.1, stall=0.3, seed=name)
    got = np.array([[out[f] for f in ("spike", "state", "rand_hi")] for out in run.outputs],
                   dtype=np.int64).reshape(timesteps, core.n_inputs, 3)
    spikes = spikes_from_states(rate_threshold(core, pixels)[None, :], states)
    np.testing.assert_array_equal(got[..., 1], states.astype(np.int64))
    np.testing.assert_array_equal(got[..., 0], spikes.astype(np.int64))
    np.testing.assert_array_equal(got[..., 2], rounding_bits(states))
    assert not got[:, 0, 0].any() and got[:, 1, 0].any()


def test_latency_and_full_throughput() -> None:
    unit = RateEncoder(CORE)
    rng = random.Random(12)
    tokens = [random_encoder_token(CORE, rng) for _ in range(60)]
    run = run_checked(unit, numbered(tokens, "token"), _golden(CORE))
    run.assert_full_throughput(unit.latency)


def test_stall_holds_pipeline_and_reset_empties_it() -> None:
    rng = random.Random(13)
    tokens = [random_encoder_token(CORE, rng) for _ in range(8)]
    unit = RateEncoder(CORE)
    run = run_checked(unit, numbered(tokens, "token"), _golden(CORE), hold=8)
    run.assert_stalled(unit.latency, hold=8)
    # read one token, then reset: the two tokens still in the stages are dropped
    check_reset_empties(RateEncoder(CORE), tokens, taken=1)


def test_verilog_depends_only_on_pixel_width_and_rate() -> None:
    texts = {to_verilog(RateEncoder(entry.core), TOPLEVEL) for entry in QUICK}
    assert len(texts) == 1  # the matrix varies nothing the encoder reads
    wide = to_verilog(RateEncoder(ENCODER_CORES["p16-r1"]), TOPLEVEL)
    assert "input [80:0] i__payload" in wide and "output [48:0] o__payload" in wide


# -- cocotb regression ------------------------------------------------------------------------


def _regression_key(entry: MatrixEntry) -> tuple[float, ...]:
    """What a regression run depends on: the encoder's parameters (all its Verilog depends
    on) and the sample-run stimulus."""
    core = entry.core
    return (core.encoder.pixel_bits, core.derived.rate_mult, core.seed, core.n_inputs,
            core.timesteps)


def _slow_entries() -> list[MatrixEntry]:
    """The rest of the matrix less exact repeats, then encoder-specific configurations."""
    extra = [MatrixEntry(f"encoder-{name}", core) for name, core in ENCODER_CORES.items()
             if name not in ("p8-r0.3", "default")]
    return distinct([*config_matrix(), *extra], _regression_key, done=QUICK)


REGRESSION = [pytest.param(entry, id=entry.label) for entry in QUICK] + [
    pytest.param(entry, id=entry.label, marks=pytest.mark.slow) for entry in _slow_entries()
]


@pytest.mark.parametrize("entry", REGRESSION)
def test_cocotb_regression(pe_regression: Any, entry: MatrixEntry) -> None:
    pe_regression(RateEncoder(entry.core), toplevel=TOPLEVEL, test_module=TB_MODULE,
                  tests=COCOTB_TESTS, extra_env={ENV_TIMESTEPS: "" if pe_regression.slow else "40"})
