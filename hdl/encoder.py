"""Rate encoder processing element (``RateEncoder``): a pixel and its generator in, a spike out.

Input ``j`` spikes at timestep ``t`` when ``lo16(g_j[t]) < (pixel_j * rate_mult) >>
pixel_bits`` (``docs/numerics.md``, "The rate encoder"), with ``g_j[t]`` the input's
xorshift32 generator state after the timestep's step.  The unit steps the generator (with
the per-sample reseed of ``hdl/lfsr.py``) and compares in one pass, bit for bit as
``plasticore.golden.encoder.spikes_from_states(rate_threshold(core, pixel), state)``; it
also hands out the state's high half, ``golden.encoder.rounding_bits``, the stochastic
rounding draw the core passes on to the STDP unit.
"""

from __future__ import annotations

from amaranth import Const, Module, Signal, unsigned
from amaranth.lib import data

from ..config import ENCODER_RAND_BITS, ROUNDING_RAND_BITS, CoreConfig
from .lfsr import STATE_BITS, generator_stages
from .unit import StreamUnit

__all__ = [
    "ENCODER_LATENCY", "encoder_input_layout", "encoder_output_layout", "RateEncoder"]

#: Clock cycles from a pixel into :class:`RateEncoder` to its spike (read by the cycle model).
ENCODER_LATENCY = 3


def encoder_input_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the rate encoder's input stream, one input and one timestep per token.

    Fields (LSB first): ``pixel`` the input's intensity, unsigned ``encoder.pixel_bits``
    bits; ``state`` the input's generator state, unsigned 32 bits (its base state when
    ``reseed``); ``key`` the sample key, unsigned 32 bits (used only when ``reseed``);
    ``reseed`` 1 bit, restart the generator from ``base = state`` and ``key`` before the step
    (a sample's first timestep).
    """
    return data.StructLayout({
        "pixel": unsigned(core.encoder.pixel_bits),
        "state": unsigned(STATE_BITS),
        "key": unsigned(STATE_BITS),
        "reseed": 1,
    })


def encoder_output_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the rate encoder's output stream.

    Fields (LSB first): ``spike`` 1 bit, the input spikes this timestep; ``state`` the
    generator's next state, unsigned 32 bits (store it for the next timestep); ``rand_hi``
    the state's high 16 bits, unsigned 16 bits, the stochastic-rounding draw.
    """
    return data.StructLayout({
        "spike": 1,
        "state": unsigned(STATE_BITS),
        "rand_hi": unsigned(ROUNDING_RAND_BITS),
    })


class RateEncoder(StreamUnit):
    """Pipelined Bernoulli rate encoder with its xorshift32 generator step, one token per
    clock cycle.

    For each input token the unit computes

    * the generator's next state ``g = step(restart(state, key) if reseed else state)``
      (as :class:`~plasticore.hdl.lfsr.LFSR`, with the same two stages,
      :func:`~plasticore.hdl.lfsr.generator_stages`);
    * the spike threshold ``(pixel * rate_mult) >> pixel_bits``: the product is exact,
      ``pixel_bits + derived.rate_mult_bits`` unsigned bits, the threshold
      ``derived.rate_mult_bits`` bits, in units of the 16-bit draw (``2**16`` = always);
    * ``spike = lo16(g) < threshold``, ``rand_hi = hi16(g)``.

    A zero pixel never spikes; a full-scale pixel spikes with probability ``max_rate``.

    Pipeline: three register stages.

    1. the key multiply ``key * 0x9E3779B9 mod 2**32`` and the threshold multiply
       ``pixel * rate_mult`` (both registered: DSP product registers);
    2. the start state (on reseed) and the xorshift32 step (the new state registered);
    3. the comparison, into the output register.

    So :attr:`latency` is 3.  Backpressure is a global stall: every stage advances only
    when the output register is empty or being read (``advance = ~o.valid | o.ready``,
    which is also ``i.ready``).  A synchronous reset empties the pipeline.

    Parameters
    ----------
    core : CoreConfig
        ``encoder.pixel_bits`` and ``derived.rate_mult`` set the threshold; nothing else is
        used.  With ``encoder.kind = "direct"`` the spike output is simply not used (the
        generators still run for stochastic rounding).

    Members
    -------
    i : In(stream.Signature(encoder_input_layout(core)))
        Pixel, generator state (or base state), sample key and reseed flag of one input.
    o : Out(stream.Signature(encoder_output_layout(core)))
        The input's spike, its generator's next state and the rounding draw, in input order.
    """

    def __init__(self, core: CoreConfig) -> None:
        super().__init__(core, encoder_input_layout, encoder_output_layout)

    @property
    def latency(self) -> int:
        """Clock cycles from an input transfer to its output being valid, with no stalls.

        A token accepted on the rising edge that ends cycle ``c`` is on ``o`` with
        ``o.valid`` during cycle ``c + latency``.
        """
        return ENCODER_LATENCY

    def elaborate(self, platform) -> Module:
        m = Module()
        pixel_bits = self._core.encoder.pixel_bits
        d = self._core.derived
        rate_mult = Const(d.rate_mult, unsigned(d.rate_mult_bits))
        token = self.i.payload

        # Global stall: the whole pipeline moves one step when the output can move.
        advance = self.advance(m)

        # -- Stage 1: spread the sample key; spike threshold of the pixel (both multiplies) --
        rate = Signal(unsigned(pixel_bits + d.rate_mult_bits))  # pixel * rate_mult, exact
        m.d.comb += rate.eq(token.pixel * rate_mult)

        s1_valid, next_state = generator_stages(m, advance, self.i.valid, token)
        s1_threshold = Signal(unsigned(d.rate_mult_bits), reset_less=True)
        with m.If(advance):
            m.d.sync += s1_threshold.eq(rate >> pixel_bits)

        # -- Stage 2: start state (on reseed) and one xorshift32 step ------------------------
        s2_valid = Signal()
        s2_state = Signal(unsigned(STATE_BITS), reset_less=True)
        s2_threshold = Signal(unsigned(d.rate_mult_bits), reset_less=True)
        with m.If(advance):
            m.d.sync += [
                s2_valid.eq(s1_valid),
                s2_state.eq(next_state),
                s2_threshold.eq(s1_threshold),
            ]

        # -- Stage 3: the spike draw (low half) and the rounding draw (high half); output ----
        spike_draw = s2_state[:ENCODER_RAND_BITS]
        rounding_draw = s2_state[STATE_BITS - ROUNDING_RAND_BITS:]
        out = self.o.payload
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(s2_valid),
                out.spike.eq(spike_draw < s2_threshold),
                out.state.eq(s2_state),
                out.rand_hi.eq(rounding_draw),
            ]

        return m
