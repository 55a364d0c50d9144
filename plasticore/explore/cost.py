"""What a design point costs: memory bits, latency, energy (an estimate), FPGA resources.

- **Memory** comes from the RTL itself: :func:`memory_bits` elaborates the network core
  (``hdl/core/``) for the configuration and adds up its memories (weights; everything
  else: neuron state words, generator states, traces, pixel and row lists).  No width rule
  is restated here.
- **Latency** comes from the exact cycle model (``hdl/cycles.py``) on the spike rasters of
  recorded test samples (:func:`measure`), at a clock in MHz given by the caller (or by a
  synthesis hook, :data:`SynthHook`).
- **Energy** is an *estimate*: operations and memory accesses counted per sample
  (:func:`measure`), priced with 45 nm per-operation energies (:data:`ENERGY_45NM`, Horowitz,
  ISSCC 2014; ``docs/explore.md``).  It ranks design points; it is not a power measurement of
  an FPGA.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Config, CoreConfig

__all__ = ["EnergyModel", "ENERGY_45NM", "memory_bits", "network_memory_bits", "measure",
           "latency", "energy", "SynthHook", "synth_hook", "network_synth_hook", "COUNTS"]

#: The per-sample means :func:`measure` returns (besides ``samples``).
COUNTS = ("cycles_inference", "cycles_learning", "input_spikes", "output_spikes",
          "synaptic_adds", "weight_words_read", "neuron_updates", "learned_words")

Array = Any

#: A synthesis hook: config -> ``{"fmax_mhz": float, "lut": int, ...}`` (:func:`synth_hook`).
SynthHook = Callable[[CoreConfig], dict[str, Any]]


def synth_hook(config: Config, board: str | None = None, *, build_root: Any = None,
               progress: Callable[[str], None] | None = None) -> SynthHook:
    """A :data:`SynthHook` that synthesizes a point's network core (``plasticore synth
    --design core``, ``boards/synth.py``: Yosys ``synth_xilinx``, cached by RTLIL) for
    ``board`` (default: the config's ``board.name``).

    The hook returns the board, the estimated Fmax in MHz (``fmax_mhz``, an estimate from the
    Artix-7 delay model, not timing analysis), the LUTs, flip-flops, 36 kbit block RAMs and
    DSP slices used, and whether the core fits the device.
    """
    from ..boards.synth import synthesize

    def hook(core: CoreConfig) -> dict[str, Any]:
        return _synth_summary(synthesize(dataclasses.replace(config, core=core), board,
                                         "core", build_root=build_root, progress=progress))

    return hook


def network_synth_hook(config: Config, board: str | None = None, *, build_root: Any = None,
                       progress: Callable[[str], None] | None = None
                       ) -> Callable[[Any], dict[str, Any]]:
    """:func:`synth_hook` for a layered network: the hook takes a
    :class:`~plasticore.config.NetworkConfig` and synthesizes its ``NetworkCore``
    (``plasticore synth --design core`` of ``config`` with that network)."""
    from ..boards.synth import synthesize

    def hook(network: Any) -> dict[str, Any]:
        return _synth_summary(synthesize(config.replace_network(network), board, "core",
                                         build_root=build_root, progress=progress))

    return hook


def _synth_summary(report: Any) -> dict[str, Any]:
    """What a synthesis hook returns of a ``boards.synth.SynthReport``."""
    used = {name: report.resources[name].used for name in ("lut", "ff", "bram36", "dsp")}
    return {"board": report.board, "fmax_mhz": round(report.fmax_mhz_estimate, 1),
            **used, "fits": report.fits}


@dataclass(frozen=True)
class EnergyModel:
    """Energy per operation, in picojoules.

    Members
    -------
    add_pj_per_bit : float
        Integer add (also compare, subtract, shift-and-add), per operand bit.
    mult_pj_per_bit2 : float
        Integer multiply, per product of the operand widths (array multiplier).
    sram_pj_per_bit : float
        On-chip SRAM read or write, per bit accessed.
    source : str
    """

    add_pj_per_bit: float
    mult_pj_per_bit2: float
    sram_pj_per_bit: float
    source: str

    def add(self, bits: int) -> float:
        return self.add_pj_per_bit * bits

    def mult(self, a_bits: int, b_bits: int) -> float:
        return self.mult_pj_per_bit2 * a_bits * b_bits

    def sram(self, bits: int) -> float:
        return self.sram_pj_per_bit * bits


#: Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm,
#: 0.9 V: 8-bit add 0.03 pJ (32-bit 0.1 pJ), 8-bit multiply 0.2 pJ (32-bit 3.1 pJ), 64-bit
#: read of an 8 KB SRAM 10 pJ.  Scaled linearly in the width for adds (0.03 / 8), with the
#: product of the widths for multiplies (0.2 / 64), per bit for SRAM (10 / 64).
ENERGY_45NM = EnergyModel(0.03 / 8, 0.2 / 64, 10.0 / 64,
                          "Horowitz ISSCC 2014, 45 nm (scaled per bit)")


def _walk_memories(component: Any) -> tuple[tuple[str, int, int], ...]:
    """``(path, depth, width)`` of every memory of ``component`` elaborated (paths are the
    submodule names joined by ``/``), sorted."""
    # amaranth: the component is elaborated only to read its memories
    from amaranth.hdl import Fragment, MemoryInstance, Shape

    frag = Fragment.get(component, None)
    out: list[tuple[str, int, int]] = []

    def walk(f: Any, path: str) -> None:
        for sub, name, *_ in f.subfragments:
            walk(sub, f"{path}/{name}" if path else str(name))
        if isinstance(f, MemoryInstance):
            data = f._data          # MemoryData: public shape and depth
            out.append((path, int(data.depth), Shape.cast(data.shape).width))

    walk(frag, "")
    return tuple(sorted(out))


@functools.lru_cache(maxsize=64)
def _memories(core_json: str, membrane: str | None) -> tuple[tuple[str, int, int], ...]:
    from ..hdl.core import SnnCore

    return _walk_memories(SnnCore(CoreConfig.from_json(core_json), membrane))


@functools.lru_cache(maxsize=64)
def _network_memories(network_json: str,
                      membrane: str | None) -> tuple[tuple[str, int, int], ...]:
    import json

    from ..config import NetworkConfig
    from ..hdl.network import NetworkCore

    return _walk_memories(NetworkCore(NetworkConfig.from_dict(json.loads(network_json)),
                                      membrane))


def _is_weight_memory(path: str) -> bool:
    """A memory of a core's weight store (one per row bank): ``weights/...``, or on the LUT
    engine its table store, ``tables/...`` (the tables hold the weights, as their
    single-input entries, and every other subset sum)."""
    return path.split("/")[0] in ("weights", "tables")


def memory_bits(core: CoreConfig, membrane: str | None = None) -> dict[str, Any]:
    """Bits of every memory of the RTL core for ``core``, with the membrane readout
    ``membrane`` (``hdl.core.membrane.membrane_mode`` of the configuration's ``classify``;
    ``"max"`` adds its running-maximum memory to the state).

    Returns ``weight_bits`` (the weight memory), ``state_bits`` (all other memories) and
    ``memories``: ``{name: [depth, width]}``.  Only configuration fields the RTL depends on
    matter (the seed, for instance, only fills ROMs).
    """
    mems = _memories(core.replace(seed=0).to_json(), membrane)
    weights = sum(d * w for name, d, w in mems if _is_weight_memory(name))
    total = sum(d * w for _, d, w in mems)
    return {"weight_bits": weights, "state_bits": total - weights,
            "memories": {name: [d, w] for name, d, w in mems}}


def network_memory_bits(network: Any, membrane: str | None = None) -> dict[str, Any]:
    """Bits of every memory of the layer pipeline (``hdl/network.py: NetworkCore``) for the
    :class:`~plasticore.config.NetworkConfig` ``network``, per layer, with the membrane
    readout ``membrane`` (``hdl.core.membrane.membrane_mode`` of the configuration's
    ``classify``): ``"max"`` adds the running-maximum memory, ``W`` words of ``n_pe``
    membranes, to the last layer's state.

    Returns ``layers``: per layer ``{"weight_bits", "state_bits", "lanes"}`` (the memories
    of its core, ``layerN/...``; ``lanes`` its ``n_pe``), ``other_bits`` (memories outside
    the cores: the converters between layers), and the totals ``weight_bits`` and
    ``state_bits`` (everything but the weights, ``other_bits`` included).
    """
    import dataclasses
    import json

    mems = _network_memories(json.dumps(dataclasses.replace(network, seed=0).to_dict(),
                                        sort_keys=True), membrane)
    layers = []
    inside = 0
    for index, layer in enumerate(network.layers):
        prefix = f"layer{index}/"
        own = [(name[len(prefix):], d, w) for name, d, w in mems if name.startswith(prefix)]
        weight = sum(d * w for name, d, w in own if _is_weight_memory(name))
        total = sum(d * w for _, d, w in own)
        inside += total
        layers.append({"weight_bits": weight, "state_bits": total - weight,
                       "lanes": layer.n_pe})
    weights = sum(layer["weight_bits"] for layer in layers)
    everything = sum(d * w for _, d, w in mems)
    return {"layers": layers, "other_bits": everything - inside, "weight_bits": weights,
            "state_bits": everything - weights}


def measure(net: Any, label_set: Any, test_set: Any) -> dict[str, Any]:
    """Cycles and operation counts per sample on ``test_set`` (learning off), for the cost
    model.  ``net`` is a trained ``golden.network.Network``; each sample is rerun with its
    rasters recorded (key = index, as in the test pass).

    Returns per-sample means: ``cycles_inference`` (cycle model, learning off),
    ``cycles_learning`` (the cycle model with learning on, on the same spikes: an estimate
    of a training sample's cycles), ``input_spikes``, ``output_spikes``, and the counts of
    :func:`energy`: ``synaptic_adds`` (active input x neuron), ``weight_words_read``
    (active input x neuron word), ``neuron_updates``, ``learned_words`` (weight words a
    training sample's learn passes rewrite, on the same spikes).
    """
    from ..hdl import cycles

    core = net.core
    totals = dict.fromkeys(COUNTS, 0.0)
    n = len(test_set)
    W = core.n_neurons // core.n_pe
    for k in range(n):
        res = net.run_sample(test_set.images[k], key=k, learn=False, record=True)
        works = cycles.work_of(core, res.input_raster, res.raster)
        totals["cycles_inference"] += cycles.sample_cycles(
            core, res.input_raster, res.raster, learn=False).total
        totals["cycles_learning"] += cycles.sample_cycles(
            core, res.input_raster, res.raster, learn=True).total
        active = int(res.input_raster.sum())
        totals["input_spikes"] += active
        totals["output_spikes"] += int(res.raster.sum())
        totals["synaptic_adds"] += active * core.n_neurons
        totals["weight_words_read"] += sum(W * max(w.active, 1) for w in works)
        totals["neuron_updates"] += core.timesteps * core.n_neurons
        totals["learned_words"] += sum(cycles.learned_words(core, w, True) for w in works)
    return {key: value / max(n, 1) for key, value in totals.items()} | {"samples": n}


def latency(counts: dict[str, Any], clock_mhz: float) -> dict[str, float]:
    """Cycles and microseconds per sample (inference and learning) at ``clock_mhz``."""
    return {
        "cycles": float(counts["cycles_inference"]),
        "latency_us": float(counts["cycles_inference"]) / clock_mhz,
        "cycles_learning": float(counts["cycles_learning"]),
        "latency_learning_us": float(counts["cycles_learning"]) / clock_mhz,
    }


def energy(core: CoreConfig, counts: dict[str, Any],
           model: EnergyModel = ENERGY_45NM, encoder: bool = True) -> dict[str, float]:
    """Estimated energy per sample in nanojoules, inference and training, with its parts
    (``encoder = False``: a layer without the rate encoder's generators, a later layer of
    a network or current input; its encoder part is 0).

    Inference, per sample:

    - encoder: one generator step (3 xor-shifts, counted as 3 adds of 32 bits), a 16-bit
      compare and a generator-state read and write (32 bits each) per input and timestep;
    - synapses: one weight word read (``n_pe * weight`` bits; on the LUT engine a table
      word, ``n_pe * lut_sum_bits``) per row read (an active input, or on the LUT engine
      a group with a spike) and neuron word, one add of ``weight_sum_bits`` (the running
      sum of weights) per row read and neuron; the LUT engine's table build, once per
      weight load, is not counted;
    - neurons: one neuron-state word read and written per neuron and timestep (the RTL's
      neuron word width over ``n_pe``), a leak (add), the sum ``leaked + I - h`` (2 adds)
      and the threshold compare (1 add), all ``membrane_sum_bits`` wide.

    Training adds, per sample: per rewritten weight word a read and a write and per synapse
    of it a ``trace x 16``-bit multiply and an add of ``weight`` bits; per neuron and input
    and timestep a trace decay (add); and the normalization: per weight a read, a
    ``weight x 17``-bit multiply and a write, per neuron a ``weight_sum_bits`` accumulate per
    input.
    """
    d, w = core.derived, core.widths
    mem = memory_bits(core)["memories"]
    neuron_word = mem["neurons"][1] / core.n_pe if "neurons" in mem else 0
    T, n_in, n_out, P = core.timesteps, core.n_inputs, core.n_neurons, core.n_pe
    encoder_pj = (T * n_in * (3 * model.add(32) + model.add(16) + 2 * model.sram(32))
                  if encoder else 0.0)
    word = d.lut_sum_bits if core.forward == "lut" else w.weight
    synapses = (counts["weight_words_read"] * model.sram(P * word)
                + counts["synaptic_adds"] * model.add(d.weight_sum_bits))
    neurons = counts["neuron_updates"] * (2 * model.sram(int(neuron_word))
                                          + 4 * model.add(d.membrane_sum_bits))
    inference = encoder_pj + synapses + neurons
    stdp = counts["learned_words"] * (2 * model.sram(P * w.weight)
                                      + P * (model.mult(w.trace, 16) + model.add(w.weight)))
    traces = T * (n_in + n_out) * model.add(w.trace)
    norm = 0.0
    if core.stdp.norm:
        norm = n_in * n_out * (2 * model.sram(w.weight) + model.mult(w.weight, 17)
                               + model.add(d.weight_sum_bits))
    training = inference + stdp + traces + norm
    nj = 1e-3
    return {"energy_nj": inference * nj, "energy_train_nj": training * nj,
            "energy_encoder_nj": encoder_pj * nj, "energy_synapses_nj": synapses * nj,
            "energy_neurons_nj": neurons * nj, "energy_learning_nj": (stdp + traces + norm) * nj}
