"""Forward engines of the explorer (``plasticore/explore/engines.py``): which layers an LUT
engine moves, the names, the options as typed and their one-line errors.  The sweep over
engines is in test_trained.py."""

from __future__ import annotations

import dataclasses

import pytest

from plasticore.config import ConfigError, load_config
from plasticore.explore.engines import (
    CONFIG,
    Engine,
    check_engines,
    engine_named,
    engine_of,
    lut_layers,
    parse_engines,
    with_engine,
)
from plasticore.explore.settings import SettingsError


def test_lut_moves_every_layer_whose_input_is_spikes() -> None:
    rate = load_config("digits-mlp-rate").network        # rate input: both layers
    current = load_config("digits-mlp-snntorch").network  # current input: layer 1 only
    assert lut_layers(rate) == [0, 1] and lut_layers(current) == [1]
    moved = with_engine(current, Engine("lut", 6))
    assert [(layer.forward, layer.lut_group) for layer in moved.layers] == [
        ("accumulate", current.layers[0].lut_group), ("lut", 6)]
    # nothing but the engine moves
    back = [dataclasses.replace(layer, forward="accumulate", lut_group=4)
            for layer in moved.layers]
    assert tuple(back) == current.layers
    assert with_engine(moved, Engine("accumulate")) == current
    assert with_engine(moved, CONFIG) is moved


def test_names() -> None:
    rate = load_config("digits-mlp-rate").network
    assert engine_of(rate) == "accumulate"
    assert engine_of(with_engine(rate, Engine("lut", 2))) == "lut2"
    assert engine_of(with_engine(load_config("digits-mlp-snntorch").network,
                                 Engine("lut", 4))) == "lut4"
    mixed = dataclasses.replace(rate, layers=(
        dataclasses.replace(rate.layers[0], forward="lut", lut_group=6), rate.layers[1]))
    assert engine_of(mixed) == "lut6+acc"
    for label in ("accumulate", "lut2", "lut6", "config"):
        assert engine_named(label).label == label
    with pytest.raises(ValueError):
        engine_named("lutx")


def test_options_as_typed() -> None:
    assert parse_engines(None, None) == []
    assert parse_engines("accumulate,lut", "2,4,6") == [
        Engine("accumulate"), Engine("lut", 2), Engine("lut", 4), Engine("lut", 6)]
    # the default group is the configuration's default
    assert parse_engines("lut", None) == [Engine("lut", 4)]


@pytest.mark.parametrize("forward, groups, message", [
    (None, "4", "--lut-group 4: only with --forward ...,lut"),
    ("accumulate", "4", "--lut-group 4: only with --forward ...,lut"),
    ("lut,mac", None, "--forward 'lut,mac': unknown engine 'mac' (known: accumulate, lut)"),
    ("lut,lut", None, "an engine appears twice"),
    ("", None, "expected accumulate, lut or both"),
    ("lut", "4,x", "--lut-group '4,x': expected comma-separated integers"),
])
def test_bad_options_are_one_line(forward: str | None, groups: str | None,
                                  message: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_engines(forward, groups)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_the_configuration_checks_what_an_engine_makes() -> None:
    """The group size's range and the layers' rules are the configuration's: the error names
    its field."""
    rate = load_config("digits-mlp-rate").network
    with pytest.raises(ConfigError):
        with_engine(rate, Engine("lut", 7))
    with pytest.raises(SettingsError) as info:
        check_engines(rate, [Engine("lut", 7)])
    text = str(info.value)
    assert text.startswith("--forward lut --lut-group 7: ") and "lut_group" in text
    # a single layer on current input has nothing to put on LUTs
    one = load_config("digits-mlp-snntorch").network
    one = dataclasses.replace(one, layers=one.layers[:1])
    with pytest.raises(SettingsError, match="no layer of this network takes spikes"):
        check_engines(one, [Engine("lut", 4)])
    check_engines(one, [Engine("accumulate")])
