"""What a co-simulation session drives: one ``SnnCore``, or a ``NetworkCore`` of several layers.

A :class:`Target` answers once what the harness (:mod:`.harness`), its script and capture,
the per-cycle driver and the golden session (:mod:`.core_session`) need to know of the
design: its Verilog module and component, the first layer's command and input streams, the
last layer's spike and count streams, the access words that load and read back every layer
(:meth:`Target.writes`, :meth:`Target.reads`, :meth:`Target.unpack`) and the timeout of a
sample.  A one-layer network is its core: the same ``snn_core`` Verilog and harness as its
``CoreConfig`` (the build cache keys on the Verilog's digest).

Per-layer values (weights, thresholds, biases) are, for a single core, one array each (or
``None``), and for a network a sequence with one entry per layer: :meth:`Target.layered`
tells which, :meth:`Target.per_layer` turns either into a list and :meth:`Target.shaped`
back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from amaranth.lib import data

from ..config import CoreConfig, NetworkConfig
from ..hdl.core.layouts import access_bits, access_layout, pack_words, unpack_words
from ..hdl.cycles import network_sample_cycles, sample_cycles

__all__ = ["CORE_MODULE", "NETWORK_MODULE", "AccessRequest", "LayerState", "Target",
           "config_from_json", "target_from_json"]

Array = Any

CORE_MODULE = "snn_core"
"""Verilog module of a single core (``SnnCore``)."""
NETWORK_MODULE = "network_core"
"""Verilog module of a network of several layers (``NetworkCore``; ``hdl.generate``'s
``NETWORK_TOP``)."""


@dataclass(frozen=True)
class AccessRequest:
    """One access of layer ``layer``: a write of ``data`` or a read of word ``addr`` of its
    weights (``weight``: word ``j * W + k``), thresholds or biases (word ``k``)."""

    layer: int
    write: bool
    kind: Literal["weight", "theta", "bias"]
    addr: int
    data: int = 0


@dataclass
class LayerState:
    """A layer's weights ``(n_inputs, n_neurons)``, thresholds and biases ``(n_neurons,)``
    (``None``: the layer has no bias)."""

    weights: Array
    theta: Array
    bias: Array = None


#: The key :meth:`Target.to_json` adds for a membrane readout (absent without one).
_MEMBRANE_KEY = "membrane_readout"


def config_from_json(text: str) -> CoreConfig | NetworkConfig:
    """Inverse of :meth:`Target.to_json`: a ``CoreConfig``, or a ``NetworkConfig`` (the
    layered form, a ``layers`` list)."""
    raw = json.loads(text)
    raw.pop(_MEMBRANE_KEY, None)
    if "layers" in raw:
        return NetworkConfig.from_dict(raw)
    return CoreConfig.from_dict(raw)


def target_from_json(text: str) -> Target:
    """Inverse of :meth:`Target.to_json`: the target, its membrane readout included."""
    return Target.of(config_from_json(text), json.loads(text).get(_MEMBRANE_KEY))



@dataclass(frozen=True)
class Target:
    """The design a session drives, from a ``CoreConfig`` or a ``NetworkConfig``.

    Members
    -------
    config : CoreConfig or NetworkConfig
        A single core, or a network of at least two layers (:meth:`of` turns a one-layer
        network into its core).
    membrane : "max", "final" or None
        The last layer's membrane readout (``hdl.core.membrane.membrane_mode`` of the
        configuration's ``classify``): its ``membranes`` stream after the counts.
    cores : tuple of CoreConfig
        Every layer's flat core (one for a single core).
    """

    config: CoreConfig | NetworkConfig
    membrane: str | None = None

    @classmethod
    def of(cls, config: CoreConfig | NetworkConfig | Target,
           membrane: str | None = None) -> Target:
        """The target of ``config`` (a one-layer network: its core), with the membrane
        readout ``membrane`` (a ``Target`` given keeps its own unless one is given)."""
        if isinstance(config, Target):
            return config if membrane is None else cls(config.config, membrane)
        if isinstance(config, NetworkConfig) and len(config.layers) == 1:
            return cls(config.core(0), membrane)
        if not isinstance(config, CoreConfig | NetworkConfig):
            raise TypeError(f"a session drives a CoreConfig or a NetworkConfig, not "
                            f"{config!r}")
        return cls(config, membrane)

    # -- the design -----------------------------------------------------------------------

    @property
    def cores(self) -> tuple[CoreConfig, ...]:
        config = self.config
        return config.cores if isinstance(config, NetworkConfig) else (config,)

    @property
    def layered(self) -> bool:
        """A ``NetworkCore`` (several layers), not one ``SnnCore``."""
        return isinstance(self.config, NetworkConfig)

    @property
    def first(self) -> CoreConfig:
        """Layer 0's core: the command and the input (pixels or raster) streams."""
        return self.cores[0]

    @property
    def last(self) -> CoreConfig:
        """The last layer's core: the spike and count streams."""
        return self.cores[-1]

    @property
    def module(self) -> str:
        """The Verilog module name of the design."""
        return NETWORK_MODULE if self.layered else CORE_MODULE

    def component(self) -> Any:
        """The Amaranth component: ``NetworkCore`` or ``SnnCore``."""
        if isinstance(self.config, NetworkConfig):
            from ..hdl.network import NetworkCore

            return NetworkCore(self.config, self.membrane)
        from ..hdl.core import SnnCore

        return SnnCore(self.config, self.membrane)

    def to_json(self) -> str:
        """The configuration as JSON (how the testbench and the golden process receive it;
        :func:`target_from_json` reads it back; a membrane readout adds a key)."""
        if isinstance(self.config, NetworkConfig):
            text = json.dumps(self.config.to_dict())
        else:
            text = self.config.to_json()
        if self.membrane is None:
            return text
        return json.dumps({**json.loads(text), _MEMBRANE_KEY: self.membrane})

    def digest(self) -> str:
        """16 hex digits naming the configuration (a core's ``digest()``)."""
        if isinstance(self.config, CoreConfig) and self.membrane is None:
            return self.config.digest()
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def layer_alone(self, index: int) -> NetworkConfig:
        """Layer ``index`` as a one-layer network of its own, its input the previous
        layer's spikes (direct input, ``row_banks`` lanes): ``core(0)`` of it is
        ``cores[index]``."""
        network = self.config
        assert isinstance(network, NetworkConfig)
        layer = network.layers[index]
        source = network.input if index == 0 else dataclasses.replace(
            network.input, n_inputs=network.layer_inputs(index), kind="direct",
            lanes=layer.row_banks)
        return dataclasses.replace(network, layers=(layer,), input=source)

    # -- per-layer values -----------------------------------------------------------------

    def per_layer(self, value: Any, what: str) -> list[Any]:
        """``value`` as a list of one entry per layer (a single core's array, or ``None``
        for every layer)."""
        if value is None:
            return [None] * len(self.cores)
        if not self.layered:
            return [value]
        values = list(value)
        if len(values) != len(self.cores):
            raise ValueError(f"{what}: {len(values)} layers given, the network has "
                             f"{len(self.cores)}")
        return values

    def shaped(self, values: list[Any]) -> Any:
        """Inverse of :meth:`per_layer`: the list for a network, its one entry for a core."""
        return values if self.layered else values[0]

    def input_words(self, pixels: Array) -> list[int]:
        """A sample's input tokens: layer 0's pixel words (rate or current input, ``lanes``
        pixels a word) or raster words (direct input, one a timestep, input ``j`` at bit
        ``j``)."""
        core = self.first
        if core.encoder.kind == "direct":
            return pack_words(np.asarray(pixels, dtype=np.int64), core.n_inputs, 1)
        return pack_words(np.asarray(pixels, dtype=np.int64), core.encoder.lanes,
                          core.encoder.pixel_bits)

    # -- the access port ------------------------------------------------------------------

    @property
    def access_layout(self) -> data.StructLayout:
        """Payload of the access stream: ``access_layout`` of the core, or the network's
        (a ``layer`` field)."""
        if isinstance(self.config, NetworkConfig):
            from ..hdl.network import network_access_layout

            return network_access_layout(self.config)
        return access_layout(self.config)

    @property
    def readback_bits(self) -> int:
        """Width of a readback word."""
        if isinstance(self.config, NetworkConfig):
            from ..hdl.network import network_access_bits

            return network_access_bits(self.config)
        return access_bits(self.config)

    @property
    def biased(self) -> bool:
        """Some layer has a bias (the access payload has a ``bias`` bit)."""
        return any(core.widths.bias for core in self.cores)

    def access_fields(self, request: AccessRequest) -> dict[str, int]:
        """The access payload of ``request``, field by field."""
        fields = {"write": int(request.write), "theta": int(request.kind == "theta"),
                  "addr": request.addr, "data": request.data}
        if self.layered:
            fields["layer"] = request.layer
        if self.biased:
            fields["bias"] = int(request.kind == "bias")
        return fields

    def access_word(self, request: AccessRequest) -> int:
        """The access payload of ``request`` as an integer (the harness script's word)."""
        return int(self.access_layout.const(self.access_fields(request)).as_bits())

    def writes(self, weights: Any, theta: Any, bias: Any = None) -> list[AccessRequest]:
        """The writes that load every layer: its weight words, threshold words, then bias
        words (a layer with a bias and none given: zeros), layer after layer."""
        out = []
        for layer, (core, w, th, b) in enumerate(zip(
                self.cores, self.per_layer(weights, "weights"), self.per_layer(theta, "theta"),
                self.per_layer(bias, "bias"), strict=True)):
            P = core.n_pe
            words: list[tuple[Literal["weight", "theta", "bias"], list[int]]] = [
                ("weight", pack_words(np.asarray(w), P, core.widths.weight)),
                ("theta", pack_words(np.asarray(th), P, core.widths.theta))]
            if core.widths.bias:
                values = np.zeros(core.n_neurons, np.int64) if b is None else np.asarray(b)
                words.append(("bias", pack_words(values, P, core.widths.bias)))
            out += [AccessRequest(layer, True, kind, addr, word)
                    for kind, packed in words for addr, word in enumerate(packed)]
        return out

    def reads(self) -> list[AccessRequest]:
        """The reads of every layer's weights, thresholds and biases, in :meth:`writes`'s
        order."""
        out = []
        for layer, core in enumerate(self.cores):
            W = core.derived.neurons_per_pe
            kinds: list[tuple[Literal["weight", "theta", "bias"], int]] = [
                ("weight", core.n_inputs * W), ("theta", W)]
            if core.widths.bias:
                kinds.append(("bias", W))
            out += [AccessRequest(layer, False, kind, addr)
                    for kind, n in kinds for addr in range(n)]
        return out

    def unpack(self, words: Sequence[int]) -> list[LayerState]:
        """Every layer's state from the answers to :meth:`reads` (signed weights and biases
        as two's complement)."""
        requests = self.reads()
        if len(words) != len(requests):
            raise ValueError(f"{len(words)} readback words, {len(requests)} expected")
        answers: dict[tuple[int, str], list[int]] = {}
        for request, word in zip(requests, words, strict=True):
            answers.setdefault((request.layer, request.kind), []).append(word)
        out = []
        for layer, core in enumerate(self.cores):
            P = core.n_pe
            weights = unpack_words(answers[layer, "weight"], P, core.widths.weight,
                                   signed=core.widths.weight_signed
                                   ).reshape(core.n_inputs, core.n_neurons)
            theta = unpack_words(answers[layer, "theta"], P, core.widths.theta)
            bias = (unpack_words(answers[layer, "bias"], P, core.widths.bias, signed=True)
                    if core.widths.bias else None)
            out.append(LayerState(weights, theta, bias))
        return out

    # -- time -----------------------------------------------------------------------------

    def slowest_sample(self) -> int:
        """Cycles of the slowest sample the cycle model admits (every input and neuron
        spiking every timestep, every pixel non-zero, learning on, a LUT layer building its
        tables first), from the command to the last count."""
        first, T = self.first, self.first.timesteps
        full = [np.ones((T, core.n_neurons), bool) for core in self.cores]
        pixels = np.ones(first.n_inputs, np.int64)
        inputs = (None if first.encoder.kind == "current"
                  else np.ones((T, first.n_inputs), bool))
        if not self.layered:
            return sample_cycles(first, inputs, full[0], learn=True, pixels=pixels,
                                 membrane=self.membrane, build=True).total
        return network_sample_cycles(self.cores, inputs, full, pixels=pixels,
                                     membrane=self.membrane, build=True).idle
