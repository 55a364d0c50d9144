"""Leaky integrate-and-fire neuron processing element (``LIFNeuronUnit``).

One neuron update per clock cycle, state in and state out: the core streams a neuron's
membrane, refractory count and adaptive threshold together with its exact synaptic current
and lateral inhibition in, and stores what comes out.  The arithmetic is step 5 and 6 of
``docs/numerics.md``, bit for bit as ``plasticore.golden.neuron.lif_step`` followed (when
learning) by ``adapt_threshold`` with ``IntegerArithmetic``.
"""

from __future__ import annotations

from amaranth import Const, Module, Mux, Shape, Signal, Value, signed, unsigned
from amaranth.lib import data

from ..config import CoreConfig
from .unit import StreamUnit

__all__ = [
    "LIF_LATENCY", "current_shape", "lif_input_layout", "lif_output_layout", "LIFNeuronUnit"]

#: Clock cycles from a neuron into :class:`LIFNeuronUnit` to its update (read by the cycle
#: model).
LIF_LATENCY = 3


def lif_input_layout(core: CoreConfig, adapts: bool = True) -> data.StructLayout:
    """Payload of the neuron unit's input stream, one neuron and one timestep per token.

    Fields (LSB first): ``v`` membrane, signed ``widths.membrane`` bits; ``refractory``
    remaining refractory timesteps, unsigned ``derived.refractory_bits``; ``theta`` adaptive
    threshold, unsigned ``widths.theta`` bits; ``current`` exact synaptic current
    ``2**current_shift * sum_j s_j w_ij + b_i``, ``derived.current_bits`` (signed when
    ``derived.current_min < 0``: signed weights or a bias; :func:`current_shape`);
    ``inhibition`` exact lateral inhibition ``w_inh * (other neurons' spikes at t-1)``,
    unsigned ``derived.inhibition_bits``; ``learn`` 1 bit, adapt the threshold on this
    token (only with ``adapts``: a unit without it never adapts, the core's that does not
    learn).
    Membrane, threshold, current and inhibition are in membrane LSBs.
    """
    d = core.derived
    return data.StructLayout({
        "v": signed(core.widths.membrane),
        "refractory": unsigned(d.refractory_bits),
        "theta": unsigned(core.widths.theta),
        "current": current_shape(core),
        "inhibition": unsigned(d.inhibition_bits),
        **({"learn": 1} if adapts else {}),
    })


def current_shape(core: CoreConfig) -> Shape:
    """Shape of the exact synaptic current (membrane LSBs): ``derived.current_bits``,
    signed when the current can be negative (``derived.current_min < 0``), else unsigned."""
    d = core.derived
    return signed(d.current_bits) if d.current_min < 0 else unsigned(d.current_bits)


def lif_output_layout(core: CoreConfig) -> data.StructLayout:
    """Payload of the neuron unit's output stream: the neuron's state after the timestep.

    Fields (LSB first): ``v`` new membrane, signed ``widths.membrane`` bits; ``refractory``
    new refractory count, unsigned ``derived.refractory_bits``; ``theta`` new adaptive
    threshold, unsigned ``widths.theta`` bits (unchanged unless the token had ``learn``);
    ``spike`` 1 bit.
    """
    d = core.derived
    return data.StructLayout({
        "v": signed(core.widths.membrane),
        "refractory": unsigned(d.refractory_bits),
        "theta": unsigned(core.widths.theta),
        "spike": 1,
    })


def _saturate(value, lo: int, hi: int):
    """``value`` clamped to ``[lo, hi]`` (exact comparisons, no wrap-around).

    An unsigned value is never below a non-positive ``lo``, so that comparison is left out
    (it would be constant, which lint rightly flags).
    """
    value = Value.cast(value)
    upper = Mux(value > hi, hi, value)
    if not value.shape().signed and lo <= 0:
        return upper
    return Mux(value < lo, lo, upper)


class LIFNeuronUnit(StreamUnit):
    """Pipelined LIF neuron update with adaptive threshold, one token per clock cycle.

    For each input token the unit computes, as ``docs/numerics.md`` steps 5 and 6:

    * refractory (``refractory > 0``): the count drops by one, ``v`` is kept, no spike;
    * otherwise ``v' = sat(v_rest + leak(v - v_rest) + current - inhibition)``, the sum held
      exactly in ``derived.membrane_sum_bits`` signed bits and saturated once to the
      membrane word at both rails; a spike when ``v' >= v_th + theta``, which resets ``v'``
      to ``v_reset`` (or to ``sat(v' - (v_th + theta))``, ``sat(v' - reset_amount)`` when
      ``neuron.reset_amount > 0``) and the refractory count to ``t_ref``;
    * with ``learn``: ``theta`` decays (``theta_decay_shift > 0``, toward zero) and then
      gains ``theta_plus`` on a spike, saturating at ``theta_max``; without it ``theta`` is
      passed through.

    The leak of the distance from rest ``d = v - v_rest`` (signed ``membrane + 1`` bits) is
    ``neuron.leak_mode``: ``shift``, ``trunc(d * (1 - 2**-leak_shift))``, or ``multiply``,
    ``trunc(d * decay_q / 2**decay_frac)`` with ``decay_q`` unsigned ``decay_frac + 1`` bits
    (25 x 18 for the widest configuration: one DSP48E1, the product registered).  Both round
    toward zero, as ``plasticore.fixedpoint.decay_shift`` / ``decay_multiply``; ``none``
    (integrate-and-fire) keeps ``d``, so stage 2 adds the drive to ``v`` itself.

    The current is unsigned, or signed (two's complement, :func:`current_shape`) when
    signed weights or a bias can make it negative; a negative current can saturate the
    sum at ``v_min``.

    Pipeline: three register stages (leak and threshold; exact sum and saturation; spike,
    reset and output registers), so :attr:`latency` is 3 in every leak mode.  Backpressure
    is a global stall: every stage advances only when the output register is empty or being
    read (``advance = ~o.valid | o.ready``, which is also ``i.ready``).  A synchronous reset
    empties the pipeline.

    Parameters
    ----------
    core : CoreConfig
        Widths, neuron parameters and every derived width (``core.derived``).

    Members
    -------
    i : In(stream.Signature(lif_input_layout(core)))
        Neuron state, synaptic current, inhibition and learn flag of one neuron.
    o : Out(stream.Signature(lif_output_layout(core)))
        The neuron's new state and its spike, in input order.
    """

    def __init__(self, core: CoreConfig, adapts: bool = True) -> None:
        self._adapts = adapts
        super().__init__(core, lambda c: lif_input_layout(c, adapts), lif_output_layout)

    @property
    def adapts(self) -> bool:
        """Whether the unit has the adaptive-threshold update (and the ``learn`` field);
        without it ``theta`` passes through (a core that does not learn)."""
        return self._adapts

    @property
    def latency(self) -> int:
        """Clock cycles from an input transfer to its output being valid, with no stalls.

        A token accepted on the rising edge that ends cycle ``c`` (``i.valid & i.ready``
        during cycle ``c``) is on ``o`` with ``o.valid`` during cycle ``c + latency``.
        """
        return LIF_LATENCY

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        n, d = core.neuron, core.derived
        membrane = core.widths.membrane
        theta_bits = core.widths.theta
        neuron = self.i.payload

        # Global stall: the whole pipeline moves one step when the output can move.
        advance = self.advance(m)

        # -- Stage 1: leak of the distance from rest, net drive, threshold, theta decay ------
        distance = Signal(signed(membrane + 1))  # v - v_rest, exact
        m.d.comb += distance.eq(neuron.v - n.v_rest)

        s1_valid = Signal()
        s1_v = Signal(signed(membrane), reset_less=True)
        s1_refractory = Signal(unsigned(d.refractory_bits), reset_less=True)
        s1_theta = Signal(unsigned(theta_bits), reset_less=True)
        s1_learn = Signal(name="s1_learn", reset_less=True) if self._adapts else None
        # current - inhibition, exact: the difference's own shape (unsigned current: signed,
        # one bit wider than the wider operand)
        drive = neuron.current - neuron.inhibition
        s1_drive = Signal(drive.shape(), reset_less=True)
        s1_threshold = Signal(signed(membrane), reset_less=True)  # v_th + theta <= v_max
        s1_theta_decayed = Signal(unsigned(theta_bits), name="s1_theta_decayed",
                                  reset_less=True) if self._adapts else None

        if n.leak_mode == "none":
            pass                                # leak(d) = d: stage 2 adds v itself
        elif n.leak_mode == "shift":
            # trunc(d * (1 - 2**-k)) = d - ((d + (2**k - 1 if d > 0 else 0)) >> k)
            k = n.leak_shift
            s1_leaked = Signal(signed(membrane + 1), reset_less=True)  # |leaked| <= |d|
            leak_next = distance - ((distance + Mux(distance > 0, (1 << k) - 1, 0)) >> k)
        else:
            # d * decay_q: (membrane + 1)-bit signed times (decay_frac + 1)-bit unsigned,
            # registered (the DSP's product register)
            decay_q = Const(n.decay_q, unsigned(n.decay_frac + 1))
            s1_leak_product = Signal(signed(membrane + n.decay_frac + 2), reset_less=True)

        if n.theta_decay_shift:
            # theta - ceil(theta / 2**s): decay toward zero, as decay_shift_unsigned
            s = n.theta_decay_shift
            theta_decayed = neuron.theta - ((neuron.theta + ((1 << s) - 1)) >> s)
        else:
            theta_decayed = neuron.theta

        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.i.valid),
                s1_v.eq(neuron.v),
                s1_refractory.eq(neuron.refractory),
                s1_theta.eq(neuron.theta),
                *([s1_learn.eq(neuron.learn)] if self._adapts else []),
                s1_drive.eq(drive),
                s1_threshold.eq(n.v_th + neuron.theta),
                *([s1_theta_decayed.eq(theta_decayed)] if self._adapts else []),
            ]
            if n.leak_mode == "shift":
                m.d.sync += s1_leaked.eq(leak_next)
            elif n.leak_mode == "multiply":
                m.d.sync += s1_leak_product.eq(distance * decay_q)

        # -- Stage 2: exact membrane sum, saturated once; refractory and theta candidates ----
        if n.leak_mode == "none":
            leaked = None
        elif n.leak_mode == "shift":
            leaked = s1_leaked
        else:
            # trunc(p / 2**f) = (p + (2**f - 1 if d < 0 else 0)) >> f with p = d * decay_q;
            # p < 0 exactly when d < 0 (decay_q > 0; with decay_q = 0, p = 0 either way)
            f = n.decay_frac
            leaked = (s1_leak_product + Mux(s1_leak_product < 0, (1 << f) - 1, 0)) >> f

        membrane_sum = Signal(signed(d.membrane_sum_bits))  # v_rest + leaked + drive, exact
        if leaked is None:                      # v_rest + (v - v_rest) = v
            m.d.comb += membrane_sum.eq(s1_v + s1_drive)
        else:
            m.d.comb += membrane_sum.eq(n.v_rest + leaked + s1_drive)

        s2_valid = Signal()
        s2_v = Signal(signed(membrane), reset_less=True)
        s2_active = Signal(reset_less=True)  # not refractory: integrates and may spike
        s2_integrated = Signal(signed(membrane), reset_less=True)
        s2_threshold = Signal(signed(membrane), reset_less=True)
        s2_countdown = Signal(unsigned(d.refractory_bits), reset_less=True)
        s2_theta_silent = Signal(unsigned(theta_bits), reset_less=True)  # theta if no spike
        s2_theta_spiking = Signal(unsigned(theta_bits), name="s2_theta_spiking",
                                  reset_less=True) if self._adapts else None  # theta on a spike

        theta_bumped = _saturate(s1_theta_decayed + n.theta_plus, 0, d.theta_max) \
            if self._adapts else None
        with m.If(advance):
            m.d.sync += [
                s2_valid.eq(s1_valid),
                s2_v.eq(s1_v),
                s2_active.eq(s1_refractory == 0),
                s2_integrated.eq(_saturate(membrane_sum, d.v_min, d.v_max)),
                s2_threshold.eq(s1_threshold),
                s2_countdown.eq(Mux(s1_refractory == 0, 0, s1_refractory - 1)),
                *([s2_theta_silent.eq(Mux(s1_learn, s1_theta_decayed, s1_theta)),
                   s2_theta_spiking.eq(Mux(s1_learn, theta_bumped, s1_theta))]
                  if self._adapts else [s2_theta_silent.eq(s1_theta)]),
            ]

        # -- Stage 3: spike, reset, refractory start; the output registers ---------------------
        spike = Signal()
        m.d.comb += spike.eq(s2_active & (s2_integrated >= s2_threshold))
        if n.reset_mode == "to_reset":
            fired = Const(n.v_reset, signed(membrane))
        elif n.reset_amount:
            fired = _saturate(s2_integrated - n.reset_amount, d.v_min, d.v_max)
        else:
            fired = _saturate(s2_integrated - s2_threshold, d.v_min, d.v_max)

        out = self.o.payload
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(s2_valid),
                out.v.eq(Mux(s2_active, Mux(spike, fired, s2_integrated), s2_v)),
                out.refractory.eq(Mux(spike, n.t_ref, s2_countdown)),
                out.theta.eq(Mux(spike, s2_theta_spiking, s2_theta_silent)
                             if self._adapts else s2_theta_silent),
                out.spike.eq(spike),
            ]

        return m
