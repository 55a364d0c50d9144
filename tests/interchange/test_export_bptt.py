"""A network trained by BPTT exports to NIR as the same network with ``rule.kind = "none"``
does (``plasticore/interchange/export.py``): the same nodes, the same notes plus one saying
the rule is not exported, and it reads back as that ``none`` network with the same
integer arrays."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from plasticore.config import BpttConfig, Config, RuleConfig, load_config
from plasticore.interchange.export import export_graph
from plasticore.interchange.graph import network_of
from plasticore.interchange.quantize import ImportOptions, quantize

DT = 1e-4
OPTIONS = ImportOptions(dataset="digits", timesteps=6, encoder="current")


def with_rule(config: Config, rule: RuleConfig) -> Config:
    return config.replace_network(dataclasses.replace(config.network, rule=rule))


def export(config: Config, arrays: Any) -> tuple[Any, list[str]]:
    return export_graph(config, arrays.weights, arrays.theta, arrays.bias, dt=DT)


def on_the_import_grid() -> Any:
    """A 64-16-10 network with random weights and biases, once through export and import,
    so that its values are what the importer writes (a fixed point of the round trip)."""
    base = load_config("digits-mlp-snntorch")
    network = dataclasses.replace(
        base.network, timesteps=6,
        layers=(dataclasses.replace(base.network.layers[0], n_neurons=16),
                base.network.layers[1]))
    config = base.replace_network(network)
    rng = np.random.default_rng(3)
    cores = config.network.cores
    raw = type("Arrays", (), {
        "weights": [rng.integers(c.derived.w_min, c.derived.w_max, (c.n_inputs, c.n_neurons),
                                 endpoint=True) for c in cores],
        "bias": [rng.integers(c.derived.bias_min // 2, c.derived.bias_max // 2, c.n_neurons)
                 for c in cores],
        "theta": [np.zeros(c.n_neurons, np.int64) for c in cores]})
    graph, _ = export(config, raw)
    return quantize(network_of(graph, DT), OPTIONS)


def test_bptt_exports_and_imports_as_none_does() -> None:
    imported = on_the_import_grid()
    none = imported.config
    assert none.network.rule.kind == "none"
    bptt = with_rule(none, RuleConfig(kind="bptt", bptt=BpttConfig(batch=8)))
    graph_none, notes_none = export(none, imported)
    graph_bptt, notes_bptt = export(bptt, imported)
    assert list(graph_bptt.nodes) == list(graph_none.nodes)
    assert graph_bptt.edges == graph_none.edges
    for name, node in graph_none.nodes.items():
        other = graph_bptt.nodes[name]
        assert type(other) is type(node)
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(vars(other)[key], value), (name, key)
    extra = [n for n in notes_bptt if n not in notes_none]
    assert notes_none == [n for n in notes_bptt if n not in extra]
    assert len(extra) == 1 and "rule.kind = 'bptt'" in extra[0] and "not exported" in extra[0]

    again = quantize(network_of(graph_bptt, DT), OPTIONS)
    assert again.config.network == none.network        # the rule reads back as none
    for name in ("weights", "theta", "bias"):
        for a, b in zip(getattr(again, name), getattr(imported, name), strict=True):
            assert np.array_equal(a, b), name
