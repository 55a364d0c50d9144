"""Tests of the seam between the layer's timestep and a learning rule: which hooks the loops
call, when, with what; a rule other than STDP in both loops; when STDP has an event form."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from plasticore.config import CoreConfig, NeuronConfig, StdpConfig
from plasticore.golden.layer import Layer
from plasticore.golden.lfsr import SampleStates
from plasticore.golden.network import Network
from plasticore.golden.rule import NO_LEARNING, EventLearner, Learner, NoLearning, Rule
from plasticore.golden.stdp import Stdp

Array = Any


def firing_core(**changes: Any) -> CoreConfig:
    """16 rate-coded inputs, 4 neurons, 50 timesteps, easy to fire."""
    base = CoreConfig(
        n_inputs=16, n_neurons=4, n_pe=2, timesteps=50, seed=3,
        neuron=NeuronConfig(v_reset=300, v_th=1000, t_ref=2, theta_plus=13, w_inh=500),
        stdp=StdpConfig(norm=600),
    )
    return base.replace(**changes)


PIXELS = np.array([255, 0, 128, 255] * 4)


class Recorder(Rule):
    """Records every hook call; changes nothing (``learns`` False, so theta stays too)."""

    name = "recorder"

    def __init__(self, event_form: bool) -> None:
        self.event_form = event_form
        self.calls: list[tuple[Any, ...]] = []

    def learner(self, layer: Layer, states: SampleStates) -> Learner:
        calls = self.calls

        class Steps(Learner):
            def step(self, t: int, pre: Array, post: Array) -> None:
                calls.append(("step", t, pre.copy(), post.copy()))

        return Steps()

    def event_learner(self, layer: Layer, states: SampleStates,
                      in_spikes: Array) -> EventLearner | None:
        if not self.event_form:
            return None
        calls = self.calls

        class Events(EventLearner):
            def window(self, t: int, stop: int, current: Array) -> None:
                calls.append(("window", t, stop, current.copy()))

            def commit(self, done: int) -> None:
                calls.append(("commit", done))

            def spike(self, t: int, spikes: Array, fired: Array) -> None:
                calls.append(("spike", t, spikes.copy(), fired.copy()))

        return Events()

    def end_sample(self, layer: Layer, states: SampleStates) -> None:
        self.calls.append(("end",))


def test_literal_loop_calls_step_every_timestep_then_end() -> None:
    """The literal loop: step(t, input spikes at t, output spikes at t) for t = 0..T-1, in
    order, then end_sample once; with learn=False no hook at all."""
    net = Network(firing_core())
    net.event_driven = False
    rule = net.rule = Recorder(event_form=False)
    res = net.run_sample(PIXELS, key=4, learn=True, record=True)
    assert res.raster is not None and res.input_raster is not None
    assert res.counts.sum() > 0
    steps, end = rule.calls[:-1], rule.calls[-1]
    assert end == ("end",)
    assert [c[1] for c in steps] == list(range(50))
    for _, t, pre, post in steps:
        assert np.array_equal(pre, res.input_raster[t])
        assert np.array_equal(post, res.raster[t])
    rule.calls.clear()
    net.run_sample(PIXELS, key=4, learn=False)
    assert rule.calls == []


def test_event_loop_hooks_tile_the_sample() -> None:
    """The event-driven loop: windows of at most 32 timesteps, each starting where the
    previous one ended; commit(done) covers the timesteps without an output spike, then
    spike(t) the timestep with one (its spikes and the indices that fired), and the next
    window starts after it; together they cover 0..T-1 once.  The window's currents are
    the layer's step-3 currents (weights frozen).  The raster equals the literal loop's."""
    core = firing_core()
    net = Network(core)
    rule = net.rule = Recorder(event_form=True)
    res = net.run_sample(PIXELS, key=4, learn=True, record=True)
    assert res.raster is not None and res.input_raster is not None
    cursor, spikes_seen = 0, 0
    calls = iter(rule.calls)
    for call in calls:
        if call == ("end",):
            break
        kind, t, stop, current = call
        assert kind == "window" and t == cursor and t < stop <= min(t + 32, core.timesteps)
        layer = net.layers[0]
        for k in range(stop - t):
            assert np.array_equal(current[k], layer.current(res.input_raster[t + k]))
        kind, done = next(calls)
        assert kind == "commit" and 0 <= done <= stop - t
        assert not res.raster[t:t + done].any()
        cursor = t + done
        if cursor < stop:
            kind, tt, spikes, fired = next(calls)
            assert (kind, tt) == ("spike", cursor)
            assert np.array_equal(spikes, res.raster[tt])
            assert fired.tolist() == np.flatnonzero(res.raster[tt]).tolist()
            cursor, spikes_seen = cursor + 1, spikes_seen + 1
    assert cursor == core.timesteps and next(calls, None) is None
    assert spikes_seen == int(res.raster.any(axis=1).sum()) > 0
    literal = Network(core)
    literal.event_driven = False
    literal.rule = Recorder(event_form=False)
    again = literal.run_sample(PIXELS, key=4, learn=True, record=True)
    assert again.raster is not None and np.array_equal(again.raster, res.raster)


class Hebb(Rule):
    """A rule that is not STDP: at a timestep with output spikes, every synapse from an input
    that spiked then to a neuron that fired gains one LSB (clipped to w_max).  Between
    output spikes nothing changes, so its event form needs only the spike hook."""

    name = "hebb"
    learns = True

    @staticmethod
    def _update(layer: Layer, pre: Array, post: Array) -> None:
        block = np.ix_(np.flatnonzero(pre), np.flatnonzero(post))
        layer.weights[block] = np.minimum(layer.weights[block] + 1, layer.core.derived.w_max)

    def learner(self, layer: Layer, states: SampleStates) -> Learner:
        update = self._update

        class Steps(Learner):
            def step(self, t: int, pre: Array, post: Array) -> None:
                update(layer, pre, post)

        return Steps()

    def event_learner(self, layer: Layer, states: SampleStates,
                      in_spikes: Array) -> EventLearner | None:
        update = self._update

        class Events(EventLearner):
            def spike(self, t: int, spikes: Array, fired: Array) -> None:
                update(layer, in_spikes[t], spikes)

        return Events()


@pytest.mark.parametrize("theta_decay", [0, 4])
def test_another_rule_runs_in_both_loops(theta_decay: int) -> None:
    """The Hebbian rule above through the network: the event-driven loop and the literal one
    give the same rasters, weights and thresholds over several samples, and the weights do
    change (no normalization: that is STDP's end_sample, not this rule's)."""
    core = firing_core(**{"neuron.theta_decay_shift": theta_decay})
    nets = [Network(core), Network(core)]
    nets[1].event_driven = False
    for net in nets:
        net.rule = Hebb()
    w0 = nets[0].weights.copy()
    for key in range(4):
        pixels = np.roll(PIXELS, key)
        a, b = (net.run_sample(pixels, key, learn=True, record=True) for net in nets)
        assert np.array_equal(a.raster, b.raster)
        assert np.array_equal(nets[0].weights, nets[1].weights)
        assert np.array_equal(nets[0].theta, nets[1].theta)
    # each output spike added one LSB per input that spiked with it (below w_max = 255)
    assert (nets[0].weights >= w0).all() and (nets[0].weights > w0).any()
    assert (nets[0].theta > 0).any()


def test_network_rule() -> None:
    """STDP when stdp.learn is on; the inference rule otherwise, which learns nothing."""
    assert isinstance(Network(firing_core()).rule, Stdp)
    off = Network(firing_core(**{"stdp.learn": False}))
    assert off.rule is NO_LEARNING and isinstance(off.rule, NoLearning)
    assert (off.rule.name, off.rule.learns) == ("none", False)
    w, theta = off.weights.copy(), off.theta.copy()
    assert off.run_sample(PIXELS, key=1, learn=True).counts.sum() > 0
    assert np.array_equal(off.weights, w) and np.array_equal(off.theta, theta)


@pytest.mark.parametrize("changes, event_form", [
    ({}, True),
    ({"stdp.potentiation_only": True, "stdp.soft_bound": True}, True),
    ({"stdp.rounding": "floor", "stdp.norm_rounding": "stochastic"}, True),
    ({"stdp.trace_mode": "add"}, False),
    ({"stdp.update_every": 2}, False),
    ({"stdp.soft_bound": True}, False),
])
def test_stdp_event_form(changes: dict[str, Any], event_form: bool) -> None:
    """STDP's event-driven form covers set-mode traces, update_every 1 and no soft-bound
    depression, in integer arithmetic; the float reference always steps literally."""
    core = firing_core(**changes)
    for arithmetic, expect in (("integer", event_form), ("float", False)):
        net = Network(core, arithmetic)  # type: ignore[arg-type]
        states = SampleStates(net.input_base, net.neuron_base, 0, core.timesteps)
        raster = np.zeros((core.timesteps, core.n_inputs), bool)
        got = Stdp().event_learner(net.layers[0], states, raster)
        assert (got is not None) == expect, arithmetic
