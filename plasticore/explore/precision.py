"""Narrow words and the FSpiNN simplifications, as configuration transforms.

:func:`with_weight_bits` moves a configuration from ``b0``-bit to ``b``-bit weights, keeping
``w_max`` standing for a weight of 1.0, with ``s_w = (2**b - 1) / (2**b0 - 1)``.  Weight-unit
parameters (``w_init_max``, ``norm``) are multiplied by ``s_w``; so are the STDP rates
(weight LSBs per trace unit), and, so that they keep their precision, by ``2**e`` with
``eta_shift`` raised by ``e`` (the largest ``e`` that keeps the rates within 16 bits and the
shift within its limit).  What happens in membrane units is the ``transform``:

- ``"scale"`` (the default): the synaptic-current shift (``widths.current_shift``, one
  weight LSB adds ``2**current_shift`` membrane LSBs) stays, so the largest current shrinks
  by ``s_w`` and the membrane-unit parameters ``v_rest``, ``v_reset``, ``v_th``, ``w_inh``,
  ``theta_plus`` are multiplied by ``s_m = s_w`` (``1/17`` at 4 bits from 8) and rounded
  (``theta_plus`` stays at least 1 when it was non-zero); the membrane and threshold words
  narrow (or widen) by ``b - b0`` bits, saving state memory;
- ``"shift"``: the shift becomes ``k = max(0, k0 + b0 - b)``, so the largest weight stands
  for about the same current; ``s_m = s_w * 2**(k - k0)`` (``16/17`` at 4 bits) and the
  membrane and threshold words change only by what the largest current gains, ``(b + k) -
  (b0 + k0)``: nothing when narrowing.  The membrane keeps its resolution (``theta_plus``
  12 instead of 1 at 4 bits), at the cost of the state memory ``"scale"`` saves.

(Membrane at least 8 bits; the threshold word at most what fits next to ``v_th``.)

:data:`VARIANTS` are the FSpiNN simplifications and the other single changes the explorer
measures: floor instead of stochastic rounding, potentiation only, weight updates every
``U`` timesteps, a membrane (and threshold) word narrower than the transform gives, and
stochastic instead of nearest rounding in the weight normalization.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import ConfigError, CoreConfig

__all__ = ["with_weight_bits", "TRANSFORMS", "quantize_network", "VARIANTS", "apply_variant",
           "variant_names"]

#: The ways :func:`with_weight_bits` can treat membrane units (module docstring).
TRANSFORMS = ("scale", "shift")

_ETA_MAX = (1 << 16) - 1
_SHIFT_MAX = 24


def _unit_scales(bits0: int, shift0: int, bits: int, shift: int) -> tuple[float, float]:
    """``(s_w, s_m)`` from ``bits0``-bit weights with current shift ``shift0`` to ``bits``
    with ``shift``: the ratio of the largest weights (weight units) and of the largest
    currents (membrane units)."""
    s_w = ((1 << bits) - 1) / ((1 << bits0) - 1)
    return s_w, s_w * 2.0 ** (shift - shift0)


def with_weight_bits(core: CoreConfig, bits: int, transform: str = "scale") -> CoreConfig:
    """``core`` moved to ``bits``-bit weights by ``transform`` (module docstring); unchanged
    at its own width.

    Raises :class:`ConfigError` when the result is not a valid configuration.
    """
    b0, k0 = core.widths.weight, core.widths.current_shift
    if not 1 <= bits <= 16:
        raise ConfigError(f"weight bits = {bits}: must lie in 1..16")
    if transform not in TRANSFORMS:
        raise ConfigError(f"width transform {transform!r}: must be one of "
                          f"{', '.join(TRANSFORMS)}")
    if bits == b0:
        return core
    shift = max(0, k0 + b0 - bits) if transform == "shift" else k0
    grow = (bits + shift) - (b0 + k0)             # bits the largest current gains
    s_w, s_m = _unit_scales(b0, k0, bits, shift)
    n, st, w = core.neuron, core.stdp, core.widths
    membrane = max(8, w.membrane + grow)
    v_th = max(1, round(n.v_th * s_m))
    v_max = (1 << (membrane - 1)) - 1
    theta = max(1, min(w.theta + grow, membrane - 1, (v_max - v_th + 1).bit_length() - 1))
    theta_plus = round(n.theta_plus * s_m)
    if n.theta_plus and not theta_plus:
        theta_plus = 1
    # eta * s_w * 2**e within 16 bits, eta_shift + e within its limit (soft bound adds bits)
    soft = bits if st.soft_bound else 0
    e = _SHIFT_MAX - soft - st.eta_shift
    while e > -st.eta_shift and max(st.eta_pre, st.eta_post) * s_w * 2.0 ** e > _ETA_MAX:
        e -= 1
    changes = {
        "widths.weight": bits,
        "widths.current_shift": shift,
        "widths.membrane": membrane,
        "widths.theta": theta,
        "neuron.v_rest": round(n.v_rest * s_m),
        "neuron.v_reset": min(round(n.v_reset * s_m), v_th - 1),
        "neuron.v_th": v_th,
        "neuron.w_inh": round(n.w_inh * s_m),
        "neuron.theta_plus": min(theta_plus, (1 << theta) - 1),
        "stdp.eta_pre": round(st.eta_pre * s_w * 2.0 ** e),
        "stdp.eta_post": round(st.eta_post * s_w * 2.0 ** e),
        "stdp.eta_shift": st.eta_shift + e,
        "stdp.w_init_max": round(st.w_init_max * s_w),
        "stdp.norm": round(st.norm * s_w),
    }
    return core.replace(**changes)


def quantize_network(net: Any, core: CoreConfig) -> Any:
    """A trained network moved to ``core``'s weight width after training (post-training
    quantization): ``core`` is the trained configuration moved by :func:`with_weight_bits`
    (same dynamics in other units); each weight becomes ``round(w * s_w)`` (half up,
    clipped to ``w_max``) and each adaptive threshold ``round(theta * s_m)``, with ``s_w``
    the ratio of the largest weights and ``s_m`` that of the largest currents (membrane
    units).  Returns a new :class:`~plasticore.golden.network.Network` (integer arithmetic).
    """
    import numpy as np

    from ..golden.network import Network

    old, new = net.core.widths, core.widths
    s_w, s_m = _unit_scales(old.weight, old.current_shift, new.weight, new.current_shift)
    weights = np.minimum(np.floor(net.weights * s_w + 0.5), core.derived.w_max)
    theta = np.minimum(np.floor(net.theta * s_m + 0.5), core.derived.theta_max)
    out = Network(core, weights=weights.astype(np.int64))
    out.theta = theta.astype(np.int64)
    return out


def _narrow_membrane(core: CoreConfig, by: int) -> CoreConfig:
    w = core.widths
    membrane = w.membrane - by
    v_max = (1 << (membrane - 1)) - 1
    theta = min(w.theta, membrane - 1, (v_max - core.neuron.v_th + 1).bit_length() - 1)
    if theta < 1:
        raise ConfigError(f"widths.membrane = {membrane}: too narrow for v_th = "
                          f"{core.neuron.v_th}")
    return core.replace(**{"widths.membrane": membrane, "widths.theta": theta,
                           "neuron.theta_plus": min(core.neuron.theta_plus, (1 << theta) - 1)})


#: Single changes measured against their point: name -> transform.
VARIANTS: dict[str, Callable[[CoreConfig], CoreConfig]] = {
    "floor-rounding": lambda c: c.replace(**{"stdp.rounding": "floor"}),
    "potentiation-only": lambda c: c.replace(**{"stdp.potentiation_only": True}),
    "update-every-4": lambda c: c.replace(**{"stdp.update_every": 4}),
    "membrane-2": lambda c: _narrow_membrane(c, 2),
    "stochastic-normalization": lambda c: c.replace(**{"stdp.norm_rounding": "stochastic"}),
}


def variant_names() -> list[str]:
    return list(VARIANTS)


def apply_variant(core: CoreConfig, name: str) -> CoreConfig:
    """``core`` with variant ``name`` (:data:`VARIANTS`); ``ConfigError`` if it cannot."""
    if name not in VARIANTS:
        raise ConfigError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    return VARIANTS[name](core)
