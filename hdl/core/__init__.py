"""The network core (``SnnCore``): a time-multiplexed spiking layer that learns on chip.

One sample at a time, the core runs ``timesteps`` timesteps of ``docs/numerics.md`` over
``n_inputs`` inputs (rate-coded pixels or a direct spike raster) and ``n_neurons`` LIF
neurons, bit for bit as ``plasticore.golden.network.Network.run_sample``, and (with
learning) updates its weights and adaptive thresholds in place.  The cycle count of each
pass is ``plasticore.hdl.cycles``, which tests hold to the RTL.

The core is a set of components (``docs/architecture.md``, "The core"):

- stores: :class:`~.weights.WeightStore` (the weights, in row banks),
  :class:`~.neuron_store.NeuronStore` (every neuron's state), :class:`~.rows.RowList`
  (event lists of the inputs that spiked);
- passes, each with a start/done handshake: :class:`~.encode.EncodePass` (pixels through
  the encoders, or spikes from upstream, into the row lists), :class:`~.neurons.NeuronPass`
  (currents and LIF updates), the learning rule's passes :class:`~.learn.StdpLearnPass`
  and :class:`~.normalize.Normalizer`, :class:`~.readout.CountReadout`;
- :class:`~.access.AccessPort` (weights and thresholds in and out between samples);
- with the LUT forward engine (``forward = "lut"``): :class:`~.groups.GroupGather` (input
  spikes into groups and patterns, for a group list per bank), :class:`~.tables.TableStore`
  (the subset-sum tables, in the weight store's place) and :class:`~.build.TableBuild` (the
  tables rebuilt after a weight write, before the next sample);
- :class:`~.sequencer.Sequencer` (the timestep order), and :class:`~.top.SnnCore`, which
  instantiates and wires them.

A core that does not learn (``stdp.learn`` false) instantiates none of the learning parts:
no learn pass or normalizer, no trace units, no neuron generators; input generators only
for the rate encoder (``docs/architecture.md``, "A core that does not learn").
"""

from .layouts import (
    access_bits,
    access_layout,
    command_layout,
    count_layout,
    neuron_layout,
    pack_words,
    pixel_word_layout,
    spike_layout,
    unpack_words,
)
from .support import check_core, check_network
from .top import SnnCore

__all__ = [
    "SnnCore",
    "check_core",
    "check_network",
    "command_layout",
    "pixel_word_layout",
    "spike_layout",
    "count_layout",
    "access_layout",
    "access_bits",
    "neuron_layout",
    "pack_words",
    "unpack_words",
]
