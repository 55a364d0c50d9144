"""The timestep-reduction rule, by hand."""

from __future__ import annotations

import pytest

from plasticore.config import ConfigError, load_config
from plasticore.topspark import reduce_timesteps


def test_reduce_to_100_raises_rate_and_shortens_constants() -> None:
    core = load_config("digits").core            # 350 timesteps, max_rate 0.255
    r = reduce_timesteps(core, 100)
    # k = 3.5: rate 0.255 * 3.5 = 0.8925 (no cap, so thresholds stay)
    assert r.timesteps == 100
    assert r.encoder.max_rate == pytest.approx(0.8925)
    # floor(log2 3.5) = 1 octave: leak 6 -> 5, traces 4 -> 3; t_ref round(4 / 3.5) = 1
    assert (r.neuron.leak_shift, r.stdp.tau_pre_shift, r.stdp.tau_post_shift) == (5, 3, 3)
    assert r.neuron.t_ref == 1
    assert (r.neuron.v_th, r.neuron.w_inh, r.neuron.theta_plus) == (3315, 4462, 13)


def test_reduce_to_25_caps_rate_and_scales_membrane_units() -> None:
    core = load_config("digits").core
    r = reduce_timesteps(core, 25)
    # k = 14: wanted rate 3.57 -> capped at 1, g = 3.57; floor(log2 14) = 3 octaves
    assert r.encoder.max_rate == 1.0
    assert (r.neuron.leak_shift, r.stdp.tau_pre_shift) == (3, 1)
    g = 0.255 * 14
    assert r.neuron.v_th == round(3315 / g)          # 929
    assert r.neuron.v_reset == round(1275 / g)       # 357
    assert r.neuron.w_inh == round(4462 / g)         # 1250
    assert r.neuron.theta_plus == round(13 / g)      # 4
    assert r.neuron.t_ref == 0                       # round(4 / 14)


def test_reduce_rejects_more_timesteps() -> None:
    core = load_config("digits").core
    assert reduce_timesteps(core, 350) is core
    with pytest.raises(ConfigError, match="timesteps = 400"):
        reduce_timesteps(core, 400)
