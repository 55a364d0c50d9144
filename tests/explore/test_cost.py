"""Memory from the RTL, energy by hand, latency from the cycle model."""

from __future__ import annotations

import pytest

from plasticore.config import CoreConfig, StdpConfig, Widths, load_config
from plasticore.explore.cost import ENERGY_45NM, energy, latency, measure, memory_bits
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network
from plasticore.hdl import cycles


def tiny(**changes: object) -> CoreConfig:
    core = CoreConfig(n_inputs=4, n_neurons=2, n_pe=1, timesteps=8, widths=Widths(weight=4),
                      stdp=StdpConfig(w_init_max=15, norm=30))
    return core.replace(**changes)


def test_weight_memory_by_hand() -> None:
    assert memory_bits(tiny())["weight_bits"] == 4 * 2 * 4            # inputs x neurons x bits
    assert memory_bits(load_config("digits").core)["weight_bits"] == 64 * 100 * 8
    # in two row banks, the same bits in two memories
    banked = memory_bits(tiny(row_banks=2, **{"encoder.lanes": 2}))
    assert banked["weight_bits"] == 4 * 2 * 4
    assert sorted(n for n in banked["memories"] if n.startswith("weights")) == [
        "weights/weights0", "weights/weights1"]


def test_state_memory_follows_the_trace_width() -> None:
    # one more trace bit: the pre traces (two banks of n_inputs words) and the post trace
    # in every neuron's state word grow by one bit each
    a = memory_bits(tiny())["state_bits"]
    b = memory_bits(tiny(**{"widths.trace": 9}))["state_bits"]
    assert b - a == 2 * 4 + 2
    # the weight width does not touch the state memories
    c = memory_bits(tiny(**{"widths.weight": 3, "stdp.w_init_max": 7, "stdp.norm": 20}))
    assert c["state_bits"] == a and c["weight_bits"] == 4 * 2 * 3


def test_energy_synapses_by_hand() -> None:
    core = tiny()
    counts = {"weight_words_read": 10, "synaptic_adds": 20, "neuron_updates": 0,
              "learned_words": 0}
    e = energy(core, counts)
    # 10 reads of one 4-bit lane at 10 pJ / 64 bits; 20 adds of weight_sum_bits = 6
    # (4 inputs x 15 = 60) at 0.03 pJ / 8 bits
    assert e["energy_synapses_nj"] == pytest.approx((10 * 4 * 10 / 64 + 20 * 6 * 0.03 / 8)
                                                    * 1e-3)
    assert e["energy_neurons_nj"] == 0
    # encoder: 8 timesteps x 4 inputs x (3 x 32-bit adds, a 16-bit compare, 2 x 32-bit SRAM)
    enc = 8 * 4 * (3 * 32 * 0.03 / 8 + 16 * 0.03 / 8 + 2 * 32 * 10 / 64) * 1e-3
    assert e["energy_encoder_nj"] == pytest.approx(enc)
    assert e["energy_nj"] == pytest.approx(e["energy_synapses_nj"] + enc)
    assert e["energy_train_nj"] > e["energy_nj"]
    assert ENERGY_45NM.mult(8, 8) == pytest.approx(0.2)      # Horowitz: 8-bit multiply


def test_latency_is_the_cycle_model() -> None:
    core = load_config("digits").core.replace(timesteps=20)
    _, test = load_dataset("digits", None, 8)
    net = Network(core)
    counts = measure(net, None, test.subset(0, 3))
    expected = []
    for k in range(3):
        r = net.run_sample(test.images[k], key=k, learn=False, record=True)
        expected.append(cycles.sample_cycles(core, r.input_raster, r.raster, False).total)
    assert counts["cycles_inference"] == pytest.approx(sum(expected) / 3)
    lat = latency(counts, 50.0)
    assert lat["latency_us"] == pytest.approx(sum(expected) / 3 / 50)
    assert counts["neuron_updates"] == 20 * 100


def test_membrane_max_memory_by_hand() -> None:
    """A ``membrane_max`` readout keeps a running maximum of every output neuron's
    membrane: ``W`` words x ``n_pe`` lanes x membrane bits more state, in the last layer
    only; ``membrane_final`` reads the neuron store and adds no memory."""
    import dataclasses

    from plasticore.config import LayerConfig, NetworkConfig, RuleConfig
    from plasticore.explore.cost import network_memory_bits

    # one core: 2 neurons, 1 lane, 16-bit membrane: 2 words x 1 x 16 = 32 bits
    base = memory_bits(tiny())
    assert memory_bits(tiny(), "max")["state_bits"] - base["state_bits"] == 2 * 1 * 16
    assert memory_bits(tiny(), "max")["weight_bits"] == base["weight_bits"]
    assert memory_bits(tiny(), "final")["state_bits"] == base["state_bits"]
    # two layers, 16 -> 8 -> 4 neurons of 2 lanes, a 12-bit membrane in the last:
    # 4 / 2 = 2 words x 2 lanes x 12 bits = 48 bits in layer 1
    core = tiny(n_inputs=16, n_neurons=8, n_pe=2, **{
        "stdp.learn": False, "neuron.v_th": 400, "neuron.v_rest": 0, "neuron.v_reset": 0,
        "neuron.theta_plus": 0, "neuron.w_inh": 0})
    one = NetworkConfig.from_core(core)
    layers = (LayerConfig(n_neurons=8, n_pe=2, row_banks=1, widths=core.widths,
                          neuron=core.neuron),
              LayerConfig(n_neurons=4, n_pe=2, row_banks=1,
                          widths=dataclasses.replace(core.widths, membrane=12, theta=8),
                          neuron=core.neuron))
    network = dataclasses.replace(one, layers=layers, rule=RuleConfig(kind="none"))
    counts, vmax = network_memory_bits(network), network_memory_bits(network, "max")
    assert [b["state_bits"] for b in vmax["layers"]] == [
        counts["layers"][0]["state_bits"], counts["layers"][1]["state_bits"] + 2 * 2 * 12]
    assert vmax["state_bits"] - counts["state_bits"] == 48
    assert vmax["weight_bits"] == counts["weight_bits"]
    assert network_memory_bits(network, "final")["state_bits"] == counts["state_bits"]


def test_lut_weight_memory_and_word_energy_by_hand() -> None:
    """A LUT core (groups of 4, 64 inputs, 100 neurons in 4 lanes, 8-bit signed weights):
    its weight memory is the tables, 16 groups x 16 entries x 100 neurons of a 4-weight
    sum (-512..508: 10 bits); a table word read costs 4 x 10 bits of SRAM, a weight word
    4 x 8."""
    network = load_config("digits-mlp-rate").network
    accumulate = network.core(0)
    lut = accumulate.replace(forward="lut", lut_group=4)
    assert memory_bits(lut)["weight_bits"] == 16 * 16 * 100 * 10
    counts = {"weight_words_read": 10, "synaptic_adds": 0, "neuron_updates": 0,
              "learned_words": 0}
    per_bit = ENERGY_45NM.sram_pj_per_bit * 1e-3
    assert energy(accumulate, counts, encoder=False)["energy_synapses_nj"] == pytest.approx(
        10 * 4 * 8 * per_bit)
    assert energy(lut, counts, encoder=False)["energy_synapses_nj"] == pytest.approx(
        10 * 4 * 10 * per_bit)
