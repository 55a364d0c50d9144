"""Narrow words and the FSpiNN simplifications, as configuration transforms.

:func:`with_weight_bits` moves a configuration to another weight width.  One weight LSB adds
one membrane LSB (``docs/numerics.md``), and the configuration has no knob that maps a weight
LSB to several membrane LSBs, so a narrower weight means a smaller current in membrane
units.  The transform keeps the network's dynamics in units of the largest weight
(``w_max`` stands for a weight of 1.0): with ``s = (2**b - 1) / (2**b0 - 1)``

- membrane-unit parameters ``v_rest``, ``v_reset``, ``v_th``, ``w_inh``, ``theta_plus`` are
  multiplied by ``s`` and rounded (``theta_plus`` stays at least 1 when it was non-zero);
- weight-unit parameters ``w_init_max`` and ``norm`` are multiplied by ``s``;
- the STDP rates ``eta_pre``, ``eta_post`` are multiplied by ``s`` and, so that they keep
  their precision, by ``2**k`` with ``eta_shift`` raised by ``k`` (the largest ``k`` that
  keeps the rates within 16 bits and the shift within its limit);
- the membrane and adaptive-threshold words lose (or gain) as many bits as the weight does
  (membrane at least 8 bits; the threshold word at most what fits next to ``v_th``).

:data:`VARIANTS` are the FSpiNN simplifications and the other single changes the explorer
measures: floor instead of stochastic rounding, potentiation only, weight updates every
``U`` timesteps, a membrane (and threshold) word narrower than the transform gives.
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import ConfigError, CoreConfig

__all__ = ["with_weight_bits", "VARIANTS", "apply_variant", "variant_names"]

_ETA_MAX = (1 << 16) - 1
_SHIFT_MAX = 24


def with_weight_bits(core: CoreConfig, bits: int) -> CoreConfig:
    """``core`` moved to ``bits``-bit weights (module docstring); unchanged at its own width.

    Raises :class:`ConfigError` when the result is not a valid configuration.
    """
    b0 = core.widths.weight
    if not 1 <= bits <= 16:
        raise ConfigError(f"weight bits = {bits}: must lie in 1..16")
    if bits == b0:
        return core
    s = ((1 << bits) - 1) / ((1 << b0) - 1)
    n, st, w = core.neuron, core.stdp, core.widths
    membrane = max(8, w.membrane + bits - b0)
    v_th = max(1, round(n.v_th * s))
    v_max = (1 << (membrane - 1)) - 1
    theta = max(1, min(w.theta + bits - b0, membrane - 1, (v_max - v_th + 1).bit_length() - 1))
    theta_plus = round(n.theta_plus * s)
    if n.theta_plus and not theta_plus:
        theta_plus = 1
    # eta * s * 2**k within 16 bits, eta_shift + k within its limit (soft bound adds bits)
    soft = bits if st.soft_bound else 0
    k = _SHIFT_MAX - soft - st.eta_shift
    while k > -st.eta_shift and max(st.eta_pre, st.eta_post) * s * 2.0 ** k > _ETA_MAX:
        k -= 1
    changes = {
        "widths.weight": bits,
        "widths.membrane": membrane,
        "widths.theta": theta,
        "neuron.v_rest": round(n.v_rest * s),
        "neuron.v_reset": min(round(n.v_reset * s), v_th - 1),
        "neuron.v_th": v_th,
        "neuron.w_inh": round(n.w_inh * s),
        "neuron.theta_plus": min(theta_plus, (1 << theta) - 1),
        "stdp.eta_pre": round(st.eta_pre * s * 2.0 ** k),
        "stdp.eta_post": round(st.eta_post * s * 2.0 ** k),
        "stdp.eta_shift": st.eta_shift + k,
        "stdp.w_init_max": round(st.w_init_max * s),
        "stdp.norm": round(st.norm * s),
    }
    return core.replace(**changes)


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
}


def variant_names() -> list[str]:
    return list(VARIANTS)


def apply_variant(core: CoreConfig, name: str) -> CoreConfig:
    """``core`` with variant ``name`` (:data:`VARIANTS`); ``ConfigError`` if it cannot."""
    if name not in VARIANTS:
        raise ConfigError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    return VARIANTS[name](core)
