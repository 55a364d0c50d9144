# amaranth: UnusedElaboratable=no
"""A core that does not learn (``stdp.learn`` false, as every layer of a network with
``rule.kind = "none"``) builds no learning hardware: no trace units, no neuron generators
(``LFSR``), no learn pass or normalizer, no pre-trace or base-state memories, and no rate
encoders (the input generators) unless its input is rate-coded; its neuron words keep no
STDP state.  What it still needs comes from the golden model with learning off
(``golden.rule.NoLearning``: no trace, no rounding draw, no threshold adaptation; the rate
encoder alone draws).  A core that learns keeps every one of them, so these tests fail if
the split goes wrong either way.  Bit-exactness and cycles of the same cores are the other
files' tests (test_core_signed, test_core_current, test_core_membrane, test_network_core)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from amaranth.hdl import Fragment
from amaranth.lib.memory import Memory

from plasticore.config import CoreConfig, NetworkConfig, RuleConfig, load_config
from plasticore.hdl.core import SnnCore, neuron_layout
from plasticore.hdl.core.encode import EncodePass, generates
from plasticore.hdl.core.learn import StdpLearnPass
from plasticore.hdl.core.neurons import NeuronPass
from plasticore.hdl.core.normalize import Normalizer
from plasticore.hdl.encoder import RateEncoder
from plasticore.hdl.lfsr import LFSR
from plasticore.hdl.lif import LIFNeuronUnit, lif_input_layout
from plasticore.hdl.network import NetworkCore
from plasticore.hdl.trace import TraceUnit
from plasticore.sim.matrix import scaled_core

#: Components only learning uses.
LEARNING = (TraceUnit, LFSR, StdpLearnPass, Normalizer)
#: Memories only learning uses (the pre traces, the neuron generators' base states), and
#: those of the input generators (pixels, base states, states).
LEARNING_MEMORIES = {"x_pre_mem", "neuron_base", "pre_seen"}
GENERATOR_MEMORIES = {"pixel_mem", "input_base", "input_state"}


def _tree(top: Any) -> Iterator[tuple[str, Any]]:
    """Every elaboratable in ``top``'s elaborated module tree: (dotted path, object)."""
    def walk(fragment: Any, path: str) -> Iterator[tuple[str, Any]]:
        for origin in fragment.origins or ():
            yield path, origin
        for sub, name, _ in fragment.subfragments:
            yield from walk(sub, f"{path}.{name}" if path else str(name))
    yield from walk(Fragment.get(top, None), "")


def _census(top: Any) -> tuple[Counter[str], set[str]]:
    """How many of each component class the tree holds, and the names of its memories."""
    objects = list(_tree(top))
    kinds = Counter(type(obj).__name__ for _, obj in objects)
    memories = {path.rsplit(".", 1)[-1] for path, obj in objects if isinstance(obj, Memory)}
    return kinds, memories


def _nolearn(**kwargs: Any) -> CoreConfig:
    """A small core with learning off, as a network without a rule gives it to the RTL."""
    core = scaled_core(6, 12, learn=False, timesteps=6).replace(
        n_pe=2, **{"neuron.theta_plus": 0, "neuron.theta_decay_shift": 0, **kwargs})
    return NetworkConfig.from_core(core, RuleConfig(kind="none")).core(0)


CASES = {
    "rate": _nolearn(),
    "rate-lanes4-banks2": _nolearn(row_banks=2, **{"encoder.lanes": 4}),
    "direct": _nolearn(**{"encoder.kind": "direct"}),
    "current": _nolearn(**{"encoder.kind": "current"}),
}


@pytest.mark.parametrize("label", list(CASES))
def test_core_without_learning_builds_no_learning_hardware(label: str) -> None:
    """No trace, neuron generator, learn pass or normalizer in the module tree; rate
    encoders (one per encoder lane) only with rate input; no STDP memory."""
    core = CASES[label]
    assert not core.stdp.learn
    kinds, memories = _census(SnnCore(core))
    assert kinds["SnnCore"] == 1 and kinds["LIFNeuronUnit"] == core.n_pe
    for unit in LEARNING:
        assert kinds[unit.__name__] == 0, f"{unit.__name__} in a core that does not learn"
    rate = core.encoder.kind == "rate"
    assert generates(core) == rate
    assert kinds[RateEncoder.__name__] == (core.encoder.lanes if rate else 0)
    assert not memories & LEARNING_MEMORIES
    assert (memories >= GENERATOR_MEMORIES) == rate


def test_learning_core_keeps_its_learning_hardware() -> None:
    """The same census of a core that learns (with ``update_every > 1``) finds every unit:
    the test above can fail."""
    core = scaled_core(6, 12, timesteps=6, update_every=2).replace(
        n_pe=2, **{"encoder.kind": "direct"})
    assert core.stdp.learn and core.stdp.norm > 0
    kinds, memories = _census(SnnCore(core))
    E, P = core.encoder.lanes, core.n_pe
    assert kinds[TraceUnit.__name__] == E + P
    assert kinds[LFSR.__name__] == P
    assert kinds[RateEncoder.__name__] == E      # direct input: the generators still step
    assert kinds[StdpLearnPass.__name__] == kinds[Normalizer.__name__] == 1
    assert memories >= LEARNING_MEMORIES | GENERATOR_MEMORIES


def test_neuron_word_without_stdp_state() -> None:
    """A neuron word of a core that does not learn holds the LIF state and the count only
    (no post trace, generator state or post flag: 41 bits fewer per neuron with an 8-bit
    trace); the passes have no STDP members."""
    off, on = CASES["rate"], scaled_core(6, 12, timesteps=6).replace(n_pe=2)
    assert set(neuron_layout(off).members) == {"v", "refractory", "theta", "spike", "count"}
    assert set(neuron_layout(on).members) - set(neuron_layout(off).members) == {
        "post_seen", "x_post", "state"}
    assert neuron_layout(on).size - neuron_layout(off).size == 1 + 8 + 32
    neurons, encode = NeuronPass(off).signature.members, EncodePass(off).signature.members
    assert not {"key", "learn", "accumulate", "updated"} & set(neurons)
    assert not {"seen", "learn_lookup", "normalize_lookup", "lookup_state",
                "lookup_trace", "accumulate"} & set(encode)
    assert "key" in encode                      # the rate encoder reseeds from the key
    assert "key" not in EncodePass(CASES["direct"]).signature.members
    assert {"key", "learn", "accumulate", "updated"} <= set(NeuronPass(on).signature.members)


def test_lif_lanes_without_threshold_adaptation() -> None:
    """The LIF units of a core that does not learn have no threshold adaptation (no
    ``learn`` field); a core that learns keeps it, as the PE on its own does."""
    def lifs(core: CoreConfig) -> list[Any]:
        return [obj for _, obj in _tree(SnnCore(core)) if isinstance(obj, LIFNeuronUnit)]
    off = lifs(CASES["rate"])
    on = lifs(scaled_core(6, 12, timesteps=6).replace(n_pe=2))
    assert len(off) == len(on) == 2
    assert not any(unit.adapts for unit in off) and all(unit.adapts for unit in on)
    assert "learn" not in off[0].i.payload.shape().members
    assert "learn" in on[0].i.payload.shape().members
    assert "learn" in lif_input_layout(CASES["rate"]).members     # the PE alone: unchanged


def test_shipped_network_builds_no_learning_hardware() -> None:
    """``configs/digits-mlp-rate.toml`` (rate input, two layers, no rule) on
    ``NetworkCore``: the rate encoders of layer 0 and nothing else of learning anywhere."""
    network = load_config("digits-mlp-rate").network
    kinds, memories = _census(NetworkCore(network))
    for unit in LEARNING:
        assert kinds[unit.__name__] == 0, f"{unit.__name__} in a network that does not learn"
    assert kinds[RateEncoder.__name__] == network.cores[0].encoder.lanes
    assert kinds["LIFNeuronUnit"] == sum(core.n_pe for core in network.cores)
    assert not memories & LEARNING_MEMORIES
