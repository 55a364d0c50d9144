"""xorshift32 generator processing element (``LFSR``) and the generator arithmetic it shares
with ``RateEncoder``.

The generators are those of ``docs/numerics.md`` ("Generators") and
``plasticore.golden.lfsr``: Marsaglia's xorshift32 step on a 32-bit word (shift amounts
``XORSHIFT_SHIFTS``), and a per-sample reseed ``(base + key * KEY_MULTIPLIER) mod 2**32``
with 0 replaced by 1.  The constants are imported from the golden model, so there is one
definition of each.

The core keeps one generator state per input and per neuron and streams it through this
unit once per timestep; on a sample's first timestep it sends the generator's base state
(from its ROM) with ``reseed`` set, so the unit restarts the generator from the sample's key
before stepping it.

Pure functions (Amaranth expressions, no state):

- :func:`xorshift32`: one step;
- :func:`spread_key`: ``(key * KEY_MULTIPLIER) mod 2**32``, the multiply of the reseed;
- :func:`restart`: ``(base + spread) mod 2**32``, 0 replaced by 1;
- :func:`reseed`: ``restart(base, spread_key(key))``, the whole reseed in one expression.

The pipelined units register :func:`spread_key` (the multiply: DSP product register) and
apply :func:`restart` and :func:`xorshift32` in the next stage; :func:`generator_stages`
builds both stages for ``LFSR`` and ``RateEncoder``.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data

from ..config import ENCODER_RAND_BITS, ROUNDING_RAND_BITS, CoreConfig
from ..golden.lfsr import KEY_MULTIPLIER, STATE_BITS, XORSHIFT_SHIFTS
from .unit import StreamUnit

__all__ = [
    "LFSR_LATENCY",
    "STATE_BITS",
    "xorshift32",
    "spread_key",
    "restart",
    "reseed",
    "generator_stages",
    "lfsr_input_layout",
    "lfsr_output_layout",
    "LFSR",
]

#: Clock cycles from a state into :class:`LFSR` to the stepped state (the cycle model reads it).
LFSR_LATENCY = 2

assert ENCODER_RAND_BITS + ROUNDING_RAND_BITS == STATE_BITS


def _word(value, what: str) -> Value:
    """``value`` as an unsigned :data:`STATE_BITS`-bit value (narrower ones zero-extended)."""
    value = Value.cast(value)
    shape = value.shape()
    if shape.signed or shape.width > STATE_BITS:
        raise ValueError(f"{what} must be unsigned and at most {STATE_BITS} bits wide, "
                         f"not {shape!r}")
    if shape.width < STATE_BITS:
        return Cat(value, Const(0, STATE_BITS - shape.width))
    return value


def xorshift32(value) -> Value:
    """One xorshift32 step of a 32-bit generator state, as golden ``lfsr.step``.

    ``x ^= x << 13; x ^= x >> 17; x ^= x << 5`` on 32 bits: bits shifted past bit 31 are
    dropped.  Pure XOR logic (every output bit is the XOR of a fixed set of input bits).

    Parameters
    ----------
    value : Value-castable
        Unsigned, at most 32 bits (narrower values are zero-extended).

    Returns
    -------
    Value
        ``unsigned(32)``: the next state.

    Raises
    ------
    ValueError
        If ``value`` is signed or wider than 32 bits.
    """
    left, right, last = XORSHIFT_SHIFTS
    x = _word(value, "xorshift32 state")
    x = x ^ _shift_left(x, left)
    x = x ^ _shift_right(x, right)
    return x ^ _shift_left(x, last)


def _shift_left(x: Value, n: int) -> Value:
    """``(x << n) mod 2**32`` of a 32-bit word, written as a 32-bit concatenation."""
    return Cat(Const(0, n), x[:STATE_BITS - n])


def _shift_right(x: Value, n: int) -> Value:
    """``x >> n`` of an unsigned 32-bit word, zero-filled to 32 bits."""
    return Cat(x[n:], Const(0, n))


def spread_key(key) -> Value:
    """``(key * KEY_MULTIPLIER) mod 2**32``: a sample key spread over the state word.

    Parameters
    ----------
    key : Value-castable
        Unsigned sample key, at most 32 bits.

    Returns
    -------
    Value
        ``unsigned(32)``, the low half of the 32 x 32-bit product.
    """
    key = _word(key, "sample key")
    return (key * Const(KEY_MULTIPLIER, STATE_BITS))[:STATE_BITS]


def restart(base, spread) -> Value:
    """``(base + spread) mod 2**32``, 0 replaced by 1: a generator's start state.

    Parameters
    ----------
    base : Value-castable
        The generator's base state, unsigned, at most 32 bits.
    spread : Value-castable
        :func:`spread_key` of the sample key.

    Returns
    -------
    Value
        ``unsigned(32)``, never 0.
    """
    start = (_word(base, "base state") + _word(spread, "spread key"))[:STATE_BITS]
    return Mux(start == 0, Const(1, STATE_BITS), start)


def reseed(base, key) -> Value:
    """``(base + key * KEY_MULTIPLIER) mod 2**32``, 0 replaced by 1, as golden
    ``lfsr.start_states``: the start state of a generator for a sample with ``key``.

    Parameters
    ----------
    base, key : Value-castable
        Unsigned, at most 32 bits each.

    Returns
    -------
    Value
        ``unsigned(32)``, never 0.
    """
    return restart(base, spread_key(key))


def generator_stages(m: Module, advance: Value, valid: Value, generator) -> tuple[Value, Value]:
    """The generator step of a pipelined unit: stage 1 registered here, stage 2's logic
    returned for the caller to register.

    1. When ``advance``: register ``valid``, the generator's ``state``, its spread sample
       key (:func:`spread_key` of ``key``: the multiply, registered as a DSP product
       register) and its ``reseed`` flag.
    2. From those registers: the start state (:func:`restart`, when reseeding) and one
       :func:`xorshift32` step, combinational.

    Parameters
    ----------
    m : Module
        The unit's module (statements go to its ``sync`` and ``comb`` domains).
    advance : Value
        The unit's global stall: every stage moves when it is high.
    valid : Value
        The unit's ``i.valid``.
    generator : View
        The generator fields of the unit's input payload: ``state``, ``key``, ``reseed``.

    Returns
    -------
    tuple of (Value, Value)
        Stage 1's valid flag and the generator's next state (``unsigned(32)``).
    """
    s1_valid = Signal()
    s1_state = Signal(unsigned(STATE_BITS), reset_less=True)
    s1_spread = Signal(unsigned(STATE_BITS), reset_less=True)
    s1_reseed = Signal(reset_less=True)
    with m.If(advance):
        m.d.sync += [
            s1_valid.eq(valid),
            s1_state.eq(generator.state),
            s1_spread.eq(spread_key(generator.key)),
            s1_reseed.eq(generator.reseed),
        ]

    start = Signal(unsigned(STATE_BITS))
    m.d.comb += start.eq(Mux(s1_reseed, restart(s1_state, s1_spread), s1_state))
    return s1_valid, xorshift32(start)


def lfsr_input_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the generator unit's input stream, one generator and one timestep per token.

    Fields (LSB first): ``state`` the generator's state, unsigned 32 bits (its base state
    when ``reseed``); ``key`` the sample key, unsigned 32 bits (used only when ``reseed``);
    ``reseed`` 1 bit, restart the generator from ``base = state`` and ``key`` before the step
    (a sample's first timestep).  The layout does not depend on ``core``.
    """
    return data.StructLayout({
        "state": unsigned(STATE_BITS),
        "key": unsigned(STATE_BITS),
        "reseed": 1,
    })


def lfsr_output_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the generator unit's output stream.

    Fields: ``state`` the generator's next state, unsigned 32 bits; its low 16 bits draw an
    encoder spike, its high 16 bits a stochastic rounding.
    """
    return data.StructLayout({"state": unsigned(STATE_BITS)})


class LFSR(StreamUnit):
    """Pipelined xorshift32 generator step with per-sample reseed, one token per clock cycle.

    For each input token the unit emits ``step(restart(state, key) if reseed else state)``
    (golden ``lfsr.step`` of ``lfsr.start_states`` or of the state itself): one generator
    advanced by one timestep.  The unit holds no generator state; the core streams each
    generator's state through it once per timestep.

    Pipeline: two register stages.

    1. the key multiply ``key * 0x9E3779B9 mod 2**32`` (registered: the DSP product
       register), next to the state and the reseed flag;
    2. the start state (``state + spread``, 0 replaced by 1, when reseeding) and the
       xorshift32 step, into the output register.

    So :attr:`latency` is 2.  Backpressure is a global stall: every stage advances only
    when the output register is empty or being read (``advance = ~o.valid | o.ready``,
    which is also ``i.ready``).  A synchronous reset empties the pipeline.

    Parameters
    ----------
    core : CoreConfig
        The configuration (the unit's datapath does not depend on it; it is kept for a
        uniform PE interface and the manifest).

    Members
    -------
    i : In(stream.Signature(lfsr_input_layout(core)))
        Generator state (or base state), sample key and reseed flag.
    o : Out(stream.Signature(lfsr_output_layout(core)))
        The generator's next state, in input order.
    """

    def __init__(self, core: CoreConfig) -> None:
        super().__init__(core, lfsr_input_layout, lfsr_output_layout)

    @property
    def latency(self) -> int:
        """Clock cycles from an input transfer to its output being valid, with no stalls.

        A token accepted on the rising edge that ends cycle ``c`` is on ``o`` with
        ``o.valid`` during cycle ``c + latency``.
        """
        return LFSR_LATENCY

    def elaborate(self, platform) -> Module:
        m = Module()
        generator = self.i.payload

        # Global stall: the whole pipeline moves one step when the output can move.
        advance = self.advance(m)

        # -- Stage 1: spread the sample key (the multiply, registered) -----------------------
        # -- Stage 2: start state (on reseed) and one xorshift32 step; the output register ----
        s1_valid, next_state = generator_stages(m, advance, self.i.valid, generator)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(s1_valid),
                self.o.payload.state.eq(next_state),
            ]

        return m
