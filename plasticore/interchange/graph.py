"""A NIR graph as a chain of float layers, or a one-line reason why it is not one.

NIR's neurons are continuous-time.  With a timestep ``dt`` (not stored in the file) and
forward Euler, as snnTorch's exporter and importer use it:

- ``LIF``: ``tau dv/dt = (v_leak - v) + r I`` becomes
  ``v[t+1] = beta v[t] + (1 - beta) v_leak + gain I[t]`` with ``beta = 1 - dt / tau`` and
  ``gain = r dt / tau`` (snnTorch writes ``tau = dt / (1 - beta)`` and ``r = tau / dt``, so
  ``gain = 1``);
- ``IF``: ``dv/dt = r I`` becomes ``v[t+1] = v[t] + r dt I[t]`` (no leak);
- ``CubaLIF``: a synaptic current with its own time constant, which plasticore's neuron
  does not have; only ``tau_syn <= dt`` (the synaptic current follows its input within the
  timestep, ``I = w_in S``) is a ``LIF``;
- a spike when ``v > v_threshold``, then ``v = v_reset`` (NIR) or, as snnTorch's default,
  ``v -= v_threshold`` (the file cannot say which: the caller chooses).

Accepted graphs are chains ``Input -> (Affine | Linear) -> (LIF | IF | CubaLIF) -> ... ->
Output``; anything else (a recurrent edge, a branch, a convolution, a node type plasticore
has no equivalent for, a tau that varies across a layer's neurons) raises
:class:`NirError` naming the node and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..files import input_file

__all__ = ["NirError", "FloatNeuron", "FloatLayer", "FloatNetwork", "read_graph",
           "network_of"]

Array = Any

#: Node types that carry synapses, and node types that are neurons.
SYNAPSES = ("Affine", "Linear")
NEURONS = ("LIF", "IF", "CubaLIF")


class NirError(ValueError):
    """A NIR file or graph plasticore cannot read or represent (one line: the node, why)."""


@dataclass(frozen=True)
class FloatNeuron:
    """A layer's neurons in discrete time (float64, per-neuron arrays).

    Members
    -------
    kind : "lif" or "if"
        Leaky, or integrate-and-fire (``beta = 1``).
    beta : float
        Membrane decay per timestep, ``1 - dt / tau`` (1 for ``IF``), the same for every
        neuron of the layer.
    gain : (n,) array
        Input current gain per timestep (``r dt / tau``; ``r dt`` for ``IF``; times
        ``w_in`` for a ``CubaLIF``).
    v_leak, v_threshold, v_reset : (n,) arrays
        Resting (leak) potential, threshold, reset potential (zeros when absent).
    """

    kind: str
    beta: float
    gain: Array
    v_leak: Array
    v_threshold: Array
    v_reset: Array


@dataclass(frozen=True)
class FloatLayer:
    """One synapse node and the neuron node after it.

    Members
    -------
    synapse, neuron : str
        The two nodes' names in the graph.
    weight : (n_inputs, n_neurons) float64
        ``w[j, i]`` from input ``j`` to neuron ``i`` (NIR's ``weight`` transposed).
    bias : (n_neurons,) float64 or None
    """

    synapse: str
    neuron_name: str
    weight: Array
    bias: Array | None
    neuron: FloatNeuron


@dataclass(frozen=True)
class FloatNetwork:
    """The chain of layers a graph describes, in order, and its input size."""

    n_inputs: int
    layers: tuple[FloatLayer, ...]


def read_graph(path: str | Path) -> Any:
    """``nir.read`` of ``path`` with one-line errors."""
    import nir

    path = input_file(path, "NIR file", b"\x89HDF\r\n\x1a\n",
                      "not a NIR file (NIR files are HDF5; written by nir.write)", NirError)
    try:
        return nir.read(str(path))
    except Exception as exc:       # h5py and nir raise many types for a malformed file
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NirError(f"{path}: not a readable NIR graph ({text})") from None


def network_of(graph: Any, dt: float) -> FloatNetwork:
    """The chain of float layers of ``graph`` (a ``nir.NIRGraph``) at timestep ``dt`` s."""
    if not (isinstance(dt, float | int) and np.isfinite(dt) and dt > 0):
        raise NirError(f"dt = {dt!r}: must be a positive number of seconds")
    nodes: dict[str, Any] = dict(getattr(graph, "nodes", {}) or {})
    edges = [tuple(edge) for edge in getattr(graph, "edges", []) or []]
    if not nodes:
        raise NirError("the graph has no nodes")
    kinds = {name: type(node).__name__ for name, node in nodes.items()}
    for name, kind in kinds.items():
        if kind == "NIRGraph":
            raise NirError(f"node {name!r} (NIRGraph): nested subgraphs are not supported "
                           "(flatten the graph)")
        if kind not in ("Input", "Output", *SYNAPSES, *NEURONS):
            raise NirError(f"node {name!r} ({kind}): not supported (plasticore reads chains "
                           f"of Input, Affine or Linear, LIF, IF or CubaLIF, Output)")
    for src, dst in edges:
        for end in (src, dst):
            if end not in nodes:
                raise NirError(f"edge {src!r} -> {dst!r}: no node named {end!r}")
    outgoing: dict[str, list[str]] = {name: [] for name in nodes}
    incoming: dict[str, list[str]] = {name: [] for name in nodes}
    for src, dst in edges:
        outgoing[src].append(dst)
        incoming[dst].append(src)
    inputs = [name for name, kind in kinds.items() if kind == "Input"]
    if len(inputs) != 1:
        raise NirError(f"the graph has {len(inputs)} Input nodes; plasticore reads one")

    chain = _walk(inputs[0], kinds, outgoing, incoming)
    n_inputs = _input_size(inputs[0], nodes[inputs[0]])
    layers = []
    for k in range(0, len(chain), 2):
        synapse, neuron = chain[k], chain[k + 1]
        layer = _layer(synapse, nodes[synapse], neuron, nodes[neuron], dt)
        expected = n_inputs if not layers else layers[-1].weight.shape[1]
        if layer.weight.shape[0] != expected:
            raise NirError(f"node {synapse!r} ({kinds[synapse]}): takes "
                           f"{layer.weight.shape[0]} inputs, but gets {expected}")
        layers.append(layer)
    return FloatNetwork(n_inputs, tuple(layers))


def _walk(start: str, kinds: dict[str, str], outgoing: dict[str, list[str]],
          incoming: dict[str, list[str]]) -> list[str]:
    """The synapse and neuron nodes from ``start`` (the Input) to the Output, in order."""
    chain: list[str] = []
    seen = {start}
    node = start
    while True:
        nexts = outgoing[node]
        if not nexts:
            raise NirError(f"node {node!r} ({kinds[node]}): leads nowhere (the chain must "
                           "end in an Output node)")
        if len(nexts) > 1:
            raise NirError(f"node {node!r} ({kinds[node]}): branches to {nexts} (plasticore "
                           "reads a feed-forward chain)")
        nxt = nexts[0]
        if nxt in seen:
            raise NirError(f"edge {node!r} -> {nxt!r}: a recurrent edge (plasticore reads a "
                           "feed-forward chain)")
        if len(incoming[nxt]) > 1:
            raise NirError(f"node {nxt!r} ({kinds[nxt]}): has {len(incoming[nxt])} inputs "
                           f"{incoming[nxt]} (a recurrent or merging edge; plasticore reads a "
                           "feed-forward chain)")
        seen.add(nxt)
        kind = kinds[nxt]
        if kind == "Output":
            break
        position = "synapse" if len(chain) % 2 == 0 else "neuron"
        wanted = SYNAPSES if position == "synapse" else NEURONS
        if kind not in wanted:
            after = kinds[node]
            raise NirError(f"node {nxt!r} ({kind}) after {node!r} ({after}): plasticore "
                           f"needs {' or '.join(wanted)} here (layers are a synapse node, then "
                           "a neuron node)")
        chain.append(nxt)
        node = nxt
    if not chain:
        raise NirError("the graph has no layer (Input leads straight to Output)")
    if len(chain) % 2:
        raise NirError(f"node {chain[-1]!r} ({kinds[chain[-1]]}): leads to the Output without "
                       "a neuron node (plasticore's layers end in LIF, IF or CubaLIF "
                       "neurons)")
    unused = [name for name in kinds if name not in seen]
    if unused:
        raise NirError(f"node {unused[0]!r} ({kinds[unused[0]]}): not on the chain from the "
                       "Input to the Output")
    return chain


def _array(owner: str, field: str, value: Any, size: int | None = None) -> Array:
    """A node parameter as a finite float64 array (a scalar broadcast to ``size``)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NirError(f"node {owner}: {field} is not numeric") from None
    if not np.isfinite(array).all():
        raise NirError(f"node {owner}: {field} holds a value that is not finite")
    if size is not None:
        if array.ndim == 0 or array.size == 1:
            array = np.full(size, float(array.reshape(-1)[0]))
        if array.shape != (size,):
            raise NirError(f"node {owner}: {field} has shape {array.shape}, the layer has "
                           f"{size} neurons")
    return array


def _input_size(name: str, node: Any) -> int:
    shapes = getattr(node, "input_type", {}) or {}
    shape = next(iter(shapes.values()), None) if isinstance(shapes, dict) else None
    size = int(np.prod(np.asarray(shape))) if shape is not None and np.size(shape) else 0
    if size < 1:
        raise NirError(f"node {name!r} (Input): no input shape")
    return size


def _layer(synapse: str, syn: Any, neuron: str, node: Any, dt: float) -> FloatLayer:
    syn_name = f"{synapse!r} ({type(syn).__name__})"
    weight = _array(syn_name, "weight", syn.weight)
    if weight.ndim != 2:
        raise NirError(f"node {syn_name}: weight has shape {weight.shape}; plasticore reads "
                       "fully connected layers (out, in)")
    n_out = weight.shape[0]
    bias = _array(syn_name, "bias", syn.bias, n_out) if hasattr(syn, "bias") else None
    if bias is not None and not bias.any():
        bias = None
    name = f"{neuron!r} ({type(node).__name__})"
    kind = type(node).__name__
    v_threshold = _array(name, "v_threshold", node.v_threshold, n_out)
    v_reset = (np.zeros(n_out) if getattr(node, "v_reset", None) is None
               else _array(name, "v_reset", node.v_reset, n_out))
    r = _array(name, "r", node.r, n_out)
    if kind == "IF":
        return FloatLayer(synapse, neuron, weight.T.copy(), bias,
                          FloatNeuron("if", 1.0, r * dt, np.zeros(n_out), v_threshold,
                                      v_reset))
    tau = _array(name, "tau" if kind == "LIF" else "tau_mem",
                 node.tau if kind == "LIF" else node.tau_mem, n_out)
    gain = r * dt / tau
    if kind == "CubaLIF":
        tau_syn = _array(name, "tau_syn", node.tau_syn, n_out)
        if (tau_syn > dt * (1 + 1e-9)).any():
            raise NirError(f"node {name}: tau_syn = {tau_syn.max():g} s is longer than the "
                           f"timestep dt = {dt:g} s: a synaptic current with its own decay, "
                           "which plasticore's neuron does not have")
        gain = gain * _array(name, "w_in", node.w_in, n_out)
    if (tau <= 0).any():
        raise NirError(f"node {name}: tau must be positive, got {tau.min():g}")
    if np.ptp(tau) > 1e-9 * np.abs(tau).max():
        raise NirError(f"node {name}: tau varies across the layer's neurons "
                       f"({tau.min():g} .. {tau.max():g} s); plasticore's leak is one per "
                       "layer")
    beta = 1.0 - dt / float(tau[0])
    if not 0.0 <= beta <= 1.0:
        raise NirError(f"node {name}: tau = {tau[0]:g} s is shorter than the timestep dt = "
                       f"{dt:g} s (beta = 1 - dt / tau = {beta:g} < 0)")
    v_leak = _array(name, "v_leak", node.v_leak, n_out)
    return FloatLayer(synapse, neuron, weight.T.copy(), bias,
                      FloatNeuron("lif", beta, gain, v_leak, v_threshold, v_reset))
