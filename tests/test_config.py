"""Tests of the configuration: both file forms (layered, old flat), validation messages, TOML
round trip, derived constants."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from plasticore.config import (
    BpttConfig,
    Config,
    ConfigError,
    CoreConfig,
    DataConfig,
    EncoderConfig,
    InputConfig,
    LayerConfig,
    NetworkConfig,
    NeuronConfig,
    RuleConfig,
    StdpConfig,
    Widths,
    bits_for,
    builtin_configs,
    load_config,
    parse_toml,
)

#: The shipped configurations in the old flat form, as they were before the layered form
#: (copies of configs/*.toml at the commit before it).
FLAT_CONFIGS = Path(__file__).parent / "flat_configs"
#: The shipped one-layer STDP configurations (those); the others are imported networks of
#: several layers (tests/interchange/test_nir.py holds them to `plasticore nir import`).
STDP_CONFIGS = sorted(path.stem for path in FLAT_CONFIGS.glob("*.toml"))


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


def flat_dict(config: Config) -> dict[str, Any]:
    """``config`` in the old flat file form (what Config.to_dict wrote before layers)."""
    return {**config.core.to_dict(), "data": config.data.to_dict(),
            "classify": config.classify.to_dict(), "board": config.board.to_dict()}


def write_config(tmp_path: Path, changes: dict[str, Any]) -> Path:
    """The default config file in the old flat form with dotted ``changes`` applied (new
    keys are added)."""
    raw = flat_dict(Config())
    for key, value in changes.items():
        table, dot, name = key.partition(".")
        if dot:
            raw[table][name] = value
        else:
            raw[key] = value
    path = tmp_path / "test.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def set_path(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set the layered path ``key`` (``layers[1].neuron.v_th``, ``rule.norm``) in ``raw``."""
    *tables, name = key.split(".")
    node: Any = raw
    for table in tables:
        table, _, index = table.partition("[")
        node = node.setdefault(table, {})
        if index:
            node = node[int(index.rstrip("]"))]
    node[name] = value


def write_layered(tmp_path: Path, changes: dict[str, Any],
                  raw: dict[str, Any] | None = None) -> Path:
    """The default config file (layered form), or ``raw``, with ``changes`` applied."""
    raw = Config().to_dict() if raw is None else raw
    for key, value in changes.items():
        set_path(raw, key, value)
    path = tmp_path / "layered.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


#: Old flat names -> layered names, by prefix (the first that matches).
FLAT_TO_LAYERED = [
    ("n_inputs", "input.n_inputs"), ("encoder", "input"), ("widths", "layers[0].widths"),
    ("neuron", "layers[0].neuron"), ("stdp", "rule"), ("n_neurons", "layers[0].n_neurons"),
    ("n_pe", "layers[0].n_pe"), ("row_banks", "layers[0].row_banks"),
    ("norm_groups", "layers[0].norm_groups"),
]


def layered_name(flat: str) -> str:
    """The layered path of an old flat field path (``neuron.v_th`` -> ``layers[0].neuron.v_th``)."""
    head, dot, rest = flat.partition(".")
    for old, new in FLAT_TO_LAYERED:
        if head == old:
            return new + dot + rest
    return flat


def assert_one_line_naming(exc: ConfigError, *parts: str) -> None:
    """The message is one line and names every part (each as a whole token)."""
    msg = str(exc)
    assert "\n" not in msg, msg
    for part in parts:
        pattern = r"(?<!\w)" + re.escape(part) + r"(?![\w])"
        assert re.search(pattern, msg), f"{part!r} not in {msg!r}"


# -- defaults and round trip -----------------------------------------------------------------


def test_defaults_valid() -> None:
    """The default config builds (validation runs in __post_init__); its network is the
    default one-layer STDP network, and that network's layer 0 is the default core."""
    cfg = Config()
    assert cfg.core == CoreConfig()
    assert cfg.data == DataConfig()
    assert cfg.network == NetworkConfig()
    assert NetworkConfig().core(0) == CoreConfig()
    assert NetworkConfig().rule == RuleConfig(kind="stdp", stdp=StdpConfig())
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
    assert loaded.network == NetworkConfig.from_core(cfg.core)


def test_saved_in_the_layered_form(tmp_path: Path) -> None:
    """save writes the layered form: [input], [[layers]] with its sub-tables, [rule]; none
    of the old flat keys."""
    path = tmp_path / "saved.toml"
    Config(core=small_core()).save(path)
    text = path.read_text()
    for header in ("[input]", "[[layers]]", "[layers.widths]", "[layers.neuron]", "[rule]",
                   "[data]", "[classify]", "[board]"):
        assert f"\n{header}\n" in text, header
    raw = tomllib.loads(text)
    assert sorted(raw) == ["board", "classify", "data", "input", "layers", "rule", "seed",
                           "timesteps"]
    assert raw["input"] == {"n_inputs": 10, "kind": "rate", "pixel_bits": 4, "max_rate": 0.5,
                            "lanes": 1}
    assert len(raw["layers"]) == 1
    assert raw["layers"][0]["n_neurons"] == 3 and raw["layers"][0]["widths"]["weight"] == 4
    assert raw["rule"]["kind"] == "stdp" and raw["rule"]["norm"] == 100
    assert load_config(path) == Config(core=small_core())


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


@pytest.mark.parametrize(("changes", "field", "value"), BAD_VALUES,
                         ids=[str(c) for c, _, _ in BAD_VALUES])
def test_layered_errors(tmp_path: Path, changes: dict[str, Any], field: str,
                        value: str) -> None:
    """The same bad values written in the layered form: the same rules, each error naming
    the field by its layered path (``layers[0].neuron.v_th``, ``input.lanes``, ``rule.eta``)."""
    path = write_layered(tmp_path, {layered_name(k): v for k, v in changes.items()})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, str(path), layered_name(field), value)


def test_layered_messages() -> None:
    """Whole messages of the layered form, by hand."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"layers[0].neuron.v_rest": 10, "layers[0].neuron.v_th": 5,
          "layers[0].neuron.v_reset": 0},
         "layers[0].neuron.v_th = 5: must be above v_rest (10)"),
        ({"input.lanes": 3}, "input.lanes = 3: must be a power of two that divides "
                             "n_inputs (64)"),
        ({"layers[0].row_banks": 2},
         "layers[0].row_banks = 2: must be a power of two that divides input.lanes (1)"),
        ({"rule.eta_post": 70000}, "rule.eta_post = 70000: must be at most 65535"),
        ({"layers[0].neuron.v_th": 16385, "layers[0].neuron.v_reset": 0},
         "layers[0].neuron.v_th = 16385: plus the largest adaptive threshold (16383, "
         "layers[0].widths.theta = 14) must fit the membrane maximum 32767"),
        ({"layers[0].neuron.vth": 1},
         "unknown key 'layers[0].neuron.vth' (valid keys here: decay_frac, decay_q, "
         "leak_mode, leak_shift, reset_amount, reset_mode, t_ref, theta_decay_shift, "
         "theta_plus, v_reset, v_rest, v_th, w_inh)"),
        ({"layers[0].lanes": 1},
         "unknown key 'layers[0].lanes' (valid keys here: forward, lut_group, n_neurons, n_pe, "
         "neuron, "
         "norm_groups, row_banks, widths)"),
        ({"input.n_neurons": 1},
         "unknown key 'input.n_neurons' (valid keys here: kind, lanes, max_rate, n_inputs, "
         "pixel_bits)"),
        ({"rule.eta": 1}, "unknown key 'rule.eta' (valid keys here: eta_post, eta_pre, "
                          "eta_shift, kind, learn, norm, norm_rounding, potentiation_only, "
                          "rounding, soft_bound, tau_post_shift, tau_pre_shift, trace_add, "
                          "trace_mode, update_every, w_init_max)"),
        ({"bogus": 1}, "unknown key 'bogus' (valid keys here: board, classify, data, input, "
                       "layers, rule, seed, timesteps)"),
        ({"rule.kind": "hebb"}, "rule.kind = 'hebb': must be one of 'stdp', 'bptt', 'none'"),
    ]
    for changes, message in cases:
        raw = Config().to_dict()
        for key, value in changes.items():
            set_path(raw, key, value)
        with pytest.raises(ConfigError) as info:
            Config.from_dict(raw, "f.toml")
        assert str(info.value) == f"f.toml: {message}"


def test_layers_must_be_an_array_of_tables(tmp_path: Path) -> None:
    """[layers] instead of [[layers]], a number, no layer, a layer that is not a table."""
    for text, message in [
        ("[layers]\nn_pe = 2\n", "layers: must be an array of tables: write [[layers]] "
                                   "(one per layer), not [layers]"),
        ("layers = 3\n", "layers = 3: must be an array of tables, one [[layers]] per layer"),
        ("layers = []\n", "layers = []: must hold at least one layer (a [[layers]] table)"),
        ("layers = [1]\n", "layers[0] = 1: must be a table"),
        ("[[layers]]\nwidths = 3\n", "layers[0].widths = 3: must be a table"),
        ("rule = 'stdp'\n", "rule = 'stdp': must be a table"),
        ("input = 64\n", "input = 64: must be a table"),
    ]:
        path = tmp_path / "f.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(info.value) == f"{path}: {message}"


def test_mixed_forms_name_the_keys(tmp_path: Path) -> None:
    """One file with keys of both forms is an error naming the keys of each."""
    raw = Config().to_dict()
    raw["n_pe"] = 4
    raw["stdp"] = {"eta_pre": 3}
    path = write_layered(tmp_path, {}, raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_one_line_naming(info.value, str(path), "input", "layers", "rule", "n_pe", "stdp")
    assert "mixes the layered form (input, layers, rule) with the old flat form " \
           "(n_pe, stdp)" in str(info.value)
    # timesteps, seed and the experiment tables belong to both forms: no mix
    assert load_config(write_config(tmp_path, {"timesteps": 20})).core.timesteps == 20


def test_unknown_key_of_a_form_lists_its_keys(tmp_path: Path) -> None:
    """An unknown top-level key lists the valid keys of the file's form: the old flat keys
    beside n_neurons, the layered ones otherwise."""
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, {"bogus": 1}))
    assert "valid keys here: board, classify, data, encoder, forward, lut_group, n_inputs, " \
           "n_neurons, n_pe, " \
           "neuron, norm_groups, row_banks, seed, stdp, timesteps, widths)" in str(info.value)
    path = tmp_path / "f.toml"
    path.write_text("bogus = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}: unknown key 'bogus' (valid keys here: board, "
                               "classify, data, input, layers, rule, seed, timesteps)")


def test_layered_defaults(tmp_path: Path) -> None:
    """Missing tables of the layered form are their defaults: an [input] table alone is one
    default layer with the STDP rule; an empty file is the default config."""
    path = tmp_path / "f.toml"
    path.write_text("[input]\nn_inputs = 32\n")
    assert load_config(path).core == CoreConfig(n_inputs=32)
    path.write_text("")
    assert load_config(path) == Config()


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


# -- layers and rules ------------------------------------------------------------------------


def two_layer_raw(rule: dict[str, Any]) -> dict[str, Any]:
    """A two-layer network in the layered form: 64 inputs, 32 hidden neurons, 10 outputs."""
    return {"timesteps": 100, "input": {"n_inputs": 64},
            "layers": [{"n_neurons": 32, "n_pe": 4},
                       {"n_neurons": 10, "n_pe": 2, "neuron": {"v_th": 2000}}],
            "rule": rule}


def test_two_layers_without_a_rule_load_and_each_layer_is_a_core(tmp_path: Path) -> None:
    """A two-layer network with ``rule.kind = "none"`` loads: layer 1 is a core of 32
    spiking (``direct``) inputs with learning off; the same network with STDP is refused in
    one line (STDP learns one layer)."""
    network = NetworkConfig.from_dict(two_layer_raw({"kind": "none"}))
    assert [network.layer_inputs(i) for i in (0, 1)] == [64, 32]
    first, second = network.cores
    assert (first.n_inputs, first.n_neurons, first.encoder.kind) == (64, 32, "rate")
    assert (second.n_inputs, second.n_neurons, second.encoder.kind) == (32, 10, "direct")
    assert second.neuron.v_th == 2000 and second.encoder.lanes == second.row_banks
    assert not first.stdp.learn and first.stdp.w_init_max == 0 and first.stdp.norm == 0
    with pytest.raises(IndexError):
        network.core(2)
    config = Config.from_network(network)
    assert config.network == network and config.core == first
    path = write_layered(tmp_path, {}, two_layer_raw({"kind": "none"}))
    loaded = load_config(path)
    assert loaded.network == network and loaded.core == first
    assert Config.from_dict(parse_toml(loaded.to_toml(), "again")).network == network
    with pytest.raises(ConfigError, match="differs from layer 0"):
        dataclasses.replace(loaded, core=first.replace(timesteps=7))

    stdp = NetworkConfig.from_dict(two_layer_raw({"kind": "stdp", "norm": 800}))
    message = ("layers: 2 layers with rule.kind = 'stdp': STDP learns one layer for now (a "
               "multi-layer network trained elsewhere takes rule.kind = 'none')")
    for call in (stdp.check_supported, lambda: stdp.core(0), lambda: Config.from_network(stdp)):
        with pytest.raises(ConfigError) as info:
            call()
        assert str(info.value) == message
    path = write_layered(tmp_path, {}, two_layer_raw({"kind": "stdp", "norm": 800}))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: {message}"


def test_later_layers_are_validated_with_their_inputs(tmp_path: Path) -> None:
    """Layer 1's checks run before the not-yet-supported one, with layer 0's neurons as its
    inputs: its own fields, and the rule against its widths and input count."""
    for changes, message in [
        ({"layers[1].neuron.v_rest": 10, "layers[1].neuron.v_th": 5,
          "layers[1].neuron.v_reset": 0}, "layers[1].neuron.v_th = 5: must be above v_rest (10)"),
        ({"layers[1].n_pe": 3}, "layers[1].n_pe = 3: must divide n_neurons (10)"),
        ({"layers[1].widths.weight": 16},
         "layers[1].widths.weight = 16: must be narrower than the membrane (16 bits, signed)"),
        ({"layers[1].row_banks": 3}, "layers[1].row_banks = 3: must be a power of two"),
        # layer 0 takes 64 inputs (norm <= 255 * 64), layer 1 its 32 neurons (255 * 32 = 8160)
        ({"rule.norm": 9000}, "rule.norm = 9000: must be at most 8160 (for layers[1], 32 inputs)"),
        ({"rule.norm": 17000}, "rule.norm = 17000: must be at most 16320"),
    ]:
        raw = two_layer_raw({"kind": "stdp"})
        for key, value in changes.items():
            set_path(raw, key, value)
        path = write_layered(tmp_path, {}, raw)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(info.value) == f"{path}: {message}"
    # not a rule for a later layer: its row banks need not divide the input's lanes
    raw = two_layer_raw({"kind": "stdp", "norm": 800})
    set_path(raw, "layers[1].row_banks", 2)
    set_path(raw, "layers[1].n_pe", 10)     # one word per input row: a power of two
    assert NetworkConfig.from_dict(raw).layers[1].row_banks == 2


def test_rule_none_is_inference(tmp_path: Path) -> None:
    """``none`` can be written (with no STDP keys) and loads as a network whose layers never
    learn.  ``none`` is not learning off, which stays ``kind = "stdp"``, ``learn = false``
    (with its STDP parameters)."""
    network = NetworkConfig(rule=RuleConfig(kind="none"))
    assert network.rule.stdp is None and network.rule.bptt is None
    assert network.rule.to_dict() == {"kind": "none"}
    with pytest.raises(ConfigError) as info:
        load_config(write_layered(tmp_path, {"rule": {"kind": "none", "eta_pre": 7}}))
    assert "unknown key 'rule.eta_pre' (valid keys here with kind = 'none': kind)" \
        in str(info.value)
    none = load_config(write_layered(tmp_path, {"rule": {"kind": "none"}}))
    assert none.network.rule.kind == "none" and none.core.stdp.learn is False
    with pytest.raises(ConfigError, match="takes no STDP parameters"):
        NetworkConfig(rule=RuleConfig(kind="none", stdp=StdpConfig()))
    with pytest.raises(ConfigError, match="takes no BPTT parameters"):
        NetworkConfig(rule=RuleConfig(kind="none", bptt=BpttConfig()))
    off = load_config(write_layered(tmp_path, {"rule.learn": False}))
    assert off.core.stdp.learn is False and off.network.rule.kind == "stdp"
    assert off.layered is None


def test_rule_bptt_parameters(tmp_path: Path) -> None:
    """``bptt`` takes its own parameters flat in ``[rule]`` (defaults when absent), refuses
    STDP keys and bad values in one line naming them, round-trips through the file form,
    and its cores build no learning hardware (``stdp.learn`` false)."""
    network = NetworkConfig(rule=RuleConfig(kind="bptt"))
    assert network.rule.bptt == BpttConfig() and network.rule.stdp is None
    assert network.core(0).stdp.learn is False
    loaded = load_config(write_layered(tmp_path, {"rule": {"kind": "bptt", "batch": 16,
                                                           "optimizer": "sgd"}}))
    assert loaded.network.rule.bptt == BpttConfig(batch=16, optimizer="sgd")
    loaded = load_config(write_layered(tmp_path, {"rule": {
        "kind": "bptt", "learn_theta": True, "init_gain": 2.5, "error_frac": 12,
        "weight_frac": 6}}))
    assert loaded.network.rule.bptt == BpttConfig(learn_theta=True, init_gain=2.5,
                                                  error_frac=12, weight_frac=6)
    assert loaded.layered is not None and loaded.core.stdp.learn is False
    assert Config.from_dict(loaded.to_dict()) == loaded
    with pytest.raises(ConfigError) as info:
        load_config(write_layered(tmp_path, {"rule": {"kind": "bptt", "eta_pre": 7}}))
    assert "unknown key 'rule.eta_pre'" in str(info.value)
    for key, value, rule in [("batch", 0, "must be at least 1"),
                             ("optimizer", "rmsprop", "must be one of"),
                             ("learning_rate", 0.0, "must be above 0"),
                             ("learning_rate", float("nan"), "must be a finite number"),
                             ("momentum", 1.0, "must be below 1.0"),
                             ("slope", "5", "must be a finite number"),
                             ("backward", "fixed", "must be one of"),
                             ("learn_theta", 1, "must be true or false"),
                             ("init_gain", 0.0, "must be above 0"),
                             ("error_bits", 33, "must be at most 32"),
                             ("error_frac", 15, "must be at most 14"),
                             ("surrogate_bits", 1, "must be at least 2"),
                             ("surrogate_index_bits", 13, "must be at most 12"),
                             ("weight_frac", 25, "must be at most 24"),
                             ("label_smoothing", 1.0, "must be below 1.0"),
                             ("augment_rotate", 46.0, "must be at most 45.0"),
                             ("augment_scale", -0.1, "must be at least 0.0"),
                             ("augment_translate", 9, "must be at most 8.0")]:
        path = write_layered(tmp_path, {"rule": {"kind": "bptt", key: value}})
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert_one_line_naming(info.value, f"rule.{key}", repr(value))
        assert rule in str(info.value)


def test_network_construction_validates() -> None:
    """Building a NetworkConfig directly runs the checks and names the layered paths; a
    list of layers is kept as a tuple."""
    with pytest.raises(ConfigError) as info:
        NetworkConfig(layers=(LayerConfig(), LayerConfig(n_pe=3)))
    assert str(info.value) == "layers[1].n_pe = 3: must divide n_neurons (100)"
    with pytest.raises(ConfigError) as info:
        NetworkConfig(input=InputConfig(lanes=128))
    assert str(info.value) == "input.lanes = 128: must be at most 64"
    with pytest.raises(ConfigError) as info:
        NetworkConfig(layers=())
    assert_one_line_naming(info.value, "layers", "()")
    with pytest.raises(ConfigError) as info:
        NetworkConfig(layers=(CoreConfig(),))  # type: ignore[arg-type]
    assert_one_line_naming(info.value, "layers[0]", "LayerConfig")
    assert NetworkConfig(layers=[LayerConfig()]) == NetworkConfig()  # type: ignore[arg-type]


def test_from_core_and_core_are_inverses() -> None:
    """A core's one-layer network gives the core back, field by field."""
    cores = [CoreConfig(), small_core()] + [load_config(n).core for n in STDP_CONFIGS]
    for core in cores:
        network = NetworkConfig.from_core(core)
        assert network.core(0) == core
        assert network.input.encoder == core.encoder
        assert network.layers[0].widths == core.widths
        assert network.rule.stdp == core.stdp
        assert Config.from_network(network).core == core


def test_shipped_configs_in_both_forms() -> None:
    """Every shipped config (layered) means what its old flat form meant: the same Config,
    the same core, the same digest as before the layered form (the board protocol hashes
    it: digests computed with the flat configs; they changed once since, when the widths
    gained ``weight_signed`` and ``bias`` and the neuron ``reset_amount``, for networks
    trained elsewhere)."""
    digests = {"digits": "e66ba88151ed7738", "mnist-400": "b8a7e4358f872192",
               "mnist-400-fast": "bd598aa32f2f5a1b", "mnist-400-200t": "3080ef7cde818c95",
               "fashion-mnist-400": "b8a7e4358f872192"}
    assert STDP_CONFIGS == sorted(digests)
    for name in STDP_CONFIGS:
        path = builtin_configs()[name]
        assert "[[layers]]" in path.read_text(), f"{name} is not in the layered form"
        layered, flat = load_config(path), load_config(FLAT_CONFIGS / f"{name}.toml")
        assert layered == flat
        assert layered.core == flat.core
        assert layered.core.digest() == digests[name]
        assert layered.network == flat.network


def test_shipped_config_fields_by_hand() -> None:
    """mnist-400-fast read from its layered file: the fields its comments promise."""
    core = load_config("mnist-400-fast").core
    assert (core.n_inputs, core.n_neurons, core.n_pe) == (784, 400, 50)
    assert (core.row_banks, core.norm_groups, core.timesteps, core.seed) == (8, 5, 350, 0)
    assert core.encoder == EncoderConfig(kind="rate", pixel_bits=8, max_rate=0.128, lanes=16)
    assert core.widths == Widths(weight=8, membrane=16, theta=14, trace=8, current_shift=0)
    assert (core.neuron.v_reset, core.neuron.v_th, core.neuron.w_inh) == (1275, 3315, 4462)
    assert (core.stdp.eta_pre, core.stdp.eta_post, core.stdp.norm) == (7, 655, 19992)


def test_flat_form_with_each_table(tmp_path: Path) -> None:
    """Old flat files, each changing one table ([widths], [encoder], [neuron], [stdp]) or a
    top-level key, load with that change, and equal the same change in the layered form."""
    for flat_key, value in [("widths.trace", 9), ("encoder.lanes", 4),
                            ("encoder.kind", "direct"), ("neuron.leak_shift", 3),
                            ("stdp.eta_post", 600), ("stdp.norm_rounding", "stochastic"),
                            ("n_pe", 10), ("norm_groups", 2), ("n_inputs", 32),
                            ("timesteps", 99), ("seed", 7)]:
        flat = load_config(write_config(tmp_path, {flat_key: value}))
        table, _, name = flat_key.rpartition(".")
        assert getattr(getattr(flat.core, table) if table else flat.core, name) == value
        assert flat != Config()
        assert flat == load_config(write_layered(tmp_path, {layered_name(flat_key): value}))


def test_save_converts_the_flat_form(tmp_path: Path) -> None:
    """A flat file saved again is in the layered form and means the same."""
    for path in sorted(FLAT_CONFIGS.glob("*.toml")):
        config = load_config(path)
        out = tmp_path / path.name
        config.save(out)
        assert "[[layers]]" in out.read_text() and "[stdp]" not in out.read_text()
        assert load_config(out) == config


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
    assert d.norm_numerator == 106954752  # 1632 * 2**16
    assert d.quotient_bits == 27  # 2**26 = 67108864 <= 106954752 < 2**27
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
    assert d.norm_numerator == 6553600  # norm 100 * 2**16
    assert d.quotient_bits == 23  # 2**22 = 4194304 <= 6553600 < 2**23
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


def test_derived_quotient_bits() -> None:
    """The normalization's dividend and quotient width: no normalization still takes one
    bit; every shipped config agrees with the cycle model's count before it moved here
    (``max(1, (norm << norm_frac_bits).bit_length())``)."""
    d = CoreConfig().replace(**{"stdp.norm": 0}).derived
    assert (d.norm_numerator, d.quotient_bits) == (0, 1)
    d = CoreConfig().replace(**{"stdp.norm": 1}).derived
    assert (d.norm_numerator, d.quotient_bits) == (65536, 17)  # 2**16: 17 bits
    # mnist-400: 19992 * 2**16 = 1310195712, 2**30 <= it < 2**31
    assert load_config("mnist-400").core.derived.quotient_bits == 31
    for name in builtin_configs():
        core = load_config(name).core
        assert core.derived.norm_numerator == core.stdp.norm * 2**16
        assert core.derived.quotient_bits == max(1, (core.stdp.norm << 16).bit_length())


def test_readme_example_is_the_default() -> None:
    """The layered example in the README's "Configuration" section loads: the default core."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("### Configuration"):]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert "[[layers]]" in example
    assert Config.from_dict(tomllib.loads(example), "README").core == CoreConfig()


def test_from_core_of_a_core_without_a_rule() -> None:
    """A layer of a network without a learning rule gives that network back (signed weights
    and a bias included), so the golden model takes such a core alone."""
    raw = {"timesteps": 5, "input": {"n_inputs": 4},
           "layers": [{"n_neurons": 2, "n_pe": 1,
                       "widths": {"weight": 4, "weight_signed": True, "bias": 6}}],
           "rule": {"kind": "none"}}
    network = NetworkConfig.from_dict(raw)
    assert NetworkConfig.from_core(network.core(0)) == network
    assert NetworkConfig.from_core(CoreConfig()).rule.kind == "stdp"
