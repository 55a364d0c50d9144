"""A float network (:class:`~.graph.FloatNetwork`) on plasticore's integer grid.

Per layer, with ``u`` the float value of one input LSB (1 for a spike; ``1 / pixel_max``
for the first layer with current input, whose float input is ``pixel / pixel_max``):

1. the neuron's input gain folds into the synapses: ``W' = W * gain``, ``b' = b * gain``;
2. weights: one scale per layer, ``s_w = max |W'| / w_max`` (signed ``weight_bits``:
   ``w_max = 2**(weight_bits-1) - 1``), ``w = round(W' / s_w)``, so nothing clips;
3. the membrane LSB ``s_v = s_w * u / 2**current_shift``: one weight LSB times one input LSB
   adds ``2**current_shift`` membrane LSBs, as ``docs/numerics.md`` step 3 computes;
   ``current_shift`` is the smallest that puts the lowest threshold at
   :data:`THRESHOLD_LSBS` membrane LSBs or more (resolution for the leak and the bias);
4. thresholds: NIR fires when ``v > v_threshold``, plasticore when ``v >= v_th + theta``,
   so ``v_th + theta[i] = floor(v_threshold[i] / s_v) + 1``, ``v_th`` the layer's lowest and
   ``theta[i]`` each neuron's offset from it (frozen: no adaptation);
5. ``v_rest = round(v_leak / s_v)``, ``v_reset = round(v_reset / s_v)``, biases
   ``round(b' / s_v)`` in the fewest signed bits that hold them;
   reset by subtraction is snnTorch's: it subtracts the threshold one timestep late, after
   the leak (``v[t] = beta v[t-1] + I[t] - thr s[t-1]``), which is subtracting
   ``thr / beta`` at once: ``reset_amount = round(thr / (beta s_v))`` (the layer's lowest
   threshold when they differ; the report says so);
6. the leak: none for ``beta = 1``; shift mode for ``beta = 1 - 2**-k``; else multiply mode
   ``decay_q = round(beta * 2**17)``, refused when ``1 - beta`` is off by more than
   :data:`LEAK_TOLERANCE` of itself (a tau the widths cannot hold);
7. the membrane: the fewest bits (8..24) holding four times the highest threshold.

No refractory period, no lateral inhibition, no adaptation; the rule is ``none``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import (
    ClassifyConfig,
    Config,
    DataConfig,
    InputConfig,
    LayerConfig,
    NetworkConfig,
    NeuronConfig,
    RuleConfig,
    Widths,
    bits_for,
)
from .graph import FloatLayer, FloatNetwork, NirError

__all__ = ["ImportOptions", "Imported", "quantize", "THRESHOLD_LSBS", "LEAK_TOLERANCE",
           "DECAY_FRAC"]

Array = Any

#: The lowest threshold of a layer is put at this many membrane LSBs or more.
THRESHOLD_LSBS = 1 << 11
#: Largest relative error of the leak per timestep ``1 - beta`` on the integer grid.
LEAK_TOLERANCE = 0.01
#: Fraction bits of a multiply-mode leak (``decay_frac``; an 18-bit DSP operand).
DECAY_FRAC = 17
#: Membrane widths the importer may choose.
MEMBRANE_BITS = (8, 24)


@dataclass(frozen=True)
class ImportOptions:
    """What the NIR file does not say, and the integer widths to quantize to.

    Members
    -------
    dataset : str
        ``data.dataset`` of the configuration written.
    timesteps : int
    encoder : "rate" or "current"
        The first layer's input: rate-coded spikes, or the pixel values as a constant
        current (snnTorch's "direct" encoding).
    max_rate : float
        Spike probability per timestep of a full-scale pixel (rate encoder).
    pixel_bits : int
    dt : float
        The timestep in seconds (snnTorch's exporter assumes 1e-4 s).
    reset : "subtract" or "zero"
        Reset by subtraction of the threshold (snnTorch's default), or to ``v_reset``
        (NIR's definition).
    weight_bits : int
        Signed weight width of every layer.
    readout : str
        ``classify.readout`` (``count`` for networks trained on spike counts).
    seed : int
    """

    dataset: str
    timesteps: int
    encoder: str = "current"
    max_rate: float = 1.0
    pixel_bits: int = 8
    dt: float = 1e-4
    reset: str = "subtract"
    weight_bits: int = 8
    readout: str = "count"
    seed: int = 0


@dataclass
class Imported:
    """The quantized network: its configuration, integer arrays per layer and the report."""

    config: Config
    weights: list[Array]
    theta: list[Array]
    bias: list[Array | None]
    report: dict[str, Any]


def quantize(network: FloatNetwork, options: ImportOptions) -> Imported:
    """Put ``network`` on the integer grid of ``options`` (see the module docstring)."""
    if options.encoder not in ("rate", "current"):
        raise NirError(f"encoder {options.encoder!r}: must be 'rate' or 'current'")
    if options.reset not in ("subtract", "zero"):
        raise NirError(f"reset {options.reset!r}: must be 'subtract' or 'zero'")
    pixel_max = (1 << options.pixel_bits) - 1
    layers, weights, thetas, biases, reports = [], [], [], [], []
    for index, layer in enumerate(network.layers):
        unit = 1.0 / pixel_max if index == 0 and options.encoder == "current" else 1.0
        q = _layer(index, layer, unit, options)
        layers.append(q.config)
        weights.append(q.weights)
        thetas.append(q.theta)
        biases.append(q.bias)
        reports.append(q.report)
    net = NetworkConfig(
        timesteps=options.timesteps, seed=options.seed,
        input=InputConfig(n_inputs=network.n_inputs, kind=options.encoder,  # type: ignore[arg-type]
                          pixel_bits=options.pixel_bits, max_rate=options.max_rate),
        layers=tuple(layers), rule=RuleConfig(kind="none"))
    n_out = layers[-1].n_neurons
    config = Config.from_network(
        net, data=DataConfig(dataset=options.dataset),  # type: ignore[arg-type]
        classify=ClassifyConfig(readout=options.readout, n_classes=n_out),  # type: ignore[arg-type]
        source="<nir import>")
    report = {
        "assumed": {"dt_seconds": options.dt, "reset": options.reset,
                    "timesteps": options.timesteps, "encoder": options.encoder,
                    "max_rate": options.max_rate if options.encoder == "rate" else None,
                    "pixel_bits": options.pixel_bits,
                    "threshold": "NIR fires when v > v_threshold: v_th + theta = "
                                 "floor(v_threshold / lsb) + 1"},
        "layers": reports,
    }
    return Imported(config, weights, thetas, biases, report)


@dataclass
class _Quantized:
    config: LayerConfig
    weights: Array
    theta: Array
    bias: Array | None
    report: dict[str, Any]


def _layer(index: int, layer: FloatLayer, unit: float, options: ImportOptions) -> _Quantized:
    neuron = layer.neuron
    where = f"layer {index} (nodes {layer.synapse!r}, {layer.neuron_name!r})"
    n_in, n_out = layer.weight.shape
    gain = neuron.gain
    w_float = layer.weight * gain[None, :]
    b_float = None if layer.bias is None else layer.bias * gain
    for name, values in (("v_leak", neuron.v_leak), ("v_reset", neuron.v_reset)):
        if np.ptp(values) > 1e-9 * max(1.0, float(np.abs(values).max())):
            raise NirError(f"{where}: {name} varies across the layer's neurons; plasticore "
                           "has one per layer")
    if (neuron.v_threshold <= neuron.v_leak).any():
        raise NirError(f"{where}: a v_threshold is not above v_leak "
                       f"({neuron.v_threshold.min():g} <= {neuron.v_leak[0]:g})")

    # weights: one scale per layer, signed weight_bits
    bits = options.weight_bits
    w_top = (1 << (bits - 1)) - 1
    largest = float(np.abs(w_float).max())
    s_w = largest / w_top if largest > 0 else 1.0
    w_int = np.clip(np.rint(w_float / s_w), -w_top - 1, w_top).astype(np.int64)
    clipped = int(np.count_nonzero(np.abs(w_float / s_w) > w_top + 0.5))
    w_error = float(np.sqrt(np.mean((w_int * s_w - w_float) ** 2))) / max(largest, 1e-300)

    # the membrane LSB, from the lowest threshold's resolution
    lowest = float(neuron.v_threshold.min() - neuron.v_leak[0])
    base = lowest / (s_w * unit)                 # lowest threshold in LSBs at shift 0
    shift = max(0, math.ceil(math.log2(THRESHOLD_LSBS / base))) if base > 0 else 0
    shift = min(shift, 15, MEMBRANE_BITS[1] - 1 - bits)
    s_v = s_w * unit / (1 << shift)
    v_rest = int(np.rint(neuron.v_leak[0] / s_v))
    fire = np.floor(neuron.v_threshold / s_v).astype(np.int64) + 1
    v_th = int(fire.min())
    theta = fire - v_th
    theta_bits = bits_for(int(theta.max()))
    bias = None if b_float is None else np.rint(b_float / s_v).astype(np.int64)
    if bias is not None and not bias.any():
        bias = None
    bias_bits = 0 if bias is None else bits_for(int(np.abs(bias).max())) + 1
    v_reset = int(np.rint(neuron.v_reset[0] / s_v)) if options.reset == "zero" else v_rest
    v_reset = min(v_reset, v_th - 1)
    reset_amount = 0
    if options.reset == "subtract":
        if neuron.beta <= 0.0:
            raise NirError(f"{where}: beta = 0 (tau = dt): snnTorch's delayed reset by "
                           "subtraction has no same-timestep equivalent; use --reset zero")
        reset_amount = max(1, int(np.rint(float(neuron.v_threshold.min())
                                          / (neuron.beta * s_v))))
    top = max(abs(v_th) + (1 << theta_bits), abs(v_rest), abs(v_reset), reset_amount)
    membrane = max(MEMBRANE_BITS[0], bits_for(4 * top) + 1, bits + shift + 1,
                   theta_bits + 1, bias_bits)
    if membrane > MEMBRANE_BITS[1]:
        raise NirError(f"{where}: the thresholds need a {membrane}-bit membrane at "
                       f"{bits}-bit weights (at most {MEMBRANE_BITS[1]}): fewer pixel bits or "
                       "a smaller threshold-to-weight ratio")

    leak, leak_report = _leak(where, neuron.beta)
    widths = Widths(weight=bits, membrane=membrane, theta=theta_bits, current_shift=shift,
                    weight_signed=True, bias=bias_bits)
    n_pe = max(d for d in range(1, 5) if n_out % d == 0)
    config = LayerConfig(
        n_neurons=n_out, n_pe=n_pe, widths=widths,
        neuron=NeuronConfig(v_rest=v_rest, v_reset=v_reset, v_th=v_th,
                            reset_mode="subtract" if options.reset == "subtract"
                            else "to_reset", reset_amount=reset_amount,
                            t_ref=0, theta_plus=0, theta_decay_shift=0, w_inh=0, **leak))
    report = {
        "synapse": layer.synapse, "neuron": layer.neuron_name, "inputs": n_in,
        "neurons": n_out, "kind": neuron.kind,
        "weight_bits": bits, "weight_scale": s_w, "weights_clipped": clipped,
        "weight_rms_error": w_error, "weight_range": [int(w_int.min()), int(w_int.max())],
        "current_shift": shift, "membrane_bits": membrane, "membrane_lsb": s_v,
        "v_th": v_th, "theta_max": int(theta.max()), "theta_bits": theta_bits,
        "v_rest": v_rest, "v_reset": v_reset, "reset_amount": reset_amount,
        "reset_amount_from_lowest_threshold": bool(reset_amount and np.ptp(fire) > 0),
        "bias_bits": bias_bits,
        "bias_range": None if bias is None else [int(bias.min()), int(bias.max())],
        "leak": leak_report,
    }
    return _Quantized(config, w_int, theta, bias, report)


def _leak(where: str, beta: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The neuron's leak fields for ``beta`` and a report of what was chosen."""
    if beta >= 1.0 - 1e-12:
        return {"leak_mode": "none"}, {"beta": beta, "mode": "none", "beta_int": 1.0,
                                       "decay_error": 0.0}
    decay = 1.0 - beta
    k = -math.log2(decay) if decay > 0 else math.inf
    if abs(k - round(k)) < 1e-5 and 1 <= round(k) <= 16:     # float32 tau: ~1e-7
        return ({"leak_mode": "shift", "leak_shift": int(round(k))},
                {"beta": beta, "mode": "shift", "leak_shift": int(round(k)),
                 "beta_int": beta, "decay_error": 0.0})
    q = int(round(beta * (1 << DECAY_FRAC)))
    beta_int = q / (1 << DECAY_FRAC)
    error = abs((1.0 - beta_int) - decay) / decay
    if error > LEAK_TOLERANCE:
        raise NirError(f"{where}: beta = {beta:.9g} (1 - beta = {decay:.3g}) needs more leak "
                       f"precision than {DECAY_FRAC} fraction bits hold (1 - beta off by "
                       f"{100 * error:.1f} %)")
    return ({"leak_mode": "multiply", "decay_q": q, "decay_frac": DECAY_FRAC},
            {"beta": beta, "mode": "multiply", "decay_q": q, "decay_frac": DECAY_FRAC,
             "beta_int": beta_int, "decay_error": error})
