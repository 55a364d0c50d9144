"""Tests of the configuration: validation messages, TOML round trip, derived constants."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from plasticore.config import (
    Config,
    ConfigError,
    CoreConfig,
    DataConfig,
    EncoderConfig,
    NeuronConfig,
    StdpConfig,
    Widths,
    bits_for,
    builtin_configs,
    load_config,
)


def small_core() -> CoreConfig:
    """Weight 4 bits, 10 inputs, 3 neurons, w_inh 7 (the hand-computed Derived example)."""
    return CoreConfig(
        n_inputs=10,
        n_neurons=3,
        n_pe=3,
        timesteps=64,
        widths=Widths(weight=4, membrane=10, theta=6, trace=4),
        encoder=EncoderConfig(pixel_bits=4, max_rate=0.5),
        neuron=NeuronConfig(v_reset=100, v_th=300, t_ref=4, theta_plus=3, w_inh=7),
        stdp=StdpConfig(trace_add=15, w_init_max=10, norm=100, eta_shift=6, soft_bound=True),
    )


def write_config(tmp_path: Path, changes: dict[str, Any]) -> Path:
    """The default config file with dotted ``changes`` applied (new keys are added)."""
    raw = Config().to_dict()
    for key, value in changes.items():
        table, dot, name = key.partition(".")
        if dot:
            raw[table][name] = value
        else:
            raw[key] = value
    path = tmp_path / "test.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def assert_one_line_naming(exc: ConfigError, *parts: str) -> None:
    """The message is one line and names every part (each as a whole token)."""
    msg = str(exc)
    assert "\n" not in msg, msg
    for part in parts:
        pattern = r"(?<!\w)" + re.escape(part) + r"(?![\w])"
        assert re.search(pattern, msg), f"{part!r} not in {msg!r}"


# -- defaults and round trip -----------------------------------------------------------------


def test_defaults_valid() -> None:
    """The default config builds (validation runs in __post_init__)."""
    cfg = Config()
    assert cfg.core == CoreConfig()
    assert cfg.data == DataConfig()
    assert isinstance(ConfigError("x"), ValueError)


def test_toml_round_trip_default(tmp_path: Path) -> None:
    """to_toml -> file -> load_config gives an equal Config; source is the file."""
    path = tmp_path / "default.toml"
    path.write_text(Config().to_toml())
    loaded = load_config(path)
    assert loaded == Config()
    assert loaded.source == str(path)


def test_toml_round_trip_nondefault(tmp_path: Path) -> None:
    """Every table survives the round trip, including a float and booleans."""
    cfg = Config(core=small_core().replace(**{"stdp.rounding": "floor", "seed": 12345,
                                              "neuron.leak_mode": "multiply",
                                              "stdp.potentiation_only": True}),
                 data=DataConfig(dataset="mnist", path="/data/mnist", train_samples=100,
                                 test_samples=50, epochs=2))
    path = tmp_path / "other.toml"
    cfg.save(path)
    loaded = load_config(path)
    assert loaded == cfg
    assert loaded.core.encoder.max_rate == 0.5
    assert loaded.core.stdp.potentiation_only is True
    assert loaded != Config()


def test_replace() -> None:
    """Dotted replace reaches into tables and revalidates; unknown names are errors."""
    core = CoreConfig()
    assert core.replace(**{"neuron.v_th": 4000}).neuron.v_th == 4000
    assert core.replace(n_neurons=8, n_pe=2).n_neurons == 8
    with pytest.raises(ConfigError, match="v_reset"):
        core.replace(**{"neuron.v_th": 1000})  # v_reset 1275 >= v_th 1000
    with pytest.raises(ConfigError, match="nope"):
        core.replace(**{"neuron.nope": 1})
    with pytest.raises(ConfigError, match="bogus"):
        core.replace(**{"bogus.v_th": 1})


# -- load_config errors ----------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist (and is no built-in name) names itself."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, str(path))


def test_not_toml(tmp_path: Path) -> None:
    """Invalid TOML is a ConfigError naming the file."""
    path = tmp_path / "bad.toml"
    path.write_text("n_inputs = = 3\n[widths\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, str(path))
    assert "TOML" in str(info.value)


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    """A directory is not a config file."""
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert_one_line_naming(info.value, str(tmp_path))


def test_table_given_as_scalar(tmp_path: Path) -> None:
    """``widths = 3`` instead of a [widths] table."""
    path = tmp_path / "scalar.toml"
    path.write_text("n_inputs = 8\nwidths = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, "widths", "3")


def test_data_given_as_scalar(tmp_path: Path) -> None:
    """``data = "digits"`` instead of a [data] table."""
    path = tmp_path / "scalar.toml"
    path.write_text('data = "digits"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, "data", "'digits'")


BAD_VALUES: list[tuple[dict[str, Any], str, str]] = [
    # (changes, field named in the message, offending value as it appears)
    ({"bogus_key": 1}, "bogus_key", "bogus_key"),
    ({"neuron.vth": 3}, "neuron", "vth"),
    ({"stdp.eta": 3}, "stdp", "eta"),
    ({"n_inputs": "64"}, "n_inputs", "'64'"),
    ({"timesteps": 1.5}, "timesteps", "1.5"),
    ({"stdp.learn": 1}, "stdp.learn", "1"),
    ({"encoder.max_rate": "fast"}, "encoder.max_rate", "'fast'"),
    ({"widths.trace": True}, "widths.trace", "True"),
    ({"timesteps": 0}, "timesteps", "0"),
    ({"widths.weight": -3}, "widths.weight", "-3"),
    ({"widths.membrane": -1}, "widths.membrane", "-1"),
    ({"widths.weight": 16}, "widths.weight", "16"),  # weight 16 >= membrane 16
    ({"widths.current_shift": -1}, "widths.current_shift", "-1"),
    ({"widths.current_shift": 8}, "widths.current_shift", "8"),  # 8 + 8 >= membrane 16
    ({"widths.membrane": 14}, "widths.theta", "14"),  # theta 14 >= membrane 14
    ({"neuron.v_th": 40000}, "neuron.v_th", "40000"),  # 16-bit membrane max is 32767
    ({"neuron.v_rest": -40000}, "neuron.v_rest", "-40000"),
    # 16385 + theta_max 16383 = 32768 > 32767
    ({"neuron.v_th": 16385, "neuron.v_reset": 0}, "neuron.v_th", "16385"),
    ({"neuron.v_reset": 3315}, "neuron.v_reset", "3315"),  # v_reset == v_th
    ({"neuron.v_reset": 4000}, "neuron.v_reset", "4000"),
    ({"n_pe": 3}, "n_pe", "3"),  # 100 % 3 != 0
    ({"encoder.max_rate": 0.0}, "encoder.max_rate", "0.0"),
    ({"encoder.max_rate": 1.5}, "encoder.max_rate", "1.5"),
    ({"neuron.leak_mode": "linear"}, "neuron.leak_mode", "'linear'"),
    ({"data.path": "/some/dir"}, "data.path", "'/some/dir'"),  # digits with a path
    ({"data.dataset": "mnist"}, "data.path", "''"),  # mnist without a path
    ({"data.dataset": "mnist-5k", "data.path": "x"}, "data.path", "'x'"),  # bundled
    ({"data.dataset": "cifar"}, "data.dataset", "'cifar'"),
    ({"encoder.lanes": 0}, "encoder.lanes", "0"),
    ({"encoder.lanes": "8"}, "encoder.lanes", "'8'"),
    ({"encoder.lanes": 3}, "encoder.lanes", "3"),  # not a power of two
    ({"encoder.lanes": 128}, "encoder.lanes", "128"),  # more lanes than the 64 inputs
    ({"n_inputs": 48, "encoder.lanes": 32}, "encoder.lanes", "32"),  # 48 % 32 != 0
    ({"row_banks": 0}, "row_banks", "0"),
    ({"row_banks": 2}, "row_banks", "2"),  # more banks than the one encoder lane
    ({"row_banks": 3, "encoder.lanes": 4}, "row_banks", "3"),  # not a power of two
    ({"row_banks": 2, "encoder.lanes": 4}, "row_banks", "2"),  # W = 100 / 4 = 25
    ({"norm_groups": 0}, "norm_groups", "0"),
    ({"norm_groups": 3}, "norm_groups", "3"),  # n_pe 4 % 3 != 0
]


@pytest.mark.parametrize(("changes", "field", "value"), BAD_VALUES,
                         ids=[str(c) for c, _, _ in BAD_VALUES])
def test_load_config_errors(tmp_path: Path, changes: dict[str, Any], field: str,
                            value: str) -> None:
    """Each bad file is a one-line ConfigError naming the file, the field and the value."""
    path = write_config(tmp_path, changes)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, str(path), field, value)


def test_unknown_table_key_is_dotted(tmp_path: Path) -> None:
    """An unknown key inside [neuron] is named by its dotted path, as every other field is."""
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, {"neuron.vth": 3}))
    assert "neuron.vth" in str(info.value)


def test_mnist_error_names_dataset(tmp_path: Path) -> None:
    """The missing-path message says which dataset needs it."""
    with pytest.raises(ConfigError, match="mnist"):
        load_config(write_config(tmp_path, {"data.dataset": "fashion-mnist"}))


def test_boundaries_accepted(tmp_path: Path) -> None:
    """Just inside each limit is valid: v_th + theta_max = 32767, max_rate = 1, n_pe | 100."""
    cfg = load_config(write_config(tmp_path, {"neuron.v_th": 16384, "encoder.max_rate": 1.0,
                                              "n_pe": 25, "neuron.v_reset": 16383}))
    assert cfg.core.neuron.v_th == 16384
    assert cfg.core.neuron.v_th + cfg.core.derived.theta_max == 32767


def test_direct_construction_validates() -> None:
    """Building a CoreConfig directly runs the same checks."""
    with pytest.raises(ConfigError) as info:
        CoreConfig(timesteps=0)
    assert_one_line_naming(info.value, "timesteps", "0")
    with pytest.raises(ConfigError) as info:
        CoreConfig(widths=Widths(weight=9, membrane=8, theta=4))
    assert_one_line_naming(info.value, "widths.weight", "9")


# -- Derived ---------------------------------------------------------------------------------


def test_bits_for() -> None:
    """Unsigned bits: 0 and 1 need 1, 255 needs 8, 256 needs 9; negatives are errors."""
    assert [bits_for(v) for v in (0, 1, 2, 255, 256)] == [1, 1, 2, 8, 9]
    with pytest.raises(ValueError):
        bits_for(-1)


def test_derived_default() -> None:
    """Every derived value of the default config, by hand."""
    d = CoreConfig().derived
    assert d.w_max == 255  # 2**8 - 1
    assert (d.v_min, d.v_max) == (-32768, 32767)  # signed 16 bits
    assert d.theta_max == 16383  # 2**14 - 1
    assert d.trace_max == 255  # 2**8 - 1
    assert d.current_bits == 14  # 255 * 64 = 16320 < 2**14
    assert d.inhibition_bits == 19  # 4462 * 99 = 441738; 2**18 = 262144 <= it < 2**19
    # sized for any value the ports carry: sum_hi = 32767 + (2**14 - 1) = 49150 (16 bits);
    # sum_lo = -32768 - (2**19 - 1) = -557055, -sum_lo - 1 = 557054 (20 bits); 20 + 1 = 21
    assert d.membrane_sum_bits == 21
    assert d.refractory_bits == 3  # t_ref 4 = 0b100
    assert d.timestep_bits == 9  # timesteps - 1 = 349 (256..511)
    assert d.count_bits == 9  # up to 350 spikes
    # round(0.255 * 2**16 * 2**8 / 255) = round(16777.216) = 16777
    assert d.rate_mult == 16777
    assert d.rate_mult_bits == 15  # 16384 <= 16777 < 32768
    assert d.stdp_shift == 16  # eta_shift, no soft bound
    assert d.weight_sum_bits == 14  # 255 * 64 = 16320
    assert d.norm_frac_bits == 16
    assert d.neurons_per_pe == 25  # 100 / 4


def test_derived_current_shift() -> None:
    """4-bit weights, current shift 4: one weight LSB is 16 membrane LSBs."""
    d = CoreConfig().replace(**{"widths.weight": 4, "widths.current_shift": 4,
                                "stdp.w_init_max": 15, "stdp.norm": 96}).derived
    assert d.weight_sum_bits == 10      # 15 * 64 = 960 (512..1023)
    assert d.current_bits == 14         # 960 * 16 = 15360 (8192..16383)
    # sum_hi = 32767 + 2**14 - 1 = 49150: 16 bits, the same sum word as 8-bit weights
    assert d.membrane_sum_bits == 21


def test_derived_small() -> None:
    """Weight 4 bits, 10 inputs, 3 neurons, w_inh 7, membrane 10, pixel 4 bits, rate 0.5."""
    d = small_core().derived
    assert d.w_max == 15
    assert (d.v_min, d.v_max) == (-512, 511)
    assert d.theta_max == 63
    assert d.trace_max == 15
    assert d.current_bits == 8  # 15 * 10 = 150 (128..255)
    assert d.inhibition_bits == 4  # 7 * (3 - 1) = 14 = 0b1110
    # sum_hi = 511 + (2**8 - 1) = 766 (10 bits); sum_lo = -512 - (2**4 - 1) = -527,
    # 526 has 10 bits; 10 + 1
    assert d.membrane_sum_bits == 11
    assert d.refractory_bits == 3  # t_ref 4 = 0b100
    assert d.timestep_bits == 6  # 63
    assert d.count_bits == 7  # 64
    # round(0.5 * 2**16 * 2**4 / 15) = round(524288 / 15) = round(34952.53) = 34953
    assert d.rate_mult == 34953
    assert d.rate_mult_bits == 16
    assert d.stdp_shift == 10  # eta_shift 6 + weight 4 (soft bound)
    assert d.weight_sum_bits == 8  # 150
    assert d.neurons_per_pe == 1
    # t_ref = 0 still needs a 1-bit counter; one neuron means no inhibition (bits_for(0) = 1)
    d0 = small_core().replace(n_neurons=1, n_pe=1, **{"neuron.t_ref": 0}).derived
    assert d0.refractory_bits == 1
    assert d0.inhibition_bits == 1
    # sum_lo = -512 - (2**1 - 1) = -513: 512 has 10 bits; sum_hi 766 has 10 bits; 10 + 1
    assert d0.membrane_sum_bits == 11


def test_derived_membrane_sum_holds_extremes() -> None:
    """The signed membrane_sum_bits word holds v_max plus the largest current word and
    v_min minus the largest inhibition word."""
    for core in (CoreConfig(), small_core()):
        d = core.derived
        lo, hi = -(1 << (d.membrane_sum_bits - 1)), (1 << (d.membrane_sum_bits - 1)) - 1
        assert d.v_max + (1 << d.current_bits) - 1 <= hi
        assert d.v_min - ((1 << d.inhibition_bits) - 1) >= lo


def test_encoder_lanes() -> None:
    """Lanes are a power of two dividing n_inputs, up to all of them; the per-input memories
    hold n_inputs / lanes words."""
    assert CoreConfig().derived.input_words == 64
    assert CoreConfig().replace(**{"encoder.lanes": 8}).derived.input_words == 8
    assert CoreConfig().replace(**{"encoder.lanes": 64}).derived.input_words == 1
    assert CoreConfig(n_inputs=784, n_neurons=400, n_pe=8).replace(
        **{"encoder.lanes": 16, "stdp.norm": 19992}).derived.input_words == 49
    with pytest.raises(ConfigError) as info:
        CoreConfig(n_inputs=784).replace(**{"encoder.lanes": 32})
    assert_one_line_naming(info.value, "encoder.lanes", "32", "784")


# -- built-in configs ------------------------------------------------------------------------


def test_builtin_configs() -> None:
    """Every TOML file in configs/ loads by name and by path."""
    configs = builtin_configs()
    if not configs:
        pytest.skip("configs/ holds no TOML files yet")
    for name, path in configs.items():
        assert path.suffix == ".toml"
        assert load_config(name) == load_config(path)
