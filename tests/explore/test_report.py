"""The report's membrane traces: the golden layer step replayed on a sample's raster."""

from __future__ import annotations

import numpy as np

from plasticore.config import load_config
from plasticore.explore.report import membrane_traces
from plasticore.golden.datasets import load_dataset
from plasticore.golden.network import Network


def test_membrane_traces_follow_the_golden_model_with_a_current_shift() -> None:
    """With one weight LSB worth 16 membrane LSBs (``current_shift = 4``) the traces must
    scale the current as the model does (a replay that left the shift out spiked at other
    timesteps and raised); the first timestep's membrane is, by hand, the shifted weight sum
    of the inputs that spiked (from rest at 0, nothing to leak or inhibit), or the reset
    value for a neuron that fired."""
    core = load_config("digits").core.replace(
        n_neurons=8, n_pe=2, timesteps=20,
        **{"widths.current_shift": 4, "neuron.v_th": 3000, "neuron.v_reset": 100,
           "neuron.w_inh": 200})
    net = Network(core)
    image = load_dataset("digits", None, 8)[0].images[0]
    v, input_raster, raster = membrane_traces(net, image, key=7)
    assert v.shape == (20, 8) and raster.sum() > 0
    expected = net.weights[input_raster[0]].sum(axis=0) << 4
    expected = np.where(raster[0], core.neuron.v_reset, expected)
    assert np.array_equal(v[0], expected)
