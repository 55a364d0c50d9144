"""The configuration matrix every PE regression runs over.

One list, shared by all testbenches, so "weight widths 1 to 16, membrane widths 8 to 24,
several timestep counts, both leak and reset modes, learning on and off" is defined once.
:func:`scaled_core` derives neuron and learning parameters that are valid (and exercise
both saturation rails) for any pair of widths.  ``quick=True`` is the CI subset.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import CoreConfig, EncoderConfig, NeuronConfig, StdpConfig, Widths

__all__ = ["MatrixEntry", "scaled_core", "config_matrix"]


@dataclass(frozen=True)
class MatrixEntry:
    """A named configuration of the matrix."""

    label: str
    core: CoreConfig


def scaled_core(weight: int, membrane: int, *, timesteps: int = 25, trace: int = 8,
                leak_mode: str = "shift", reset_mode: str = "to_reset", learn: bool = True,
                rounding: str = "stochastic", soft_bound: bool = False,
                potentiation_only: bool = False, trace_mode: str = "set",
                update_every: int = 1, t_ref: int = 3, n_inputs: int = 16,
                n_neurons: int = 8, pixel_bits: int = 8, seed: int = 1) -> CoreConfig:
    """A valid core for the given widths, with parameters scaled to the membrane word.

    The threshold sits at an eighth of the membrane range and the adaptive threshold may
    reach about the same again, so currents of a few maximum weights cross it and long
    bursts reach the upper rail, while inhibition of a few spikes reaches the lower rail.
    """
    v_th = 1 << (membrane - 3)
    theta_bits = max(1, membrane - 3)
    w_max = (1 << weight) - 1
    return CoreConfig(
        n_inputs=n_inputs,
        n_neurons=n_neurons,
        n_pe=1,
        timesteps=timesteps,
        seed=seed,
        widths=Widths(weight=weight, membrane=membrane, theta=theta_bits, trace=trace),
        encoder=EncoderConfig(kind="rate", pixel_bits=pixel_bits, max_rate=0.3),
        neuron=NeuronConfig(
            v_rest=-(v_th >> 3), v_reset=-(v_th >> 2), v_th=v_th,
            leak_mode=leak_mode,  # type: ignore[arg-type]
            leak_shift=min(16, max(1, membrane // 3)),
            decay_q=(1 << 16) - (1 << 16) // 50, decay_frac=16,
            reset_mode=reset_mode,  # type: ignore[arg-type]
            t_ref=t_ref,
            theta_plus=max(1, v_th >> 4), theta_decay_shift=6,
            w_inh=max(1, v_th >> 1),
        ),
        stdp=StdpConfig(
            learn=learn, tau_pre_shift=3, tau_post_shift=4,
            trace_mode=trace_mode,  # type: ignore[arg-type]
            trace_add=max(1, (1 << trace) // 3),
            eta_pre=3000, eta_post=40000, eta_shift=min(16, 8 + trace),
            rounding=rounding,  # type: ignore[arg-type]
            potentiation_only=potentiation_only, soft_bound=soft_bound,
            update_every=update_every, w_init_max=w_max // 2,
            norm=(w_max * n_inputs) // 4,
        ),
    )


# (weight bits, membrane bits): weight widths 1..16, membrane widths 8..24.
_WIDTHS = [(1, 8), (4, 8), (7, 8), (8, 12), (6, 16), (8, 16), (12, 20), (16, 18), (16, 24),
           (10, 24)]


def config_matrix(quick: bool = False) -> list[MatrixEntry]:
    """The regression matrix; ``quick`` is the subset CI runs (both modes of everything)."""
    entries = [
        MatrixEntry("w8m16-default", scaled_core(8, 16)),
        MatrixEntry("w4m8-mult-subtract-floor",
                    scaled_core(4, 8, leak_mode="multiply", reset_mode="subtract",
                                rounding="floor", trace_mode="add")),
        MatrixEntry("w16m24-softbound-nolearn-t1000",
                    scaled_core(16, 24, soft_bound=True, learn=False, timesteps=1000,
                                trace=12)),
        MatrixEntry("w1m8-potonly-u4-t1",
                    scaled_core(1, 8, potentiation_only=True, update_every=4, timesteps=1,
                                t_ref=0, trace=4)),
    ]
    if quick:
        return entries
    for weight, membrane in _WIDTHS:
        for leak in ("shift", "multiply"):
            for reset in ("to_reset", "subtract"):
                label = f"w{weight}m{membrane}-{leak}-{reset}"
                entries.append(MatrixEntry(label, scaled_core(
                    weight, membrane, leak_mode=leak, reset_mode=reset,
                    timesteps=350 if membrane >= 16 else 50,
                    rounding="floor" if weight < 4 else "stochastic",
                    soft_bound=weight >= 12, learn=(weight + membrane) % 3 != 0,
                    trace_mode="add" if leak == "multiply" else "set",
                    t_ref=(weight % 5)) ))
    return entries
