"""Weight-width transform and variants, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from plasticore.config import ConfigError, load_config
from plasticore.explore.precision import (
    VARIANTS,
    apply_variant,
    quantize_network,
    with_weight_bits,
)
from plasticore.golden.network import Network


def test_four_bit_weights_by_hand() -> None:
    core = load_config("digits").core                # 8-bit weights, 16-bit membrane
    c = with_weight_bits(core, 4)
    # transform "scale": s = 15 / 255 = 1 / 17
    assert (c.widths.weight, c.widths.current_shift) == (4, 0)
    assert (c.widths.membrane, c.widths.theta) == (12, 10)   # both lose 4 bits
    assert c.neuron.v_th == 195                      # 3315 / 17
    assert c.neuron.v_reset == 75                    # 1275 / 17
    assert c.neuron.w_inh == 262                     # 4462 / 17 = 262.5 -> 262 (half to even)
    assert c.neuron.theta_plus == 1                  # 13 / 17 = 0.76 -> 1
    assert c.stdp.norm == 96                         # 1632 / 17
    assert c.stdp.w_init_max == 5                    # 77 / 17 = 4.53
    # rates keep their precision: times 2**8, eta_shift 16 -> 24
    assert c.stdp.eta_shift == 24
    assert c.stdp.eta_post == 9864                   # 655 / 17 * 256 = 9863.5
    assert c.stdp.eta_pre == 105                     # 7 / 17 * 256 = 105.4
    # the rest is untouched
    assert c.timesteps == core.timesteps and c.neuron.leak_shift == core.neuron.leak_shift


def test_four_bit_weights_through_the_current_shift_by_hand() -> None:
    core = load_config("digits").core                # 8-bit weights, 16-bit membrane
    c = with_weight_bits(core, 4, "shift")
    # current shift 4: one weight LSB = 16 membrane LSBs; s_w = 15 / 255 = 1 / 17,
    # s_m = 15 * 16 / 255 = 16 / 17
    assert (c.widths.weight, c.widths.current_shift) == (4, 4)
    assert (c.widths.membrane, c.widths.theta) == (16, 14)   # unchanged
    assert c.neuron.v_th == 3120                     # 3315 * 16 / 17
    assert c.neuron.v_reset == 1200                  # 1275 * 16 / 17
    assert c.neuron.w_inh == 4200                    # 4462 * 16 / 17 = 4199.5
    assert c.neuron.theta_plus == 12                 # 13 * 16 / 17 = 12.2
    assert c.stdp.norm == 96                         # 1632 / 17 (weight LSBs)
    assert c.stdp.w_init_max == 5                    # 77 / 17 = 4.53
    # rates keep their precision: times 2**8, eta_shift 16 -> 24
    assert c.stdp.eta_shift == 24
    assert c.stdp.eta_post == 9864                   # 655 / 17 * 256 = 9863.5
    assert c.stdp.eta_pre == 105                     # 7 / 17 * 256 = 105.4
    # the rest is untouched
    assert c.timesteps == core.timesteps and c.neuron.leak_shift == core.neuron.leak_shift
    # two bits: shift 6, s_m = 3 * 64 / 255
    c2 = with_weight_bits(core, 2, "shift")
    assert (c2.widths.current_shift, c2.neuron.v_th) == (6, 2496)   # 3315 * 192 / 255
    # and back: 4 -> 8 bits drops the shift again, the membrane scale unchanged
    c8 = with_weight_bits(c, 8, "shift")
    assert (c8.widths.current_shift, c8.widths.membrane) == (0, 16)
    assert c8.neuron.v_th == 3315                    # 3120 * 255 / 240 = 3314.99


def test_same_width_is_identity_and_wider_grows() -> None:
    core = load_config("digits").core
    assert with_weight_bits(core, 8) is core
    c = with_weight_bits(core, 16)                   # s = 65535 / 255 = 257
    assert c.neuron.v_th == 3315 * 257
    assert c.widths.membrane == 24
    # eta * 257 does not fit 16 bits: the shift drops instead (655 * 257 / 4 = 42083.75)
    assert (c.stdp.eta_shift, c.stdp.eta_post) == (14, 42084)


def test_quantize_network_by_hand() -> None:
    core = load_config("digits").core.replace(n_inputs=2, n_neurons=2, n_pe=1,
                                              **{"stdp.norm": 300})
    net = Network(core, weights=np.array([[255, 128], [0, 17]]))
    net.theta = np.array([100, 7])
    four = with_weight_bits(core, 4, "shift")         # s_w = 15/255, s_m = 240/255
    q = quantize_network(net, four)
    assert q.core is four
    assert q.weights.tolist() == [[15, 8], [0, 1]]   # 128 * 15/255 = 7.53, 17 -> 1.0
    assert q.theta.tolist() == [94, 7]               # 100 * 16/17 = 94.1, 7 -> 6.59
    assert net.weights.tolist() == [[255, 128], [0, 17]]   # the trained one is untouched
    # the same network's currents in membrane units: 15 * 16 = 240 against 255
    assert (q.weights << four.widths.current_shift).max() == 240


def test_out_of_range_width() -> None:
    core = load_config("digits").core
    with pytest.raises(ConfigError, match="weight bits = 17"):
        with_weight_bits(core, 17)
    with pytest.raises(ConfigError, match="width transform 'squeeze'"):
        with_weight_bits(core, 4, "squeeze")


def test_variants() -> None:
    core = load_config("digits").core
    assert apply_variant(core, "floor-rounding").stdp.rounding == "floor"
    assert apply_variant(core, "potentiation-only").stdp.potentiation_only
    assert apply_variant(core, "update-every-4").stdp.update_every == 4
    m = apply_variant(core, "membrane-2")
    # 14-bit membrane: v_max 8191; v_th 3315 + theta_max must fit -> 12-bit theta (4095)
    assert (m.widths.membrane, m.widths.theta) == (14, 12)
    assert apply_variant(core, "stochastic-normalization").stdp.norm_rounding == "stochastic"
    assert set(VARIANTS) >= {"floor-rounding", "potentiation-only", "update-every-4"}
    with pytest.raises(ConfigError, match="unknown variant"):
        apply_variant(core, "nope")
