"""The explorer's settings: defaults taken from the configuration, every option checked when
the object is made (the CLI's user errors are in test_explore_cli.py)."""

from __future__ import annotations

import dataclasses

import pytest

from plasticore.config import load_config
from plasticore.explore.pareto import Constraint
from plasticore.explore.settings import Settings, SettingsError, int_list


def test_defaults_come_from_the_configuration() -> None:
    config = load_config("digits")          # 350 timesteps, 8-bit weights
    s = Settings(config, variant_bits=[4], dataset_sizes=(1200, 15))
    # the 350,200,100,50,25,10: fractions of the config's timesteps
    assert s.timesteps == [350, 200, 100, 50, 25, 10]
    assert s.clock_mhz == config.board.clock_mhz
    assert s.cost_samples == 15                   # at most the test set
    assert s.variant_bits == []                   # no variants, no variant widths
    assert s.runner().workers == 1 and not s.runner().remote
    # the baseline's timesteps always join the grid
    assert Settings(config, timesteps=[50, 25]).timesteps == [350, 50, 25]


def test_from_text_parses_the_lists_as_typed() -> None:
    config = load_config("digits")
    s = Settings.from_text(config, timesteps="100,50", weight_bits="8,4",
                           constraints="accuracy_drop<=0.02", variants="floor-rounding",
                           variant_bits="4,2", search_bits="4", seeds=5)
    assert (s.timesteps, s.weight_bits, s.variants, s.variant_bits, s.search_bits,
            s.seeds) == ([350, 100, 50], [8, 4], ["floor-rounding"], [4, 2], [4], 5)
    assert s.constraints == [Constraint("accuracy_drop", "<=", 0.02)]
    assert Settings.from_text(config, variants="none").variants == []
    assert s.to_dict()["constraints"] == ["accuracy_drop <= 0.02"]
    assert "config" not in s.to_dict()


@pytest.mark.parametrize("change, message", [
    ({"timesteps": [400]}, "--timesteps '400': 400 is out of range 1..350"),
    ({"weight_bits": [8, 8]}, "--weight-bits '8,8': a value appears twice"),
    ({"seeds": 0}, "--seeds 0: must be at least 1"),
    ({"minimize": "speed"}, "--minimize 'speed': unknown metric"),
    ({"variants": ["magic"]}, "--variants: unknown variant 'magic'"),
    ({"weight_bits": [8], "search_bits": [4]}, "--search-bits '4': 4 is not one of"),
    ({"variant_timesteps": 351}, "--variant-timesteps 351: must be at most the config's 350"),
    ({"validation": 1200, "dataset_sizes": (1200, 597)},
     "--validation 1200: must be below the 1200 training samples"),
    ({"clock_mhz": 0.0}, "--clock-mhz 0.0: expected a finite positive number"),
    ({"width_transform": "stretch"}, "--width-transform 'stretch': expected one of"),
    ({"workers": 0}, "--workers 0: must be at least 1"),
    ({"scheduler": "tcp://127.0.0.1:8786", "scheduler_file": "s.json"},
     "--scheduler and --scheduler-file: give one of them"),
])
def test_a_bad_setting_is_refused_naming_the_option(change: dict, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(load_config("digits"), **change)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_configuration_that_does_not_learn_is_refused() -> None:
    config = load_config("digits")
    config = dataclasses.replace(config, core=config.core.replace(**{"stdp.learn": False}))
    with pytest.raises(SettingsError, match="stdp.learn = false: nothing to train"):
        Settings(config)
    # a network without a learning rule (imported) is named as such, not as learning off
    with pytest.raises(SettingsError, match="rule.kind = 'none': the explorer sweeps"):
        Settings(load_config("digits-mlp-rate"))


def test_int_list() -> None:
    assert int_list("--x", "3, 1,2") == [3, 1, 2]
    for text, message in (("", "expected at least one value"),
                          ("1,a", "expected comma-separated integers"),
                          ("0", "0 is out of range 1..")):
        with pytest.raises(SettingsError, match=message):
            int_list("--x", text)
