"""The core's stream payloads and stored words, and how host-side values pack into them."""

from __future__ import annotations

from typing import Any

import numpy as np
from amaranth import signed, unsigned
from amaranth.lib import data

from ...config import CoreConfig, bits_for
from ..lfsr import STATE_BITS
from ..lif import current_shape, lif_output_layout

__all__ = [
    "command_layout",
    "pixel_word_layout",
    "input_stream",
    "spike_layout",
    "count_layout",
    "membrane_layout",
    "access_layout",
    "access_bits",
    "neuron_layout",
    "weight_word_layout",
    "table_word_layout",
    "bank_word_layout",
    "neuron_word_layout",
    "bias_word_layout",
    "current_word_layout",
    "pack_words",
    "unpack_words",
]


def command_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the command stream that starts a sample.

    Fields (LSB first): ``key`` the sample key, unsigned 32 bits (reseeds every generator);
    ``learn`` 1 bit, learning on for this sample (ignored when ``stdp.learn`` is off).
    """
    return data.StructLayout({"key": unsigned(STATE_BITS), "learn": 1})


def spike_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the output spike stream: one token per neuron word with a spike.

    Fields (LSB first): ``timestep`` unsigned ``derived.timestep_bits``; ``word`` the neuron
    word ``k``, unsigned; ``mask`` ``n_pe`` bits, bit ``p`` set when neuron ``k * n_pe + p``
    spiked in that timestep.  Words come out in increasing timestep, then word order.
    """
    return data.StructLayout({
        "timestep": unsigned(core.derived.timestep_bits),
        "word": unsigned(bits_for(core.derived.neurons_per_pe - 1)),
        "mask": unsigned(core.n_pe),
    })


def pixel_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """Payload of the pixel stream: ``encoder.lanes`` pixels of ``encoder.pixel_bits``,
    lane 0 at the LSB (the word the encode pass reads in one cycle)."""
    return data.ArrayLayout(unsigned(core.encoder.pixel_bits), core.encoder.lanes)


def input_stream(core: CoreConfig) -> tuple[str, Any]:
    """The input stream of a core (and of the encode or current pass that takes it): its
    name and payload, ``("pixels", pixel_word_layout(core))`` for the rate encoder and for
    current input, else ``("raster", unsigned(n_inputs))``: a timestep's input spikes,
    input ``j`` at bit ``j``."""
    if core.encoder.kind in ("rate", "current"):
        return "pixels", pixel_word_layout(core)
    return "raster", unsigned(core.n_inputs)


def count_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the per-sample count stream: one token per neuron, in neuron order.

    Fields (LSB first): ``neuron`` unsigned; ``count`` spikes over the sample, unsigned
    ``derived.count_bits``; ``last`` 1 bit on the last neuron of the sample.
    """
    return data.StructLayout({
        "neuron": unsigned(bits_for(core.n_neurons - 1)),
        "count": unsigned(core.derived.count_bits),
        "last": 1,
    })


def membrane_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the membrane readout stream (``classify.readout`` ``membrane_max`` or
    ``membrane_final`` only): one token per neuron word, in word order, after the counts.

    Fields (LSB first): ``word`` the neuron word ``k``, unsigned; ``v`` ``n_pe`` membranes,
    lane ``p`` neuron ``k * n_pe + p``, each signed ``widths.membrane`` bits (two's
    complement, membrane LSBs); ``last`` 1 bit on word ``W - 1``.
    """
    return data.StructLayout({
        "word": unsigned(bits_for(core.derived.neurons_per_pe - 1)),
        "v": data.ArrayLayout(signed(core.widths.membrane), core.n_pe),
        "last": 1,
    })


def access_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the weight, threshold and bias access stream (served only between samples).

    Fields (LSB first): ``write`` 1 bit (0: read, answered on ``readback``); ``theta`` 1 bit
    (0: weight word ``addr = j * W + k``; 1: threshold word ``addr = k``); ``addr``
    unsigned; ``data`` the word to write, ``n_pe`` lanes from lane 0 at the LSB, each
    ``widths.weight`` (weights; two's complement with ``widths.weight_signed``),
    ``widths.theta`` (thresholds) or ``widths.bias`` (biases, two's complement) bits
    (:func:`pack_words`); with ``widths.bias > 0`` only, ``bias`` 1 bit, the MSB: bias word
    ``addr = k`` (``theta`` ignored).
    """
    return data.StructLayout({
        "write": 1,
        "theta": 1,
        "addr": unsigned(bits_for(core.n_inputs * core.derived.neurons_per_pe - 1)),
        "data": unsigned(access_bits(core)),
        **({"bias": 1} if core.widths.bias else {}),
    })


def access_bits(core: CoreConfig) -> int:
    """Width of an access word (and of a readback): ``n_pe`` lanes of the widest of a
    weight, a threshold and a bias."""
    return core.n_pe * max(core.widths.weight, core.widths.theta, core.widths.bias)


def neuron_layout(core: CoreConfig) -> data.StructLayout:
    """State of one neuron lane in the neuron-word memory (fields LSB first): the LIF unit's
    output (``lif_output_layout``: membrane, refractory count, threshold, spike), the spike
    ``count``, and for a core that learns (``stdp.learn``) what STDP reads of a neuron:
    ``post_seen`` (a spike since the last update), ``x_post`` (the post trace, unsigned
    ``widths.trace``) and ``state`` (its generator, unsigned 32 bits).  A core that does not
    learn keeps none of these three (``docs/numerics.md``: with learning off no trace or
    neuron generator is ever read)."""
    d = core.derived
    if not core.stdp.learn:
        return data.StructLayout({
            **{name: field.shape for name, field in lif_output_layout(core)},
            "count": unsigned(d.count_bits),
        })
    return data.StructLayout({
        **{name: field.shape for name, field in lif_output_layout(core)},
        "post_seen": 1,                 # a spike since the last STDP update (update_every)
        "count": unsigned(d.count_bits),
        "x_post": unsigned(core.widths.trace),
        "state": unsigned(STATE_BITS),
    })


def weight_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """A weight word: the ``n_pe`` weights from one input to one neuron word, each
    ``widths.weight`` bits, signed with ``widths.weight_signed``."""
    shape = signed if core.widths.weight_signed else unsigned
    return data.ArrayLayout(shape(core.widths.weight), core.n_pe)


def table_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """A word of the LUT engine's table memory (``forward = "lut"``): ``n_pe`` entries, each
    a sum of up to ``lut_group`` weights in ``derived.lut_sum_bits``, signed with
    ``widths.weight_signed``."""
    shape = signed if core.widths.weight_signed else unsigned
    return data.ArrayLayout(shape(core.derived.lut_sum_bits), core.n_pe)


def bank_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """What the neuron pass adds per bank and token: a weight word, or with the LUT engine
    a table word."""
    return table_word_layout(core) if core.forward == "lut" else weight_word_layout(core)


def neuron_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """A neuron word: the state of ``n_pe`` neurons (:func:`neuron_layout`)."""
    return data.ArrayLayout(neuron_layout(core), core.n_pe)


def bias_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """A bias word: the biases of ``n_pe`` neurons, signed ``widths.bias`` bits each, in
    membrane LSBs (only with ``widths.bias > 0``)."""
    return data.ArrayLayout(signed(core.widths.bias), core.n_pe)


def current_word_layout(core: CoreConfig) -> data.ArrayLayout:
    """A word of synaptic currents: ``n_pe`` neurons' currents in membrane LSBs,
    ``derived.current_bits`` each, signed when ``derived.current_min < 0`` (the LIF unit's
    ``current``); the current pass's pixel currents (current input only)."""
    return data.ArrayLayout(current_shape(core), core.n_pe)


def pack_words(values: Any, lanes: int, bits: int) -> list[int]:
    """Pack the last axis of ``values`` (length a multiple of ``lanes``) into words of
    ``lanes`` fields of ``bits``, lane 0 at the LSB, row-major over the other axes (the
    ``data`` of :func:`access_layout`, a pixel word, a raster word).  A negative value is
    packed in two's complement; every value must lie in ``-2**(bits-1) .. 2**bits - 1``."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1, lanes)
    if flat.size and (flat.min() < -(1 << (bits - 1)) or flat.max() >= 1 << bits):
        raise ValueError(f"values {flat.min()}..{flat.max()} do not fit {bits}-bit fields")
    mask = (1 << bits) - 1
    shifts = np.arange(lanes, dtype=np.int64) * bits
    return [sum((int(v) & mask) << int(s) for v, s in zip(row, shifts, strict=True))
            for row in flat]


def unpack_words(words: list[int], lanes: int, bits: int, signed: bool = False) -> Any:
    """Inverse of :func:`pack_words`: an ``(len(words) * lanes,)`` int64 array; with
    ``signed`` each field is two's complement (``-2**(bits-1) .. 2**(bits-1) - 1``)."""
    mask = (1 << bits) - 1
    fields = [(w >> (p * bits)) & mask for w in words for p in range(lanes)]
    if signed:
        fields = [f - (1 << bits) if f >> (bits - 1) else f for f in fields]
    return np.array(fields, dtype=np.int64)
