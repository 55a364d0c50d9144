"""The network: an input (rate-coded, spikes, or pixels as currents) into a list of layers,
plus one learning rule.

:class:`Network` holds the layers (:class:`.layer.Layer`: weights, biases, adaptive
thresholds) and the rule (:class:`.stdp.Stdp` for a one-layer STDP network, or
:data:`.rule.NO_LEARNING`: ``rule.kind = "none"``, or ``stdp.learn = false``), and runs
samples: :meth:`Network.run_sample` one at a time with learning on or off (what the RTL
core does), :meth:`Network.run_batch` many at once with learning off (inference, vectorized
over samples; bit-identical to running them one by one).  A timestep steps every layer in
order, layer ``l`` taking layer ``l - 1``'s spikes of the same timestep
(:meth:`.layer.Layer.step`), then the rule's part (:class:`.rule.Learner`):
``docs/numerics.md``, sections "One timestep" and "Layers".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..config import CoreConfig, NetworkConfig
from .arith import Arithmetic, FloatArithmetic, IntegerArithmetic
from .encoder import rate_threshold, spikes_from_states
from .events import run_events
from .layer import Layer, LayerState
from .lfsr import STREAM_INPUT, STREAM_NEURON, SampleStates, base_states, start_states, step
from .rule import NO_LEARNING, Rule
from .stdp import Stdp

__all__ = ["Network", "SampleResult", "BatchResult", "initial_weights", "WEIGHT_INIT_STREAM"]

Array = Any
#: ``observe(t, layer, inputs, state)`` of :meth:`Network.run_observed`.
Observer = Callable[[int, int, Array, LayerState], None]

#: numpy seed stream for the initial weights (``default_rng([seed, WEIGHT_INIT_STREAM])``).
WEIGHT_INIT_STREAM = 0x5EED


def initial_weights(core: CoreConfig) -> Array:
    """Initial weights ``w[j, i]``, uniform integers in ``[0, w_init_max]`` (``int64``)."""
    rng = np.random.default_rng([core.seed, WEIGHT_INIT_STREAM])
    shape = (core.n_inputs, core.n_neurons)
    return rng.integers(0, core.stdp.w_init_max, size=shape, endpoint=True, dtype=np.int64)


@dataclass
class SampleResult:
    """What one sample produced.

    Members
    -------
    counts : (n_neurons,) int64
        Spikes per neuron of the last layer over the sample.
    input_spikes : (timesteps,) int64
        Input spikes per timestep (zeros with current input).
    raster : (timesteps, n_neurons) bool or None
        The last layer's spikes per timestep (``record=True``).
    input_raster : (timesteps, n_inputs) bool or None
        Input spikes per timestep (``record=True``; ``None`` with current input).
    layer_counts : list of (n_neurons_l,) int64
        Spikes per neuron of every layer (the last is ``counts``).
    v_max, v_final : (n_neurons,) arrays or None
        The last layer's membrane: the highest after any timestep, and after the last one
        (as stored, after any reset); ``None`` from the event-driven loop.
    """

    counts: Array
    input_spikes: Array
    raster: Array | None = None
    input_raster: Array | None = None
    layer_counts: list[Array] | None = None
    v_max: Array | None = None
    v_final: Array | None = None


@dataclass
class BatchResult:
    """What a batch of samples produced with learning off (:meth:`Network.run_outputs`).

    Members
    -------
    counts : (B, n_neurons) int64
        The last layer's spike counts.
    v_max, v_final : (B, n_neurons) arrays
        The last layer's membranes, as :class:`SampleResult` defines them.
    layer_spikes : (B, n_layers) int64
        Spikes of every layer per sample.
    """

    counts: Array
    v_max: Array
    v_final: Array
    layer_spikes: Array

    def scores(self, readout: str) -> Array:
        """What a readout classifies by (``classify.readout``): the membranes for
        ``membrane_max`` and ``membrane_final``, else the spike counts."""
        if readout == "membrane_max":
            return self.v_max
        if readout == "membrane_final":
            return self.v_final
        return self.counts


class Network:
    """Layers plus a learning rule, and the loops that run a sample through them.

    Parameters
    ----------
    config : CoreConfig or NetworkConfig
        One layer's core (a one-layer network with its STDP table), or a whole network.
    arithmetic : "integer" (the fixed-point specification) or "float" (float64 reference)
    weights : array or sequence of arrays, default :func:`initial_weights`
        Layer ``l``'s ``(n_inputs_l, n_neurons_l)`` weights; one array for a one-layer
        network.
    theta : array or sequence of arrays, default zeros
        Adaptive thresholds ``(n_neurons_l,)``, likewise.
    bias : array or sequence of arrays, default zeros
        Biases ``(n_neurons_l,)``, likewise.

    Members
    -------
    network : NetworkConfig
    core : CoreConfig
        Layer 0's.
    layers : list of Layer
    rule : Rule
        :class:`.stdp.Stdp`, or :data:`.rule.NO_LEARNING` (rule ``none``, or learning off).
    weights, theta : arrays
        The first layer's (read and assigned through to it).
    input_base, neuron_base : uint32 arrays
        The generators' base states (``docs/numerics.md``, "Generators").
    event_driven : bool
        Use the rule's event-driven form when it has one (default); ``False`` runs the
        literal loop, which tests compare it with.
    """

    def __init__(self, config: CoreConfig | NetworkConfig,
                 arithmetic: Literal["integer", "float"] = "integer",
                 weights: Array | Sequence[Array] | None = None,
                 theta: Array | Sequence[Array] | None = None,
                 bias: Array | Sequence[Array] | None = None):
        policies: dict[str, Callable[[CoreConfig], Arithmetic]] = {
            "integer": IntegerArithmetic, "float": FloatArithmetic}
        if arithmetic not in policies:
            raise ValueError(f"arithmetic must be 'integer' or 'float', got {arithmetic!r}")
        cores: tuple[CoreConfig, ...]
        if isinstance(config, CoreConfig):
            network, cores = NetworkConfig.from_core(config), (config,)
        else:
            network, cores = config, config.cores
        self.network = network
        self.core = cores[0]
        params = zip(cores, _per_layer("weights", weights, len(cores)),
                     _per_layer("theta", theta, len(cores)),
                     _per_layer("bias", bias, len(cores)), strict=True)
        self.layers = [Layer(core, policies[arithmetic](core),
                             initial_weights(core) if w is None else w, th, b)
                       for core, w, th, b in params]
        learns = network.rule.kind == "stdp" and self.core.stdp.learn
        self.rule: Rule = Stdp() if learns else NO_LEARNING
        self.input_base = base_states(self.core.seed, STREAM_INPUT, self.core.n_inputs)
        self.neuron_base = base_states(self.core.seed, STREAM_NEURON, self.core.n_neurons)
        self.event_driven = True

    @property
    def num(self) -> Arithmetic:
        """The arithmetic policy (the first layer's)."""
        return self.layers[0].num

    @property
    def weights(self) -> Array:
        """The first layer's weights ``w[j, i]``."""
        return self.layers[0].weights

    @weights.setter
    def weights(self, value: Array) -> None:
        self.layers[0].weights = value

    @property
    def theta(self) -> Array:
        """The first layer's adaptive thresholds."""
        return self.layers[0].theta

    @theta.setter
    def theta(self, value: Array) -> None:
        self.layers[0].theta = value

    @property
    def n_outputs(self) -> int:
        """Neurons of the last layer."""
        return self.layers[-1].core.n_neurons

    # -- one sample, learning on or off (the order the RTL follows) ------------------------

    def run_sample(self, sample: Array, key: int, learn: bool = True,
                   record: bool = False) -> SampleResult:
        """Run one sample of ``timesteps`` timesteps from the per-sample reset state.

        ``sample`` is a pixel vector ``(n_inputs,)`` for the rate encoder and for current
        input, or a spike raster ``(timesteps, n_inputs)`` for direct input.  ``key``
        reseeds every generator.  With ``learn`` the rule runs (it learns nothing without
        one, or when ``stdp.learn`` is off).

        Two loops implement the same timestep: :meth:`_run_literal` follows
        ``docs/numerics.md`` literally and handles every configuration;
        :func:`.events.run_events` (integer arithmetic, one layer of spikes times unsigned
        weights without bias, when the rule has an event-driven form: always with learning
        off, and for the STDP defaults) is organised around output spikes and skips the work
        that is zero by definition, which makes training several times faster.  Tests hold
        the two to identical results.
        """
        rule = self.rule if learn else NO_LEARNING
        layer = self.layers[0]
        states = SampleStates(self.input_base, self.neuron_base, key, self.core.timesteps)
        in_spikes = self._input_raster(sample, states.inputs)
        fast = None
        if (self.event_driven and len(self.layers) == 1 and layer.plain
                and in_spikes is not None and layer.num.dtype == np.int64):
            fast = rule.event_learner(layer, states, in_spikes)
        if fast is not None and in_spikes is not None:
            counts, raster = run_events(layer, in_spikes, fast, rule.learns, record)
            result = SampleResult(counts, in_spikes.sum(axis=1), raster,
                                  in_spikes if record else None, [counts])
        else:
            result = self._run_literal(sample, in_spikes, rule, states, record)
        rule.end_sample(layer, states)
        return result

    def _run_literal(self, sample: Array, in_spikes: Array | None, rule: Rule,
                     states: SampleStates, record: bool) -> SampleResult:
        """The timestep loop exactly as ``docs/numerics.md`` writes it (any configuration):
        every layer's step (3-6) in order, then the rule's (7-8) on the first layer (a rule
        that learns runs in one-layer networks only)."""
        layers, T = self.layers, self.core.timesteps
        learner = rule.learner(layers[0], states)
        layer_states = [layer.reset() for layer in layers]
        counts = [np.zeros(layer.core.n_neurons, np.int64) for layer in layers]
        raster = np.zeros((T, self.n_outputs), bool) if record else None
        constant = None if in_spikes is not None else layers[0].pixel_current(sample)
        last = layer_states[-1]
        v_max: Array = np.full(self.n_outputs, self.layers[-1].num.d.v_min, self.num.dtype)
        for t in range(T):
            spikes = None if in_spikes is None else in_spikes[t]
            first = None
            for layer, state, count in zip(layers, layer_states, counts, strict=True):
                current = constant if spikes is None else layer.current(spikes)
                spikes = layer.respond(state, current, rule.learns)
                count += spikes
                first = spikes if first is None else first
            np.maximum(v_max, last.v, out=v_max)
            if raster is not None:
                raster[t] = spikes
            if in_spikes is not None:
                learner.step(t, in_spikes[t], first)
        input_spikes = (np.zeros(T, np.int64) if in_spikes is None
                        else in_spikes.sum(axis=1))
        return SampleResult(counts[-1], input_spikes, raster,
                            in_spikes if record else None, counts, v_max, last.v.copy())

    def input_spikes(self, sample: Array, key: int) -> Array | None:
        """The input spikes ``(timesteps, n_inputs)`` that ``sample`` with ``key`` feeds the
        first layer (``None`` with current input): the rate encoder's, or the raster."""
        states = SampleStates(self.input_base, self.neuron_base, key, self.core.timesteps)
        return self._input_raster(sample, states.inputs)

    def _input_raster(self, sample: Array, in_states: Array) -> Array | None:
        """The sample's input spikes ``(timesteps, n_inputs)``; ``None`` with current
        input (no spikes: :meth:`.layer.Layer.pixel_current`)."""
        core = self.core
        if core.encoder.kind in ("rate", "current"):
            sample = np.asarray(sample)
            if sample.shape != (core.n_inputs,):
                raise ValueError(f"a pixel sample has shape ({core.n_inputs},), "
                                 f"got {sample.shape}")
            if core.encoder.kind == "current":
                return None
            return spikes_from_states(rate_threshold(core, sample), in_states)
        raster = np.asarray(sample, dtype=bool)
        if raster.shape != (core.timesteps, core.n_inputs):
            raise ValueError(f"a direct-input sample has shape ({core.timesteps}, "
                             f"{core.n_inputs}), got {raster.shape}")
        return raster

    # -- many samples at once, learning off ------------------------------------------------

    def run_batch(self, samples: Array, keys: Array,
                  progress: Callable[[int], None] | None = None,
                  chunk: int = 1024) -> Array:
        """The last layer's spike counts ``(B, n_neurons)`` of ``B`` samples with learning
        off (:meth:`run_outputs`)."""
        counts: Array = self.run_outputs(samples, keys, progress, chunk).counts
        return counts

    def run_outputs(self, samples: Array, keys: Array,
                    progress: Callable[[int], None] | None = None,
                    chunk: int = 1024) -> BatchResult:
        """Spike counts and membranes of ``B`` samples with learning off.

        Bit-identical to ``run_sample(samples[b], keys[b], learn=False)`` for every ``b``;
        vectorized over samples (every layer steps a batch at once: the synaptic current is
        one matrix product per timestep, exact in float64 because every sum stays below
        2**53).
        """
        samples = np.asarray(samples)
        keys = np.asarray(keys)
        if len(samples) != len(keys):
            raise ValueError(f"{len(samples)} samples but {len(keys)} keys")
        parts = []
        for lo in range(0, len(samples), chunk):
            hi = min(lo + chunk, len(samples))
            parts.append(self._run_chunk(samples[lo:hi], keys[lo:hi]))
            if progress is not None:
                progress(hi - lo)
        n, L = self.n_outputs, len(self.layers)
        if not parts:
            return BatchResult(np.zeros((0, n), np.int64), np.zeros((0, n), self.num.dtype),
                               np.zeros((0, n), self.num.dtype), np.zeros((0, L), np.int64))
        return BatchResult(*(np.concatenate(arrays) for arrays in zip(
            *((p.counts, p.v_max, p.v_final, p.layer_spikes) for p in parts), strict=True)))

    def run_observed(self, samples: Array, keys: Array, observe: Observer) -> BatchResult:
        """:meth:`run_outputs` of one batch, calling ``observe(t, l, inputs, state)`` after
        layer ``l`` stepped at timestep ``t``: ``inputs`` is what the layer took (its input
        spikes ``(B, n_inputs)``, or with current input the pixels) and ``state`` its
        :class:`.layer.LayerState` (membranes before and after the threshold test, spikes).
        The BPTT trainer records its forward pass through it."""
        return self._run_chunk(np.asarray(samples), np.asarray(keys), observe)

    def _run_chunk(self, samples: Array, keys: Array,
                   observe: Observer | None = None) -> BatchResult:
        """The literal loop over a batch of samples, learning off (the generators stepped
        one timestep at a time: a batch's jump-table states would not fit in memory)."""
        core = self.core
        layers = self.layers
        kind = core.encoder.kind
        B = len(samples)
        if kind == "direct":
            if samples.shape[1:] != (core.timesteps, core.n_inputs):
                raise ValueError(f"direct-input samples have shape (B, {core.timesteps}, "
                                 f"{core.n_inputs}), got {samples.shape}")
        elif samples.shape[1:] != (core.n_inputs,):
            raise ValueError(f"pixel samples have shape (B, {core.n_inputs}), "
                             f"got {samples.shape}")
        weights = [layer.weights.astype(np.float64) for layer in layers]
        if kind == "rate":
            states = start_states(self.input_base, keys)                 # (B, n_in)
            threshold = rate_threshold(core, samples)
        constant = layers[0].pixel_current(samples, weights[0]) if kind == "current" else None
        layer_states = [layer.reset(B) for layer in layers]
        counts = np.zeros((B, self.n_outputs), np.int64)
        layer_spikes = np.zeros((B, len(layers)), np.int64)
        last = layer_states[-1]
        v_max: Array = np.full((B, self.n_outputs), layers[-1].num.d.v_min, self.num.dtype)
        for t in range(core.timesteps):
            if kind == "rate":
                states = step(states)
                s = spikes_from_states(threshold, states)
            else:
                s = samples[:, t] if kind == "direct" else None
            for index, (layer, state, w) in enumerate(zip(layers, layer_states, weights,
                                                      strict=True)):
                inputs = samples if s is None else s
                current = constant if s is None else layer.current(s, weights=w)
                s = layer.respond(state, current, learn=False)
                if observe is not None:
                    observe(t, index, inputs, state)
                layer_spikes[:, index] += s.sum(axis=1)
            counts += s
            np.maximum(v_max, last.v, out=v_max)
        return BatchResult(counts, v_max, last.v.copy(), layer_spikes)


def _per_layer(name: str, value: Array | Sequence[Array] | None, n_layers: int) -> list[Any]:
    """A per-layer parameter as a list of ``n_layers``: a sequence of numpy arrays (or
    ``None``), one per layer; for one layer also the array itself (any array-like)."""
    if value is None:
        return [None] * n_layers
    per_layer = isinstance(value, list | tuple) and all(
        item is None or isinstance(item, np.ndarray) for item in value)
    if not per_layer and n_layers == 1:
        return [value]
    if not per_layer or len(value) != n_layers:
        raise ValueError(f"{name}: give one array per layer ({n_layers} layers)")
    return list(value)
