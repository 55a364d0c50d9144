"""The network: rate-coded inputs into a list of layers, plus one learning rule.

:class:`Network` holds the layers (:class:`.layer.Layer`: weights, adaptive thresholds; one
today) and the rule (:class:`.stdp.Stdp`, or :data:`.rule.NO_LEARNING` with ``stdp.learn =
false``), and runs samples: :meth:`Network.run_sample` one at a time with learning on or
off (this is what the RTL core does), :meth:`Network.run_batch` many at once with learning
off (inference, vectorized over samples; bit-identical to running them one by one).  The
timestep is the layer's step (:meth:`.layer.Layer.step`) followed by the rule's
(:class:`.rule.Learner`), ``docs/numerics.md`` section "One timestep".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..config import CoreConfig
from .arith import Arithmetic, FloatArithmetic, IntegerArithmetic
from .encoder import rate_threshold, spikes_from_states
from .events import run_events
from .layer import Layer
from .lfsr import STREAM_INPUT, STREAM_NEURON, SampleStates, base_states, start_states, step
from .rule import NO_LEARNING, Rule
from .stdp import Stdp

__all__ = ["Network", "SampleResult", "initial_weights", "WEIGHT_INIT_STREAM"]

Array = Any

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
        Output spikes per neuron over the sample.
    input_spikes : (timesteps,) int64
        Input spikes per timestep.
    raster : (timesteps, n_neurons) bool or None
        Output spikes per timestep (``record=True``).
    input_raster : (timesteps, n_inputs) bool or None
        Input spikes per timestep (``record=True``).
    """

    counts: Array
    input_spikes: Array
    raster: Array | None = None
    input_raster: Array | None = None


class Network:
    """Layers plus a learning rule, and the loops that run a sample through them.

    Parameters
    ----------
    core : CoreConfig
    arithmetic : "integer" (the fixed-point specification) or "float" (float64 reference)
    weights : (n_inputs, n_neurons) array, default :func:`initial_weights`
    theta : (n_neurons,) array of adaptive thresholds, default zeros

    Members
    -------
    layers : list of Layer
        One layer today.
    rule : Rule
        :class:`.stdp.Stdp`, or :data:`.rule.NO_LEARNING` when ``stdp.learn`` is off.
    weights, theta : arrays
        The first layer's (read and assigned through to it).
    input_base, neuron_base : uint32 arrays
        The generators' base states (``docs/numerics.md``, "Generators").
    event_driven : bool
        Use the rule's event-driven form when it has one (default); ``False`` runs the
        literal loop, which tests compare it with.
    """

    def __init__(self, core: CoreConfig, arithmetic: Literal["integer", "float"] = "integer",
                 weights: Array | None = None, theta: Array | None = None):
        policies: dict[str, Callable[[CoreConfig], Arithmetic]] = {
            "integer": IntegerArithmetic, "float": FloatArithmetic}
        if arithmetic not in policies:
            raise ValueError(f"arithmetic must be 'integer' or 'float', got {arithmetic!r}")
        self.core = core
        num = policies[arithmetic](core)
        w = initial_weights(core) if weights is None else weights
        self.layers = [Layer(core, num, w, theta)]
        self.rule: Rule = Stdp() if core.stdp.learn else NO_LEARNING
        self.input_base = base_states(core.seed, STREAM_INPUT, core.n_inputs)
        self.neuron_base = base_states(core.seed, STREAM_NEURON, core.n_neurons)
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

    # -- one sample, learning on or off (the order the RTL follows) ------------------------

    def run_sample(self, sample: Array, key: int, learn: bool = True,
                   record: bool = False) -> SampleResult:
        """Run one sample of ``timesteps`` timesteps from the per-sample reset state.

        ``sample`` is a pixel vector ``(n_inputs,)`` for the rate encoder or a spike raster
        ``(timesteps, n_inputs)`` for direct input.  ``key`` reseeds every generator.  With
        ``learn`` the rule runs (it learns nothing when ``stdp.learn`` is off).

        Two loops implement the same timestep: :meth:`_run_literal` follows
        ``docs/numerics.md`` literally and handles every configuration;
        :func:`.events.run_events` (integer arithmetic, when the rule has an event-driven
        form: always with learning off, and for the STDP defaults) is organised around
        output spikes and skips the work that is zero by definition, which makes training
        several times faster.  Tests hold the two to identical results.
        """
        rule = self.rule if learn else NO_LEARNING
        layer = self.layers[0]
        states = SampleStates(self.input_base, self.neuron_base, key, self.core.timesteps)
        in_spikes = self._input_raster(sample, states.inputs)
        fast = (rule.event_learner(layer, states, in_spikes)
                if self.event_driven and layer.num.dtype == np.int64 else None)
        if fast is not None:
            counts, raster = run_events(layer, in_spikes, fast, rule.learns, record)
        else:
            counts, raster = self._run_literal(layer, in_spikes, rule, states, record)
        rule.end_sample(layer, states)
        return SampleResult(counts, in_spikes.sum(axis=1), raster,
                            in_spikes if record else None)

    @staticmethod
    def _run_literal(layer: Layer, in_spikes: Array, rule: Rule, states: SampleStates,
                     record: bool) -> tuple[Array, Array | None]:
        """The timestep loop exactly as ``docs/numerics.md`` writes it (any configuration):
        the layer's step (3-6), then the rule's (7-8)."""
        T = len(in_spikes)
        learner = rule.learner(layer, states)
        state = layer.reset()
        counts = np.zeros(layer.core.n_neurons, np.int64)
        raster = np.zeros((T, layer.core.n_neurons), bool) if record else None
        for t in range(T):
            spikes = layer.step(state, in_spikes[t], rule.learns)
            counts += spikes
            if raster is not None:
                raster[t] = spikes
            learner.step(t, in_spikes[t], spikes)
        return counts, raster

    def _input_raster(self, sample: Array, in_states: Array) -> Array:
        core = self.core
        if core.encoder.kind == "rate":
            sample = np.asarray(sample)
            if sample.shape != (core.n_inputs,):
                raise ValueError(f"a rate-coded sample has shape ({core.n_inputs},), "
                                 f"got {sample.shape}")
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
        """Spike counts ``(B, n_neurons)`` of ``B`` samples with learning off.

        Bit-identical to ``run_sample(samples[b], keys[b], learn=False).counts`` for every
        ``b``; vectorized over samples (the layer steps a batch at once: the synaptic
        current is one matrix product per timestep, exact in float64 because every sum
        stays below 2**53).
        """
        samples = np.asarray(samples)
        keys = np.asarray(keys)
        if len(samples) != len(keys):
            raise ValueError(f"{len(samples)} samples but {len(keys)} keys")
        out = np.zeros((len(samples), self.core.n_neurons), np.int64)
        for lo in range(0, len(samples), chunk):
            hi = min(lo + chunk, len(samples))
            out[lo:hi] = self._run_chunk(samples[lo:hi], keys[lo:hi])
            if progress is not None:
                progress(hi - lo)
        return out

    def _run_chunk(self, samples: Array, keys: Array) -> Array:
        """The literal loop over a batch of samples, learning off (the generators stepped
        one timestep at a time: a batch's jump-table states would not fit in memory)."""
        core = self.core
        layer = self.layers[0]
        states = start_states(self.input_base, keys)                     # (B, n_in)
        direct = core.encoder.kind == "direct"
        if direct:
            if samples.shape[1:] != (core.timesteps, core.n_inputs):
                raise ValueError(f"direct-input samples have shape (B, {core.timesteps}, "
                                 f"{core.n_inputs}), got {samples.shape}")
        else:
            if samples.shape[1:] != (core.n_inputs,):
                raise ValueError(f"rate-coded samples have shape (B, {core.n_inputs}), "
                                 f"got {samples.shape}")
            threshold = rate_threshold(core, samples)
        w = layer.weights.astype(np.float64)
        state = layer.reset(len(samples))
        counts = np.zeros((len(samples), core.n_neurons), np.int64)
        for t in range(core.timesteps):
            states = step(states)
            s = samples[:, t] if direct else spikes_from_states(threshold, states)
            counts += layer.step(state, s, learn=False, weights=w)
        return counts
