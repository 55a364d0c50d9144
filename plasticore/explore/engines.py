"""Forward engines a sweep of a network trained elsewhere moves between (``--forward``,
``--lut-group``).

A layer's synaptic currents come from one of two forward engines (``docs/architecture.md``):
the accumulate PE (every spiking input's weight row added, one row per cycle) or the LUT PE
(H2Learn: per group of ``k`` inputs and neuron a table of the ``2**k`` subset sums of the
group's weights, addressed by the group's spike pattern, one read per non-zero group).
Both give the same sums bit for bit (``docs/numerics.md``), so an engine moves only
hardware: cycles, memory, resources, energy; never the spikes or the accuracy.

An :class:`Engine` names one choice for the whole network:

- ``accumulate``: every layer on the accumulate PE;
- ``lut k``: every layer whose input is spikes on the LUT PE with groups of ``k``
  (:func:`lut_layers`); the others (layer 0 with current input, whose currents the
  current pass computes once per sample from the pixels) stay on the accumulate PE;
- ``config``: the layers as the configuration has them (the baseline's engine).

Every engine is applied through the configuration's own replace and validation, so a
network the RTL cannot build is refused in one line, naming the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import FORWARD_KINDS, ConfigError, LayerConfig, NetworkConfig
from .settings import SettingsError, int_list

__all__ = ["Engine", "CONFIG", "engine_named", "lut_layers", "with_engine", "engine_of",
           "parse_engines", "check_engines"]


@dataclass(frozen=True, order=True)
class Engine:
    """One forward engine for a network.

    Members
    -------
    forward : "accumulate", "lut" or "config"
    lut_group : int
        ``k`` of ``lut`` (0 otherwise).
    """

    forward: str
    lut_group: int = 0

    @property
    def label(self) -> str:
        """``accumulate``, ``lut4``, or ``config`` (the configuration's layers as they are)."""
        return f"lut{self.lut_group}" if self.forward == "lut" else self.forward


#: The configuration's own engines, layer by layer.
CONFIG = Engine("config")


def engine_named(label: str) -> Engine:
    """The :class:`Engine` of a :attr:`Engine.label` (``accumulate``, ``lut4``, ``config``);
    :class:`ValueError` for another."""
    if label in ("accumulate", "config"):
        return Engine(label)
    if label.startswith("lut") and label[3:].isdigit():
        return Engine("lut", int(label[3:]))
    raise ValueError(f"not a forward engine: {label!r}")


def lut_layers(network: NetworkConfig) -> list[int]:
    """The layers an ``lut`` engine puts on the LUT PE: those whose input is spikes (every
    layer after the first; layer 0 unless its input is ``current``, whose currents the
    current pass computes once per sample from the pixels)."""
    return [i for i, core in enumerate(network.cores) if core.encoder.kind != "current"]


def with_engine(network: NetworkConfig, engine: Engine) -> NetworkConfig:
    """``network`` with ``engine``'s forward engine (module docstring); :class:`ConfigError`
    (from the configuration's validation) if the RTL cannot build it."""
    if engine.forward == "config":
        return network
    on_lut = set(lut_layers(network)) if engine.forward == "lut" else set()
    layers = []
    for i, layer in enumerate(network.layers):
        if i in on_lut:
            layers.append(dataclasses.replace(layer, forward="lut",
                                              lut_group=engine.lut_group))
        else:       # the accumulate PE, lut_group at its default (as a file without it)
            layers.append(dataclasses.replace(layer, forward="accumulate",
                                              lut_group=LayerConfig().lut_group))
    return dataclasses.replace(network, layers=tuple(layers))


def engine_of(network: NetworkConfig) -> str:
    """A short name of ``network``'s engines: ``accumulate``, ``lut4`` (every layer of
    :func:`lut_layers` on LUTs of 4, the rest accumulating), or per layer joined by ``+``
    (``acc+lut4``)."""
    names = [f"lut{layer.lut_group}" if layer.forward == "lut" else "accumulate"
             for layer in network.layers]
    if all(n == "accumulate" for n in names):
        return "accumulate"
    on_lut = set(lut_layers(network))
    luts = {names[i] for i in on_lut}
    if len(luts) == 1 and all(names[i] == "accumulate" for i in range(len(names))
                              if i not in on_lut):
        return luts.pop()
    return "+".join("acc" if n == "accumulate" else n for n in names)


def parse_engines(forward: str | None, lut_group: str | None) -> list[Engine]:
    """The engines of ``--forward`` (comma-separated ``accumulate``, ``lut``) and
    ``--lut-group`` (comma-separated ``k``, default ``LayerConfig.lut_group``'s; the range
    is the configuration's to check, :func:`check_engines`), in order; ``[]`` without
    ``--forward`` (the configuration's engines only).  :class:`SettingsError` names the
    option."""
    if forward is None:
        if lut_group is not None:
            raise SettingsError(f"--lut-group {lut_group}: only with --forward ...,lut")
        return []
    kinds = [t.strip() for t in forward.split(",") if t.strip()]
    if not kinds:
        raise SettingsError(f"--forward {forward!r}: expected accumulate, lut or both")
    for kind in kinds:
        if kind not in FORWARD_KINDS:
            raise SettingsError(f"--forward {forward!r}: unknown engine {kind!r} (known: "
                                f"{', '.join(FORWARD_KINDS)})")
    if len(set(kinds)) != len(kinds):
        raise SettingsError(f"--forward {forward!r}: an engine appears twice")
    if lut_group is not None and "lut" not in kinds:
        raise SettingsError(f"--lut-group {lut_group}: only with --forward ...,lut")
    # the sizes the layers take are the configuration's to check (check_engines)
    groups = (int_list("--lut-group", lut_group) if lut_group is not None
              else [LayerConfig().lut_group])
    engines = []
    for kind in kinds:
        if kind == "lut":
            engines += [Engine("lut", k) for k in groups]
        else:
            engines.append(Engine(kind))
    return engines


def check_engines(network: NetworkConfig, engines: list[Engine]) -> None:
    """:class:`SettingsError` if an engine cannot apply to ``network``: an ``lut`` engine
    on a network without a spiking-input layer, or one its validation refuses."""
    for engine in engines:
        if engine.forward == "lut" and not lut_layers(network):
            raise SettingsError("--forward lut: no layer of this network takes spikes "
                                "(layer 0 has current input and it is the only layer)")
        try:
            with_engine(network, engine)
        except ConfigError as exc:
            raise SettingsError(f"--forward {engine.forward}"
                                + (f" --lut-group {engine.lut_group}"
                                   if engine.forward == "lut" else "")
                                + f": {exc}") from None
