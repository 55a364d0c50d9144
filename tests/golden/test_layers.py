"""Multi-layer networks in the golden model: a two-layer toy worked out by hand (current
input, signed weights, bias, reset by subtraction, no leak), the batch loop and the float
reference against the literal loop, and the membrane readouts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plasticore.config import ConfigError, NetworkConfig
from plasticore.golden.classify import Readout
from plasticore.golden.network import Network

# -- the two-layer toy ---------------------------------------------------------------------
#
# 2 inputs (2-bit pixels, current input), layer 0: 2 neurons, layer 1: 1 neuron, T = 3.
# Layer 0: signed 4-bit weights (-8..7), 4-bit bias (-8..7), no leak, v_th 10, reset by
# subtraction, no refractory period, no inhibition, no adaptation.
# Layer 1: signed 4-bit weights, no bias, shift leak 1 (d - trunc(d / 2)), v_th 4, reset to
# v_reset = -1.

PIXELS = [3, 1]
W0 = [[2, -1],
      [1, 3]]
B0 = [0, -2]
W1 = [[5],
      [-7]]

# Layer 0's constant current: p @ W0 + b0 = [3*2 + 1*1, 3*(-1) + 1*3] + [0, -2] = [7, -2].
#   t0: v = [7, -2], no spike.
#   t1: v = [14, -4]: neuron 0 spikes, v0 = 14 - 10 = 4.
#   t2: v = [11, -6]: neuron 0 spikes, v0 = 1.
# Layer 1 takes layer 0's spikes of the same timestep: [0,0], [1,0], [1,0].
#   t0: current 0: v = 0.
#   t1: current W1[0] = 5: v = leak(0) + 5 = 5 >= 4: spike, v = -1.
#   t2: leak(-1) = -1 * (1 - 1/2) = -0.5 rounded toward zero = 0 (docs/numerics.md:
#       d - ((d + 0) >> 1) = -1 - (-1) for d < 0); v = 0 + 5 = 5: spike, v = -1.
# Layer 1: 2 spikes; its membranes after each timestep 0, -1, -1: v_max 0, v_final -1.


def toy_raw(**input_changes: Any) -> dict[str, Any]:
    neuron0 = {"v_rest": 0, "v_reset": 0, "v_th": 10, "leak_mode": "none",
               "reset_mode": "subtract", "t_ref": 0, "theta_plus": 0, "w_inh": 0}
    neuron1 = {"v_rest": 0, "v_reset": -1, "v_th": 4, "leak_mode": "shift", "leak_shift": 1,
               "reset_mode": "to_reset", "t_ref": 0, "theta_plus": 0, "w_inh": 0}
    widths = {"weight": 4, "membrane": 8, "theta": 1, "weight_signed": True}
    return {"timesteps": 3, "seed": 1,
            "input": {"n_inputs": 2, "kind": "current", "pixel_bits": 2, **input_changes},
            "layers": [{"n_neurons": 2, "n_pe": 1, "widths": {**widths, "bias": 4},
                        "neuron": neuron0},
                       {"n_neurons": 1, "n_pe": 1, "widths": widths, "neuron": neuron1}],
            "rule": {"kind": "none"}}


def toy_network(**input_changes: Any) -> Network:
    return Network(NetworkConfig.from_dict(toy_raw(**input_changes)),
                   weights=[np.array(W0), np.array(W1)], bias=[np.array(B0), None])


def test_two_layer_toy_by_hand() -> None:
    net = toy_network()
    result = net.run_sample(np.array(PIXELS), key=0, learn=False, record=True)
    assert [c.tolist() for c in result.layer_counts] == [[2, 0], [2]]
    assert result.counts.tolist() == [2]
    assert result.raster is not None and result.raster[:, 0].tolist() == [False, True, True]
    assert result.v_max is not None and result.v_max.tolist() == [0]
    assert result.v_final is not None and result.v_final.tolist() == [-1]
    assert result.input_spikes.tolist() == [0, 0, 0]        # current input: no spikes
    assert result.input_raster is None
    batch = net.run_outputs(np.array([PIXELS]), np.array([0]))
    assert batch.counts.tolist() == [[2]]
    assert batch.v_max.tolist() == [[0]] and batch.v_final.tolist() == [[-1]]
    assert batch.layer_spikes.tolist() == [[2, 2]]


def test_the_bias_and_the_sign_matter() -> None:
    """Without the bias, neuron 1 of layer 0 gets 0 and stays at rest; with the weights'
    signs flipped on layer 1 nothing reaches its threshold."""
    config = NetworkConfig.from_dict(toy_raw())
    no_bias = Network(config, weights=[np.array(W0), np.array(W1)])
    out = no_bias.run_sample(np.array(PIXELS), key=0, learn=False)
    assert out.v_final is not None
    assert [c.tolist() for c in out.layer_counts] == [[2, 0], [2]]
    flipped = Network(config, weights=[np.array(W0), -np.array(W1)], bias=[np.array(B0), None])
    assert flipped.run_sample(np.array(PIXELS), key=0, learn=False).counts.tolist() == [0]


def test_parameters_are_checked_per_layer() -> None:
    config = NetworkConfig.from_dict(toy_raw())
    with pytest.raises(ValueError, match="weights must lie in -8..7"):
        Network(config, weights=[np.array(W0) * 4, np.array(W1)])
    with pytest.raises(ValueError, match="bias must lie in -8..7"):
        Network(config, weights=[np.array(W0), np.array(W1)], bias=[np.array([9, 0]), None])
    with pytest.raises(ValueError, match="bias must lie in 0..0"):
        Network(config, weights=[np.array(W0), np.array(W1)], bias=[None, np.array([1])])
    with pytest.raises(ValueError, match="one array per layer"):
        Network(config, weights=np.array(W0))


def test_stdp_refuses_what_it_cannot_learn() -> None:
    raw = toy_raw()
    raw["layers"] = raw["layers"][:1]
    raw["rule"] = {"kind": "stdp"}
    with pytest.raises(ConfigError, match="input.kind = 'current': STDP needs input spikes"):
        NetworkConfig.from_dict(raw)
    raw["input"]["kind"] = "rate"
    with pytest.raises(ConfigError, match=r"layers\[0\].widths.weight_signed = True"):
        NetworkConfig.from_dict(raw)


def test_supervised_readouts_take_the_argmax() -> None:
    readout = Readout("membrane_max", np.zeros((0, 3)), np.zeros(0), 3)
    assert readout.rates is None and readout.neuron_labels.tolist() == [0, 1, 2]
    assert readout.predict(np.array([[1, 5, 5], [-3, -7, -4]])).tolist() == [1, 0]


# -- random networks: every loop agrees -----------------------------------------------------


@st.composite
def layered(draw: st.DrawFn) -> tuple[NetworkConfig, list[Any], list[Any]]:
    kind = draw(st.sampled_from(["rate", "current"]))
    sizes = [draw(st.integers(2, 12)) for _ in range(draw(st.integers(1, 3)) + 1)]
    layers = []
    for n in sizes[1:]:
        v_th = draw(st.integers(20, 400))
        neuron = {"v_rest": draw(st.integers(-5, 5)), "v_th": v_th,
                  "v_reset": draw(st.integers(-20, 0)),
                  "leak_mode": draw(st.sampled_from(["shift", "multiply", "none"])),
                  "leak_shift": draw(st.integers(1, 5)), "decay_q": draw(st.integers(0, 256)),
                  "decay_frac": 8, "reset_mode": draw(st.sampled_from(["to_reset", "subtract"])),
                  "reset_amount": draw(st.sampled_from([0, 0, 7])),
                  "t_ref": draw(st.integers(0, 2)), "theta_plus": 0,
                  "w_inh": draw(st.integers(0, 3))}
        widths = {"weight": draw(st.integers(2, 6)), "membrane": 12, "theta": 4,
                  "weight_signed": draw(st.booleans()), "bias": draw(st.sampled_from([0, 6]))}
        layers.append({"n_neurons": n, "n_pe": 1, "widths": widths, "neuron": neuron})
    raw = {"timesteps": draw(st.integers(1, 12)), "seed": draw(st.integers(0, 9)),
           "input": {"n_inputs": sizes[0], "kind": kind, "pixel_bits": 3, "max_rate": 0.6},
           "layers": layers, "rule": {"kind": "none"}}
    config = NetworkConfig.from_dict(raw)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    weights, biases = [], []
    for core in config.cores:
        d = core.derived
        weights.append(rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons),
                                    endpoint=True))
        biases.append(rng.integers(d.bias_min, d.bias_max, core.n_neurons, endpoint=True))
    return config, weights, biases


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layered(), st.integers(0, 2**16))
def test_batch_loop_equals_literal_loop(case: Any, seed: int) -> None:
    config, weights, biases = case
    net = Network(config, weights=weights, bias=biases)
    pixels = np.random.default_rng(seed).integers(0, 8, (3, config.input.n_inputs))
    keys = np.arange(3) + seed
    batch = net.run_outputs(pixels, keys, chunk=2)
    for b in range(3):
        fast = net.run_sample(pixels[b], int(keys[b]), learn=False)   # maybe event-driven
        assert fast.counts.tolist() == batch.counts[b].tolist()
        net.event_driven = False
        one = net.run_sample(pixels[b], int(keys[b]), learn=False)
        net.event_driven = True
        assert one.counts.tolist() == batch.counts[b].tolist()
        assert one.v_max is not None and one.v_final is not None
        assert one.v_max.tolist() == batch.v_max[b].tolist()
        assert one.v_final.tolist() == batch.v_final[b].tolist()
        assert [int(c.sum()) for c in one.layer_counts] == batch.layer_spikes[b].tolist()


def test_float_reference_runs_layers() -> None:
    """The float reference of the toy, worked by hand: layer 0 as in the integer model (its
    values are exact); layer 1's leak halves exactly, so leak(-1) = -0.5 and the t2 membrane
    is 4.5, still a spike."""
    config = NetworkConfig.from_dict(toy_raw())
    net = Network(config, "float", weights=[np.array(W0), np.array(W1)],
                  bias=[np.array(B0), None])
    out = net.run_sample(np.array(PIXELS), key=0, learn=False)
    assert [c.tolist() for c in out.layer_counts] == [[2, 0], [2]]
    assert out.v_final is not None and out.v_final.tolist() == [-1.0]
