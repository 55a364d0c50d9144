"""The source network in float, as snnTorch runs it: the reference an import is measured
against.

:func:`run_float` steps a :class:`~.graph.FloatNetwork` in float32 (snnTorch's precision),
layer after layer within a timestep, with snnTorch's ``Leaky`` neuron (reset by
subtraction, one timestep late, the default ``reset_delay=True``)::

    v[t] = beta v[t-1] + (1 - beta) v_leak + gain (W x[t] + b) - v_threshold z[t-1]
    z[t] = v[t] > v_threshold

or NIR's own reset to ``v_reset`` (``reset = "zero"``).  On snnTorch's shipped files
(``examples/nir``) its output spike counts equal snnTorch's for every test image
(``examples/nir_sim.py`` checked it against torch).  No torch is needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .graph import FloatNetwork

__all__ = ["run_float"]

Array = Any


def run_float(network: FloatNetwork, inputs: Array, timesteps: int,
              reset: str = "subtract") -> Array:
    """Output spike counts ``(B, n_out)`` of ``B`` samples.

    ``inputs`` is ``(B, n_inputs)`` of float input values, the same at every timestep (a
    constant current: pixels scaled to ``0..1``), or ``(B, timesteps, n_inputs)`` of input
    spikes.  ``reset``: ``"subtract"`` (snnTorch's) or ``"zero"`` (to ``v_reset``).
    """
    if reset not in ("subtract", "zero"):
        raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
    x = np.asarray(inputs)
    constant = x.ndim == 2
    B = len(x)
    f32 = np.float32
    layers = []
    for layer in network.layers:
        n = layer.neuron
        beta = f32(n.beta)
        gain = n.gain.astype(f32)
        weight = layer.weight.astype(f32)
        bias = (np.zeros(weight.shape[1], f32) if layer.bias is None
                else layer.bias.astype(f32))
        rest = ((f32(1) - beta) * n.v_leak.astype(f32)).astype(f32)
        layers.append((beta, gain, weight, bias, rest, n.v_threshold.astype(f32),
                       n.v_reset.astype(f32)))
    v = [np.zeros((B, p[2].shape[1]), f32) for p in layers]
    z = [np.zeros((B, p[2].shape[1]), f32) for p in layers]
    counts = np.zeros((B, network.layers[-1].weight.shape[1]), np.int64)
    for t in range(timesteps):
        a = x.astype(f32) if constant else x[:, t].astype(f32)
        for k, (beta, gain, weight, bias, rest, threshold, v_reset) in enumerate(layers):
            u = beta * v[k] + rest + gain * (a @ weight + bias)
            if reset == "subtract":
                u = u - threshold * z[k]
                z[k] = (u > threshold).astype(f32)
                v[k] = u
            else:
                z[k] = (u > threshold).astype(f32)
                v[k] = np.where(z[k] > 0, v_reset, u)
            a = z[k]
        counts += a.astype(np.int64)
    return counts
