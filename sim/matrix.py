"""The configuration matrix every PE regression runs over.

One list, shared by all testbenches, so "weight widths 1 to 16, membrane widths 8 to 24,
several timestep counts, both leak and reset modes, learning on and off" is defined once.
:func:`scaled_core` derives neuron and learning parameters that are valid (and exercise
both saturation rails) for any pair of widths.  ``quick=True`` is the CI subset.

:func:`network_matrix` is the list of layered networks (``NetworkCore``) the co-simulation
runs, built by :func:`scaled_network`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import (
    CoreConfig,
    EncoderConfig,
    InputConfig,
    LayerConfig,
    NetworkConfig,
    NeuronConfig,
    RuleConfig,
    StdpConfig,
    Widths,
)

__all__ = ["MatrixEntry", "scaled_core", "config_matrix", "NetworkEntry", "scaled_network",
           "network_state", "current_network", "network_matrix"]


@dataclass(frozen=True)
class MatrixEntry:
    """A named configuration of the matrix."""

    label: str
    core: CoreConfig


def scaled_core(weight: int, membrane: int, *, timesteps: int = 25, trace: int = 8,
                leak_mode: str = "shift", reset_mode: str = "to_reset", learn: bool = True,
                rounding: str = "stochastic", soft_bound: bool = False,
                potentiation_only: bool = False, trace_mode: str = "set",
                update_every: int = 1, t_ref: int = 3, n_inputs: int = 16,
                n_neurons: int = 8, pixel_bits: int = 8, seed: int = 1) -> CoreConfig:
    """A valid core for the given widths, with parameters scaled to the membrane word.

    The threshold sits at an eighth of the membrane range and the adaptive threshold may
    reach about the same again, so currents of a few maximum weights cross it and long
    bursts reach the upper rail, while inhibition of a few spikes reaches the lower rail.
    """
    v_th = 1 << (membrane - 3)
    theta_bits = max(1, membrane - 3)
    w_max = (1 << weight) - 1
    return CoreConfig(
        n_inputs=n_inputs,
        n_neurons=n_neurons,
        n_pe=1,
        timesteps=timesteps,
        seed=seed,
        widths=Widths(weight=weight, membrane=membrane, theta=theta_bits, trace=trace),
        encoder=EncoderConfig(kind="rate", pixel_bits=pixel_bits, max_rate=0.3),
        neuron=NeuronConfig(
            v_rest=-(v_th >> 3), v_reset=-(v_th >> 2), v_th=v_th,
            leak_mode=leak_mode,  # type: ignore[arg-type]
            leak_shift=min(16, max(1, membrane // 3)),
            decay_q=(1 << 16) - (1 << 16) // 50, decay_frac=16,
            reset_mode=reset_mode,  # type: ignore[arg-type]
            t_ref=t_ref,
            theta_plus=max(1, v_th >> 4), theta_decay_shift=6,
            w_inh=max(1, v_th >> 1),
        ),
        stdp=StdpConfig(
            learn=learn, tau_pre_shift=3, tau_post_shift=4,
            trace_mode=trace_mode,  # type: ignore[arg-type]
            trace_add=max(1, (1 << trace) // 3),
            eta_pre=3000, eta_post=40000, eta_shift=min(16, 8 + trace),
            rounding=rounding,  # type: ignore[arg-type]
            potentiation_only=potentiation_only, soft_bound=soft_bound,
            update_every=update_every, w_init_max=w_max // 2,
            norm=(w_max * n_inputs) // 4,
        ),
    )


# (weight bits, membrane bits): weight widths 1..16, membrane widths 8..24.
_WIDTHS = [(1, 8), (4, 8), (7, 8), (8, 12), (6, 16), (8, 16), (12, 20), (16, 18), (16, 24),
           (10, 24)]


def config_matrix(quick: bool = False) -> list[MatrixEntry]:
    """The regression matrix; ``quick`` is the subset CI runs (both modes of everything)."""
    entries = [
        MatrixEntry("w8m16-default", scaled_core(8, 16)),
        MatrixEntry("w4m8-mult-subtract-floor",
                    scaled_core(4, 8, leak_mode="multiply", reset_mode="subtract",
                                rounding="floor", trace_mode="add")),
        MatrixEntry("w16m24-softbound-nolearn-t1000",
                    scaled_core(16, 24, soft_bound=True, learn=False, timesteps=1000,
                                trace=12)),
        MatrixEntry("w1m8-potonly-u4-t1",
                    scaled_core(1, 8, potentiation_only=True, update_every=4, timesteps=1,
                                t_ref=0, trace=4)),
    ]
    if quick:
        return entries
    for weight, membrane in _WIDTHS:
        for leak in ("shift", "multiply"):
            for reset in ("to_reset", "subtract"):
                label = f"w{weight}m{membrane}-{leak}-{reset}"
                entries.append(MatrixEntry(label, scaled_core(
                    weight, membrane, leak_mode=leak, reset_mode=reset,
                    timesteps=350 if membrane >= 16 else 50,
                    rounding="floor" if weight < 4 else "stochastic",
                    soft_bound=weight >= 12, learn=(weight + membrane) % 3 != 0,
                    trace_mode="add" if leak == "multiply" else "set",
                    t_ref=(weight % 5)) ))
    return entries


# -- layered networks (NetworkCore) ---------------------------------------------------------


@dataclass(frozen=True)
class NetworkEntry:
    """A named network of the co-simulation matrix, the stall probability of its
    session's output consumers (cycles are compared only at 0) and its membrane readout
    (``"max"``, ``"final"``; ``None``: counts only; the design is
    ``Target.of(network, membrane)``)."""

    label: str
    network: NetworkConfig
    stall: float = 0.0
    membrane: str | None = None


def scaled_network(sizes: Sequence[int], pes: Sequence[int], *, timesteps: int = 12,
                   v_th: int = 700, kind: str = "rate", seed: int = 1,
                   layers: Sequence[Mapping[str, Any]] = (), lanes: int = 1) -> NetworkConfig:
    """A network without a learning rule of ``len(sizes) - 1`` layers: ``sizes[0]`` inputs
    (``kind`` ``"rate"`` or ``"direct"``), layer ``l`` of ``sizes[l + 1]`` neurons on
    ``pes[l]`` lanes; 8-bit unsigned weights and 16-bit membranes (:func:`scaled_core`),
    thresholds ``v_th`` low enough for random weights to spike, rest and reset at 0, a
    refractory timestep.  ``layers[l]`` replaces core fields of layer ``l``
    (``{"widths.bias": 6, "neuron.leak_mode": "multiply"}``, ``row_banks``, ``forward``,
    ``lut_group``); ``lanes`` the input's encoder lanes."""
    base = scaled_core(8, 16, timesteps=timesteps, learn=False, n_inputs=sizes[0],
                       n_neurons=sizes[1], seed=seed).replace(**{
        "neuron.v_th": v_th, "neuron.theta_plus": max(1, v_th >> 4),
        "neuron.w_inh": max(1, v_th >> 4), "neuron.v_rest": 0, "neuron.v_reset": 0,
        "neuron.t_ref": 1, "encoder.kind": kind, "encoder.lanes": lanes}).replace(
            stdp=RuleConfig("none").core_stdp)
    options = [dict(option) for option in layers] + [{}] * (len(pes) - len(layers))
    banks = [option.pop("row_banks", 1) for option in options]
    engines = [{key: option.pop(key) for key in ("forward", "lut_group") if key in option}
               for option in options]
    cores = [base.replace(**option) for option in options]
    return NetworkConfig(
        timesteps=timesteps, seed=seed,
        input=InputConfig(n_inputs=sizes[0], **dataclasses.asdict(base.encoder)),
        layers=tuple(LayerConfig(n_neurons=n, n_pe=pe, row_banks=b, widths=core.widths,
                                 neuron=core.neuron, **engine)
                     for n, pe, b, core, engine in zip(sizes[1:], pes, banks, cores, engines,
                                                       strict=True)),
        rule=RuleConfig(kind="none"))


def network_state(network: NetworkConfig, seed: int = 0) -> tuple[list[Any], list[Any],
                                                                  list[Any]]:
    """Seeded random weights, thresholds and biases of every layer of ``network``: weights
    uniform over the layer's range (signed: every third neuron's made positive, so some
    neurons are mostly excited), thresholds up to ``theta_plus``, biases (``None`` for a
    layer without) within an eighth of their range with both extremes on neurons 0 and 1."""
    rng = np.random.default_rng([seed, 0x5E55])
    weights: list[Any] = []
    theta: list[Any] = []
    bias: list[Any] = []
    for core in network.cores:
        d = core.derived
        w = rng.integers(d.w_min, d.w_max, (core.n_inputs, core.n_neurons), endpoint=True)
        if core.widths.weight_signed:
            w[:, 1::3] = np.abs(w[:, 1::3])
        weights.append(w)
        theta.append(rng.integers(0, core.neuron.theta_plus, core.n_neurons, endpoint=True))
        if not core.widths.bias:
            bias.append(None)
            continue
        b = rng.integers(d.bias_min >> 3, d.bias_max >> 3, core.n_neurons, endpoint=True)
        b[:2] = d.bias_min, d.bias_max
        bias.append(b)
    return weights, theta, bias


#: Layer options of networks trained elsewhere: signed weights, a bias, the multiply leak and
#: snnTorch's reset by subtraction of its own amount, no inhibition, no adaptive threshold.
_IMPORTED = {"widths.weight_signed": True, "widths.bias": 10, "neuron.leak_mode": "multiply",
             "neuron.reset_mode": "subtract", "neuron.reset_amount": 1000,
             "neuron.theta_plus": 0, "neuron.w_inh": 0}


def current_network() -> NetworkConfig:
    """A 16-12-4 network on current input (the pixels as a constant current into layer 0,
    whose threshold sits high enough for some 12-bit currents to cross it), both layers
    imported ones."""
    return scaled_network([16, 12, 4], [2, 2], v_th=20000, kind="current", layers=[
        {**_IMPORTED, "neuron.reset_amount": 20000},
        {**_IMPORTED, "neuron.v_th": 900, "neuron.reset_amount": 900}])


def network_matrix(quick: bool = False) -> list[NetworkEntry]:
    """The layered networks the co-simulation runs; ``quick`` is the subset CI runs: a
    2-layer network on rate input (an STDP-style layer, then an imported one), a 3-layer
    one on direct input (imported layers, row banks, a bias-free middle layer with the
    shift leak) under backpressure with the ``membrane_final`` readout, a small 2-layer
    imported network with the ``membrane_max`` readout, and the LUT forward engine in both
    positions: a second layer on it (groups of 4 in two table banks, signed weights and a
    bias), and a rate-input layer 0 on it (groups of 3 over four encoder lanes in two
    banks)."""
    direct = {**_IMPORTED, "neuron.reset_amount": 300}   # sparse input: lower thresholds
    small = {**_IMPORTED, "neuron.reset_amount": 400}
    deep = "16-12-8-4-direct-signed-bias-mixed-banks2-stall-membrane-final"
    entries = [
        NetworkEntry("16-12-4-rate-unsigned-signed-bias", scaled_network(
            [16, 12, 4], [2, 2], v_th=900, layers=[{}, _IMPORTED])),
        NetworkEntry(deep, scaled_network(
            [16, 12, 8, 4], [2, 4, 2], v_th=300, timesteps=16, kind="direct", layers=[
                direct,
                {**direct, "widths.bias": 0, "neuron.leak_mode": "shift",
                 "neuron.reset_mode": "to_reset", "row_banks": 2},
                {**direct, "widths.bias": 6}]), stall=0.3, membrane="final"),
        NetworkEntry("16-8-4-rate-signed-bias-membrane-max", scaled_network(
            [16, 8, 4], [2, 2], v_th=400, timesteps=10, layers=[small, small]),
            membrane="max"),
        NetworkEntry("16-12-4-rate-lut4-banks2-signed-bias", scaled_network(
            [16, 12, 4], [2, 2], v_th=900, layers=[
                {}, {**_IMPORTED, "forward": "lut", "lut_group": 4, "row_banks": 2}])),
        NetworkEntry("24-8-4-rate-lanes4-lut3-banks2", scaled_network(
            [24, 8, 4], [2, 2], v_th=900, lanes=4, layers=[
                {"forward": "lut", "lut_group": 3, "row_banks": 2}, small])),
    ]
    if quick:
        return entries
    return entries + [
        NetworkEntry("16-12-4-current-signed-bias", current_network()),
        NetworkEntry("64-32-10-rate-pe4-lanes4", dataclasses.replace(
            scaled_network([64, 32, 10], [4, 2], timesteps=20, v_th=2000),
            input=InputConfig(n_inputs=64, max_rate=0.3, lanes=4))),
        NetworkEntry("16-12-8-4-rate-signed-bias-stall", scaled_network(
            [16, 12, 8, 4], [2, 2, 2], v_th=900, timesteps=15,
            layers=[_IMPORTED] * 3), stall=0.4),
    ]
