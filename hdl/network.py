"""``NetworkCore``: a multi-layer network as a pipeline of cores, one per layer."""

from __future__ import annotations

from amaranth import Cat, Module, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..config import NetworkConfig, bits_for
from .core.layouts import (
    access_bits,
    command_layout,
    count_layout,
    input_stream,
    membrane_layout,
    spike_layout,
)
from .core.membrane import MEMBRANE_MODES
from .core.raster import SpikeRaster
from .core.support import check_network
from .core.top import SnnCore

__all__ = ["NetworkCore", "network_access_layout", "network_access_bits"]


def network_access_bits(network: NetworkConfig) -> int:
    """Width of a network access word and readback: the widest layer's ``access_bits``."""
    return max(access_bits(core) for core in network.cores)


def network_access_layout(network: NetworkConfig) -> data.StructLayout:
    """Payload of the network's access stream: a layer's ``access_layout`` plus its number.

    Fields (LSB first): ``write``, ``theta``, ``addr``, ``data`` as ``access_layout`` of
    layer ``layer`` (``addr`` and ``data`` as wide as the widest layer's; a layer takes
    their low bits); ``layer`` unsigned; when some layer has a bias, ``bias`` 1 bit (a bias
    word of layer ``layer``, which must have one).
    """
    cores = network.cores
    return data.StructLayout({
        "write": 1,
        "theta": 1,
        "addr": unsigned(max(bits_for(c.n_inputs * c.derived.neurons_per_pe - 1)
                             for c in cores)),
        "data": unsigned(network_access_bits(network)),
        "layer": unsigned(bits_for(len(cores) - 1)),
        **({"bias": 1} if any(c.widths.bias for c in cores) else {}),
    })


class NetworkCore(wiring.Component):
    """A network of ``L`` layers: one ``SnnCore`` per layer (``network.core(l)``), layer
    ``l``'s spikes into layer ``l + 1`` through a :class:`~.core.raster.SpikeRaster`, bit for
    bit as the golden ``Network`` with learning off (``rule.kind = "none"``): whatever a
    layer's ``SnnCore`` runs (signed weights, a bias, any leak and reset; current input
    in layer 0), the network runs.

    A sample: one ``command`` token, taken by every layer at once (when all are idle; the
    ``learn`` field is ignored), then layer 0's ``pixels`` (or ``raster`` tokens); the last
    layer's ``spikes`` and ``counts`` go out, the other layers' counts are dropped.  The
    layers run as a pipeline: layer ``l + 1`` runs timestep ``t`` while layer ``l`` runs
    ``t + 1`` (``hdl.cycles.network_sample_cycles`` gives the cycles exactly).

    Access: one ``access`` stream for every layer, with a ``layer`` field, and one
    ``readback`` (the answer of the addressed layer): a fixed port list whatever the depth,
    so a host protocol and the generated Verilog need not change with the layer count.
    Between samples only, as ``SnnCore``'s.

    Parameters
    ----------
    network : NetworkConfig
        The layers; :func:`~.core.support.check_network` must accept it (``layers=True``).
    membrane : "max", "final" or None
        The last layer's membrane readout (``SnnCore``'s ``membrane``); ``None``: counts
        only.

    Members
    -------
    command : In(stream.Signature(command_layout))
        Starts a sample.
    pixels : In(stream.Signature(pixel_word_layout(core(0))))  (rate or current input)
    raster : In(stream.Signature(unsigned(n_inputs)))  (direct input)
        Layer 0's input, as ``SnnCore``'s.
    spikes : Out(stream.Signature(spike_layout(core(L - 1))))
        The last layer's output spikes.
    counts : Out(stream.Signature(count_layout(core(L - 1))))
        The last layer's per-sample spike counts.
    membranes : Out(stream.Signature(membrane_layout(core(L - 1))))
        With ``membrane`` only: the last layer's membrane words, after its counts.
    access : In(stream.Signature(network_access_layout(network)))
        Weight and threshold reads and writes of layer ``layer``, between samples.
    readback : Out(stream.Signature(unsigned(network_access_bits(network))))
        Answers to ``access`` reads (the layer's ``readback``, zero-extended).
    busy : Out(1)
        High while any layer is busy.
    timestep_done : Out(L)
        Bit ``l``: layer ``l``'s end-of-timestep pulse (for cycle counting).
    """

    def __init__(self, network: NetworkConfig, membrane: str | None = None) -> None:
        if not isinstance(network, NetworkConfig):
            raise TypeError(f"network must be a NetworkConfig, not {network!r}")
        if membrane is not None and membrane not in MEMBRANE_MODES.values():
            raise ValueError(f"membrane must be None or one of "
                             f"{tuple(MEMBRANE_MODES.values())}, not {membrane!r}")
        check_network(network, layers=True)
        self._network, self._membrane = network, membrane
        L = len(network.cores)
        self._cores = tuple(SnnCore(core, membrane if index == L - 1 else None)
                            for index, core in enumerate(network.cores))
        self._rasters = tuple(SpikeRaster(core) for core in network.cores[:-1])
        first, last = network.cores[0], network.cores[-1]
        source, payload = input_stream(first)
        super().__init__({
            "command": In(stream.Signature(command_layout(first))),
            source: In(stream.Signature(payload)),
            "spikes": Out(stream.Signature(spike_layout(last))),
            "counts": Out(stream.Signature(count_layout(last))),
            **({"membranes": Out(stream.Signature(membrane_layout(last)))}
               if membrane else {}),
            "access": In(stream.Signature(network_access_layout(network))),
            "readback": Out(stream.Signature(unsigned(network_access_bits(network)))),
            "busy": Out(1),
            "timestep_done": Out(len(network.layers)),
        })

    @property
    def network(self) -> NetworkConfig:
        """The configuration the network was built for."""
        return self._network

    @property
    def membrane(self) -> str | None:
        """The last layer's membrane readout: ``"max"``, ``"final"`` or ``None``."""
        return self._membrane

    @property
    def cores(self) -> tuple[SnnCore, ...]:
        """The layers' cores, in order (testbenches watch their streams)."""
        return self._cores

    @property
    def rasters(self) -> tuple[SpikeRaster, ...]:
        """The converters between layers: ``rasters[l]`` from layer ``l`` to ``l + 1``."""
        return self._rasters

    def elaborate(self, platform) -> Module:
        m = Module()
        cores, rasters = self._cores, self._rasters
        for index, core in enumerate(cores):
            m.submodules[f"layer{index}"] = core
        for index, raster in enumerate(rasters):
            m.submodules[f"raster{index}"] = raster

        # -- one command for every layer, taken when all are idle; learning off
        ready = Cat(core.command.ready for core in cores).all()
        m.d.comb += self.command.ready.eq(ready)
        for core in cores:
            m.d.comb += [core.command.valid.eq(self.command.valid & ready),
                         core.command.payload.key.eq(self.command.payload.key),
                         core.command.payload.learn.eq(0)]

        # -- the chain: input into layer 0, each layer's spikes into the next one's raster
        source, _ = input_stream(self._network.cores[0])
        wiring.connect(m, wiring.flipped(getattr(self, source)), getattr(cores[0], source))
        for index, raster in enumerate(rasters):
            wiring.connect(m, cores[index].spikes, raster.spikes)
            wiring.connect(m, raster.raster, cores[index + 1].raster)
            m.d.comb += [raster.timestep_done.eq(cores[index].timestep_done),
                         cores[index].counts.ready.eq(1)]
        wiring.connect(m, cores[-1].spikes, wiring.flipped(self.spikes))
        wiring.connect(m, cores[-1].counts, wiring.flipped(self.counts))
        if self._membrane:
            wiring.connect(m, cores[-1].membranes, wiring.flipped(self.membranes))
        m.d.comb += [self.busy.eq(Cat(core.busy for core in cores).any()),
                     self.timestep_done.eq(Cat(core.timestep_done for core in cores))]

        # -- access: the addressed layer's port; readback from whichever answers
        request = self.access.payload
        for index, core in enumerate(cores):
            chosen = request.layer == index
            with m.If(chosen):
                m.d.comb += self.access.ready.eq(core.access.ready)
            m.d.comb += [
                core.access.valid.eq(self.access.valid & chosen),
                core.access.payload.write.eq(request.write),
                core.access.payload.theta.eq(request.theta),
                core.access.payload.addr.eq(request.addr),
                core.access.payload.data.eq(request.data),
                core.readback.ready.eq(self.readback.ready),
            ]
            if core.core.widths.bias:
                m.d.comb += core.access.payload.bias.eq(request.bias)
            with m.If(core.readback.valid):
                m.d.comb += [self.readback.valid.eq(1),
                             self.readback.payload.eq(core.readback.payload)]
        return m
