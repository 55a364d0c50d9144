"""What the RTL core runs today, checked in one place.

The golden model runs every network the configuration accepts; the core (``SnnCore``) runs
one layer of spiking inputs (rate-coded or direct): unsigned weights learned on chip, or with
learning off also signed weights and a bias (networks trained elsewhere), with any leak mode
and reset; and, learning off, current input (the pixels as a constant current) or the LUT
forward engine (``forward = "lut"``, which the configuration allows only there).
:func:`check_network` refuses anything else in one line, naming the field as the layered
file spells it, before any Verilog is generated or simulated; the CLI calls it for every
command that builds or drives the RTL, and :class:`~.top.SnnCore` calls :func:`check_core`
on the core it is given.
"""

from __future__ import annotations

from ...config import ConfigError, CoreConfig, NetworkConfig

__all__ = ["check_core", "check_network"]


def check_core(core: CoreConfig, layer: int = 0) -> None:
    """Raise :class:`ConfigError` if the RTL core cannot run layer ``layer``'s ``core``."""
    widths = f"layers[{layer}].widths."
    if core.encoder.kind == "current" and core.stdp.learn:
        raise ConfigError("input.kind = 'current': the RTL core learns (stdp.learn) from "
                          "input spikes; current input runs with learning off")
    # a network file refuses these itself (rule.kind = 'stdp'); a CoreConfig with
    # stdp.learn does not, and the core's STDP and normalization take unsigned weights
    learned = [
        (core.widths.weight_signed, f"{widths}weight_signed = true", "signed weights"),
        (core.widths.bias > 0, f"{widths}bias = {core.widths.bias}", "a bias"),
    ]
    for unsupported, field, what in learned:
        if unsupported and core.stdp.learn:
            raise ConfigError(f"{field}: the RTL core learns (stdp.learn) without {what}; "
                              "a network trained elsewhere runs with learning off")


def check_network(network: NetworkConfig, layers: bool = False) -> None:
    """Raise :class:`ConfigError` if the RTL cannot run ``network``: a layer
    :func:`check_core` refuses, or more than one layer unless ``layers``.

    One layer runs on ``SnnCore``; several run on ``hdl.network.NetworkCore`` (a core per
    layer, learning off), whose callers pass ``layers=True``; the others (co-simulation,
    the board) drive one ``SnnCore`` and keep refusing a deeper network.
    """
    if len(network.layers) > 1 and not layers:
        raise ConfigError(f"layers: {len(network.layers)} layers: the RTL core runs one layer "
                          "for now (the golden model runs them all: plasticore eval)")
    for index, core in enumerate(network.cores):
        check_core(core, index)
