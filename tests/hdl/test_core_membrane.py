# amaranth: UnusedElaboratable=no
"""The membrane readout (``hdl/core/membrane.py``, ``classify.readout`` ``membrane_max`` or
``membrane_final``) in Amaranth's simulator: a single ``SnnCore`` and ``NetworkCore``s of
two and three layers send, after the counts, the last layer's membrane words, equal to the
golden ``v_max`` / ``v_final``, with the spikes, counts and cycles of the cycle model
(``hdl.cycles.readout_cycles``), every leak and reset mode, signed weights, a bias, under
backpressure."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import pytest
from amaranth.back import rtlil

from plasticore.config import ClassifyConfig, LayerConfig, NetworkConfig, RuleConfig
from plasticore.hdl.core import SnnCore
from plasticore.hdl.core.layouts import membrane_layout
from plasticore.hdl.core.membrane import MembraneReadout, membrane_mode
from plasticore.hdl.cycles import readout_cycles
from plasticore.hdl.network import NetworkCore
from plasticore.sim.core_session import Sample, compare, golden_session, run_amaranth
from plasticore.sim.matrix import scaled_core
from plasticore.sim.target import Target

Array = Any

SIGNED_BIAS = {"widths.weight_signed": True, "widths.bias": 10,
               "neuron.leak_mode": "multiply", "neuron.reset_mode": "subtract",
               "neuron.reset_amount": 1000, "neuron.theta_plus": 0}


def _network(sizes: list[int], pes: list[int], banks: list[int] | None = None,
             lanes: int = 1, timesteps: int = 8, v_th: int = 700, seed: int = 1,
             **options: Any) -> NetworkConfig:
    """A rate-input network of ``sizes`` (inputs, then each layer's neurons), 8-bit weights,
    16-bit membranes, thresholds low enough for random weights to spike; ``options``
    replace core fields of every layer (as ``tests/hdl/test_network_core.py``'s)."""
    core = scaled_core(8, 16, timesteps=timesteps, learn=False, n_inputs=sizes[0],
                       n_neurons=sizes[1], seed=seed)
    core = core.replace(**{"neuron.v_th": v_th, "neuron.theta_plus": max(1, v_th >> 4),
                           "neuron.w_inh": max(1, v_th >> 4), "neuron.v_rest": 0,
                           "neuron.v_reset": 0, "neuron.t_ref": 1, "encoder.lanes": lanes})
    one = NetworkConfig.from_core(core)
    core = core.replace(**options)
    banks = banks or [1] * len(pes)
    layers = tuple(LayerConfig(n_neurons=n, n_pe=p, row_banks=b, widths=core.widths,
                               neuron=core.neuron)
                   for n, p, b in zip(sizes[1:], pes, banks, strict=True))
    return dataclasses.replace(one, layers=layers, rule=RuleConfig(kind="none"))


def _current(network: NetworkConfig) -> NetworkConfig:
    """``network`` with current input (3-bit pixels, a constant current into layer 0)."""
    return dataclasses.replace(network, input=dataclasses.replace(
        network.input, kind="current", pixel_bits=3))


def _session(network: NetworkConfig, n_samples: int, seed: int,
             zeros: float = 0.0) -> tuple[list[Array], list[Array], list[tuple[Array, int]]]:
    """Random weights (signed ones: a third of the neurons mostly excited), thresholds and
    images (a share ``zeros`` of the pixels zero)."""
    rng = np.random.default_rng(seed)
    cores = network.cores
    weights = [rng.integers(c.derived.w_min, c.derived.w_max, (c.n_inputs, c.n_neurons),
                            endpoint=True) for c in cores]
    for w, c in zip(weights, cores, strict=True):
        if c.widths.weight_signed:
            w[:, 1::3] = np.minimum(np.abs(w[:, 1::3]), c.derived.w_max)
    theta = [rng.integers(0, c.neuron.theta_plus, c.n_neurons, endpoint=True) for c in cores]
    images = rng.integers(0, (1 << cores[0].encoder.pixel_bits) - 1,
                          (n_samples, cores[0].n_inputs), endpoint=True)
    images[rng.random(images.shape) < zeros] = 0
    return weights, theta, [(np.asarray(images[i]), 100 + i) for i in range(n_samples)]


def _biases(network: NetworkConfig, seed: int) -> list[Array | None]:
    """Per layer with a bias, biases of both signs within an eighth of the range."""
    rng = np.random.default_rng([seed, 1])
    return [rng.integers(c.derived.bias_min >> 3, c.derived.bias_max >> 3, c.n_neurons,
                         endpoint=True) if c.widths.bias else None for c in network.cores]

#: neuron options per case: each leak mode, each reset mode, signed weights and a bias
MODES = {
    "shift-to_reset": {"neuron.leak_mode": "shift", "neuron.reset_mode": "to_reset"},
    "none-subtract-signed-bias": {**SIGNED_BIAS, "neuron.leak_mode": "none"},
    "multiply-subtract-signed-bias": SIGNED_BIAS,
}


def _run(network: NetworkConfig, membrane: str, seed: int = 0, stall: float = 0.0,
         n_samples: int = 2, zeros: float = 0.0) -> tuple[Any, Any]:
    """The golden session and the RTL's (``run_amaranth``) of random weights, thresholds,
    biases and images, with the membrane readout ``membrane``; a one-layer ``network`` runs
    as its ``SnnCore``."""
    target = Target.of(network, membrane)
    weights, theta, samples = _session(network, n_samples, seed, zeros=zeros)
    bias = _biases(network, seed)
    if not target.layered:
        weights, theta, bias = weights[0], theta[0], bias[0]
    session = [Sample(pixels, key, False) for pixels, key in samples]
    expected = golden_session(target, weights, theta, session, bias)
    got = run_amaranth(target, weights, theta, session, stall, seed, bias=bias)
    return expected, got


def _check(network: NetworkConfig, membrane: str, seed: int = 0, stall: float = 0.0,
           zeros: float = 0.0) -> Any:
    expected, got = _run(network, membrane, seed, stall, zeros=zeros)
    assert len(expected.membranes) == len(got.membranes) == len(expected.counts)
    assert sum(int(c.sum()) for c in expected.counts) > 0, "the last layer must spike"
    difference = compare(Target.of(network, membrane), got, expected, cycles=stall == 0)
    assert difference is None, difference
    return expected


@pytest.mark.parametrize("membrane", ["max", "final"])
@pytest.mark.parametrize("mode", list(MODES))
def test_single_core_membranes(mode: str, membrane: str) -> None:
    """One layer (``SnnCore``), two neurons a word: membranes, spikes, counts, cycles."""
    network = _network([16, 6], [2], v_th=900, timesteps=8, seed=3, **MODES[mode])
    assert len(network.layers) == 1
    _check(network, membrane, seed=1)


@pytest.mark.parametrize("membrane", ["max", "final"])
@pytest.mark.parametrize("mode", list(MODES))
def test_network_membranes(mode: str, membrane: str) -> None:
    """Two layers, mixed lanes: the last layer's membranes."""
    _check(_network([16, 12, 4], [4, 2], v_th=400, timesteps=10, **MODES[mode]), membrane,
           seed=2)


def test_three_layers_backpressure() -> None:
    """Three layers, row banks, consumers that stall 40 % of the time (the membrane
    consumer too): the same membranes, spikes and counts."""
    network = _network([16, 8, 8, 4], [2, 4, 2], [1, 2, 2], lanes=2, v_th=300, timesteps=10,
                       **SIGNED_BIAS)
    for membrane in ("max", "final"):
        _check(network, membrane, seed=3, stall=0.4)


def test_current_input_membranes() -> None:
    """Current input into layer 0 (the current pass, neuron passes without rows)."""
    network = _current(_network([16, 8, 4], [2, 2], v_th=400, timesteps=10, **SIGNED_BIAS))
    _check(network, "max", seed=5, zeros=0.5)


def test_max_and_final_differ() -> None:
    """The two readouts are not the same numbers on this session (so each test above can
    tell a swapped memory), and the maximum is never below the final membrane."""
    network = _network([16, 12, 4], [4, 2], v_th=400, timesteps=10, **SIGNED_BIAS)
    e_max = _check(network, "max", seed=2)
    e_final = _check(network, "final", seed=2)
    assert any((a != b).any() for a, b in zip(e_max.membranes, e_final.membranes, strict=True))
    assert all((a >= b).all() for a, b in zip(e_max.membranes, e_final.membranes, strict=True))


def test_readout_cycles_by_hand() -> None:
    """12 neurons, 4 a word (W = 3): counts 3 * (1 + 4) = 15 cycles, membranes 2 * 3 = 6."""
    core = _network([16, 12], [4]).cores[0]
    assert readout_cycles(core) == 15
    assert readout_cycles(core, "max") == readout_cycles(core, "final") == 21


def test_membrane_layout() -> None:
    """Fields LSB first: word (2 bits for W = 3), n_pe signed membranes, last."""
    core = _network([16, 12], [4]).cores[0]
    layout = membrane_layout(core)
    assert [name for name, _ in layout] == ["word", "v", "last"]
    assert layout.size == 2 + 4 * core.widths.membrane + 1
    token = layout.const({"word": 2, "v": [-1, 0, 5, -(1 << 15)], "last": 1})
    bits = int(token.as_bits())
    m = core.widths.membrane
    assert bits & 3 == 2
    assert (bits >> 2) & ((1 << m) - 1) == (1 << m) - 1              # -1, two's complement
    assert (bits >> (2 + 3 * m)) & ((1 << m) - 1) == 1 << (m - 1)    # v_min
    assert bits >> (2 + 4 * m) == 1


def test_mode_from_the_classify_table() -> None:
    """The one place the RTL learns the readout: membrane readouts, and counts otherwise."""
    assert membrane_mode(ClassifyConfig(readout="membrane_max")) == "max"
    assert membrane_mode(ClassifyConfig(readout="membrane_final")) == "final"
    for readout in ("proportion", "all", "count"):
        assert membrane_mode(ClassifyConfig(readout=readout)) is None


def test_bad_modes_refused() -> None:
    network = _network([16, 12, 4], [4, 2])
    with pytest.raises(ValueError, match="'maximum'"):
        SnnCore(network.cores[0], "maximum")
    with pytest.raises(ValueError, match="'v_max'"):
        NetworkCore(network, "v_max")
    with pytest.raises(ValueError, match="None"):
        MembraneReadout(network.cores[0], None)


def test_counts_only_unchanged() -> None:
    """Without a membrane readout the network is the one it was: no ``membranes`` port, and
    the same netlist as ``membrane=None`` spelled out."""
    network = _network([16, 12, 4], [4, 2])

    def digest(component: Any) -> str:
        return hashlib.sha256(rtlil.convert(component, name="network_core",
                                            emit_src=False).encode()).hexdigest()

    plain, spelled, final = (NetworkCore(network, m) for m in (None, None, "final"))
    assert "membranes" not in plain.signature.members
    assert "membranes" in final.signature.members
    assert digest(plain) == digest(spelled)
    assert digest(final) != digest(plain)


def test_target_json_round_trip() -> None:
    """The testbench receives the membrane readout with the configuration."""
    from plasticore.sim.target import config_from_json, target_from_json

    network = _network([16, 12, 4], [4, 2])
    for membrane in (None, "max", "final"):
        target = Target.of(network, membrane)
        assert target_from_json(target.to_json()) == target
        assert config_from_json(target.to_json()) == network
    assert Target.of(network).to_json() == Target(network).to_json()
    one = dataclasses.replace(network, layers=network.layers[:1])
    assert Target.of(one).digest() == one.core(0).digest()
    assert Target.of(one, "max").digest() != one.core(0).digest()
