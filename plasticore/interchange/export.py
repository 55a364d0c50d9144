"""A configuration and its integer weights as a NIR graph.

The graph is a chain ``input -> fc0 -> lif0 -> fc1 -> lif1 ... -> output`` in membrane
LSBs: layer ``l``'s synapse node carries ``w * 2**current_shift`` (times ``pixel_max`` for
the first layer with current input, whose NIR input is ``pixel / pixel_max``), an
``Affine`` with the bias or a ``Linear`` without one; its neuron node is a ``LIF`` with
``tau = dt / (1 - beta)``, ``v_leak = v_rest``, ``v_reset``, and the per-neuron threshold
``v_th + theta[i] - 0.5`` (NIR fires when ``v > v_threshold``, plasticore when
``v >= v_th + theta``), or an ``IF`` for a neuron without leak.

The input gain per timestep ``r dt / tau`` must be 1.  NIR says so either way, but readers
ignore ``r`` and assume a value (:data:`CONVENTIONS`): snnTorch ``r = tau / dt`` (so the
synapses carry the weights as they are), Norse ``r = 1`` (so the synapses carry them times
``tau / dt``, and Norse's ``from_nir`` needs ``dt``).

What a feed-forward NIR chain cannot say is returned as notes, never dropped silently: the
lateral inhibition (``w_inh``), the refractory period, reset by subtraction (NIR resets to
``v_reset``), the integer rounding of the leak, and the learning rule: NIR holds the
trained network, not how it was trained, so a ``rule.kind = "bptt"`` network exports as
the same graph as the same network with ``kind = "none"``, and imports back as that one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..config import Config
from .graph import NirError

__all__ = ["export_graph", "write_graph", "CONVENTIONS"]

#: Who reads the file, and so which ``r`` it carries (module docstring).
CONVENTIONS = ("snntorch", "norse")

Array = Any


def export_graph(config: Config, weights: list[Array], theta: list[Array],
                 bias: list[Array | None], dt: float = 1e-4,
                 convention: str = "snntorch") -> tuple[Any, list[str]]:
    """The ``nir.NIRGraph`` of ``config``'s network with these integer arrays, and notes on
    what it cannot represent; ``convention`` names the reader (:data:`CONVENTIONS`)."""
    import nir

    if not (np.isfinite(dt) and dt > 0):
        raise NirError(f"dt = {dt!r}: must be a positive number of seconds")
    if convention not in CONVENTIONS:
        raise NirError(f"convention {convention!r}: must be one of {', '.join(CONVENTIONS)}")
    network = config.network
    cores = network.cores
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array([network.input.n_inputs])})}
    chain = ["input"]
    notes: list[str] = []
    pixel_max = (1 << network.input.pixel_bits) - 1
    for index, core in enumerate(cores):
        n = core.n_neurons
        unit = pixel_max if index == 0 and core.encoder.kind == "current" else 1
        neuron_params = core.neuron
        leaks = neuron_params.leak_mode != "none"
        beta = _beta(core) if leaks else 1.0
        if beta <= 0.0:
            raise NirError(f"layer {index}: the leak removes the whole membrane every "
                           "timestep (beta = 0): no NIR time constant")
        tau = dt / (1.0 - beta) if leaks else dt
        # r dt / tau = 1: snnTorch reads r = tau / dt, Norse r = 1 (the gain in the synapses)
        r, scale = (tau / dt, 1.0) if convention == "snntorch" else (1.0, tau / dt)
        w = np.asarray(weights[index], dtype=np.float64).T * float(unit)
        w = w * float(1 << core.widths.current_shift) * scale
        b = bias[index]
        synapse = (nir.Affine(weight=w, bias=np.asarray(b, dtype=np.float64) * scale)
                   if b is not None else nir.Linear(weight=w))
        v_threshold = (neuron_params.v_th + np.asarray(theta[index], dtype=np.float64)) - 0.5
        v_reset = np.full(n, float(neuron_params.v_reset))
        if neuron_params.reset_mode == "subtract":
            notes.append(f"layer {index}: resets by subtraction of the threshold; NIR's "
                         "neurons reset to v_reset (import with --reset subtract, as for "
                         "snnTorch)")
        if not leaks:
            neuron = nir.IF(r=np.full(n, r / dt), v_threshold=v_threshold, v_reset=v_reset)
        else:
            neuron = nir.LIF(tau=np.full(n, tau), r=np.full(n, r),
                             v_leak=np.full(n, float(neuron_params.v_rest)),
                             v_threshold=v_threshold, v_reset=v_reset)
            notes.append(f"layer {index}: the leak rounds toward zero on the integer grid "
                         f"(beta = {beta:.9g} in float)")
        if neuron_params.w_inh:
            notes.append(f"layer {index}: lateral inhibition (w_inh = {neuron_params.w_inh}) "
                         "is not exported (a recurrent edge)")
        if neuron_params.t_ref:
            notes.append(f"layer {index}: the refractory period (t_ref = "
                         f"{neuron_params.t_ref}) is not exported (NIR has none)")
        names = (f"fc{index}", f"lif{index}")
        nodes[names[0]], nodes[names[1]] = synapse, neuron
        chain.extend(names)
    if network.rule.kind == "bptt":
        notes.append("the learning rule (rule.kind = 'bptt' and its training parameters) is "
                     "not exported: NIR holds the trained network, which imports back with "
                     "rule.kind = 'none'")
    nodes["output"] = nir.Output(output_type={"output": np.array([cores[-1].n_neurons])})
    chain.append("output")
    edges = list(zip(chain[:-1], chain[1:], strict=True))
    metadata = {"generator": "plasticore", "dt_seconds": dt, "convention": convention,
                "timesteps": network.timesteps,
                "encoder": network.input.kind, "readout": config.classify.readout}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata), notes


def write_graph(graph: Any, path: Any) -> None:
    """``nir.write`` to ``path`` atomically (a unique temporary name, then a rename)."""
    import nir

    from ..files import replacing

    with replacing(path) as tmp:
        nir.write(str(tmp), graph)


def _beta(core: Any) -> float:
    """The leak's decay factor per timestep, in float."""
    n = core.neuron
    if n.leak_mode == "shift":
        return 1.0 - 2.0 ** -n.leak_shift
    return float(n.decay_q) / float(1 << n.decay_frac)
