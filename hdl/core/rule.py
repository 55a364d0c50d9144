"""The seam a learning rule's passes plug into: what the core gives every one of them."""

from __future__ import annotations

from typing import Any

from amaranth import unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig, bits_for
from ..lfsr import STATE_BITS
from .layouts import neuron_word_layout, weight_word_layout
from .weights import read_layout, write_layout

__all__ = ["rule_pass_members"]


def rule_pass_members(core: CoreConfig) -> dict[str, Any]:
    """Signature members of a learning rule's pass (``StdpLearnPass``, ``Normalizer``; a
    future rule's passes the same): a start/done handshake, and its requests to the stores.

    ``start`` : In(1), ``done`` : Out(1)
        Run the pass; ``done`` high in its last cycle.
    ``weights_read``, ``weights_write`` : Out  /  ``weights`` : In
        The weight store: a word by flat address ``j * W + k``; the word read, a cycle later.
    ``store_read`` : Out  /  ``stored`` : In
        The neuron store: neuron word ``k``, a cycle later.
    ``lookup`` : Out  /  ``lookup_state``, ``lookup_trace`` : In
        The encode pass's generator states and pre traces of an input word, a cycle later.
    """
    E, W = core.encoder.lanes, core.derived.neurons_per_pe
    flat = bits_for(core.n_inputs * W - 1)
    return {
        "start": In(1),
        "done": Out(1),
        "weights_read": Out(read_layout(flat)),
        "weights": In(weight_word_layout(core)),
        "weights_write": Out(write_layout(flat, weight_word_layout(core))),
        "store_read": Out(read_layout(bits_for(W - 1))),
        "stored": In(neuron_word_layout(core)),
        "lookup": Out(read_layout(bits_for(core.derived.input_words - 1))),
        "lookup_state": In(data.ArrayLayout(unsigned(STATE_BITS), E)),
        "lookup_trace": In(data.ArrayLayout(unsigned(core.widths.trace), E)),
    }
