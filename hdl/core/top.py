"""``SnnCore``: the network core, its passes and stores wired together."""

from __future__ import annotations

from amaranth import Cat, Module, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...config import CoreConfig
from ..cycles import normalizes
from .access import AccessPort
from .build import TableBuild
from .current import CurrentPass
from .encode import EncodePass, generates
from .groups import GroupGather
from .layouts import (
    access_bits,
    access_layout,
    command_layout,
    count_layout,
    input_stream,
    membrane_layout,
    spike_layout,
)
from .learn import StdpLearnPass
from .membrane import MEMBRANE_MODES, MembraneReadout
from .neuron_store import NeuronStore
from .neurons import NeuronPass
from .normalize import Normalizer
from .readout import CountReadout
from .rows import RowList
from .sequencer import Sequencer
from .support import check_core
from .tables import TableStore
from .weights import WeightStore

__all__ = ["SnnCore"]


class SnnCore(wiring.Component):
    """The spiking layer with on-chip STDP, bit for bit as the golden ``Network``; or, with
    learning off, a layer trained elsewhere (signed weights, a bias per neuron).

    A sample: one ``command`` token (key, learn), then ``n_inputs / encoder.lanes``
    ``pixels`` tokens, each a word of ``encoder.lanes`` pixels, one per cycle (with
    ``encoder.kind = "direct"``, one ``raster`` token per timestep, taken as the timestep
    is encoded, instead; with ``"current"`` the same pixel tokens as the rate encoder's,
    from which the current pass computes the constant pixel currents before timestep 0);
    the core runs ``timesteps`` timesteps, sending a
    ``spikes`` token for every neuron word with a spike, then (learning on) normalizes the
    weights, then sends the ``n_neurons`` spike ``counts`` and waits for the next command.
    Between samples the ``access`` stream reads (answer on ``readback``) and writes weight,
    threshold and (with ``widths.bias``) bias words.  ``docs/architecture.md`` ("The core")
    draws the components.

    Parameters
    ----------
    core : CoreConfig
        Everything: sizes, widths, neuron and STDP parameters, ``n_pe`` lanes.
    membrane : "max", "final" or None
        The membrane readout after the counts (``membrane.membrane_mode`` of the
        configuration's ``classify``; ``None``: counts only, the core as without it).

    Members
    -------
    command : In(stream.Signature(command_layout(core)))
        Starts a sample.
    pixels : In(stream.Signature(pixel_word_layout(core)))
        The sample's pixels, ``encoder.lanes`` per token: pixel ``j`` in lane ``j % lanes``
        of token ``j // lanes`` (rate encoder and current input).
    raster : In(stream.Signature(unsigned(n_inputs)))
        Direct input only: a timestep's input spikes, input ``j`` at bit ``j``.
    spikes : Out(stream.Signature(spike_layout(core)))
        Output spikes per timestep (a word and its lane mask).
    counts : Out(stream.Signature(count_layout(core)))
        Per-sample spike count of every neuron.
    membranes : Out(stream.Signature(membrane_layout(core)))
        With ``membrane`` only: after the counts, the sample's membrane words
        (:class:`~.membrane.MembraneReadout`).
    access : In(stream.Signature(access_layout(core)))
        Weight, threshold and bias reads and writes, between samples.
    readback : Out(stream.Signature(unsigned(access_bits(core))))
        Answers to ``access`` reads, lane 0 at the LSB.
    busy : Out(1)
        High from a command until its last count (or membrane word) has gone out.
    timestep_done : Out(1)
        One-cycle pulse when a timestep's last pass has finished (for cycle counting).
    """

    def __init__(self, core: CoreConfig, membrane: str | None = None) -> None:
        if not isinstance(core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {core!r}")
        if membrane is not None and membrane not in MEMBRANE_MODES.values():
            raise ValueError(f"membrane must be None or one of "
                             f"{tuple(MEMBRANE_MODES.values())}, not {membrane!r}")
        check_core(core)
        self._core, self._membrane = core, membrane
        source, payload = input_stream(core)
        super().__init__({
            "command": In(stream.Signature(command_layout(core))),
            source: In(stream.Signature(payload)),
            "spikes": Out(stream.Signature(spike_layout(core))),
            "counts": Out(stream.Signature(count_layout(core))),
            **({"membranes": Out(stream.Signature(membrane_layout(core)))}
               if membrane else {}),
            "access": In(stream.Signature(access_layout(core))),
            "readback": Out(stream.Signature(unsigned(access_bits(core)))),
            "busy": Out(1),
            "timestep_done": Out(1),
        })

    @property
    def core(self) -> CoreConfig:
        """The configuration the core was built for."""
        return self._core

    @property
    def membrane(self) -> str | None:
        """The membrane readout: ``"max"``, ``"final"`` or ``None``."""
        return self._membrane

    def _store_readers(self, *passes: str) -> tuple[str, ...]:
        """The neuron store's readers: ``passes``, the counts, the final membranes, access."""
        return (*passes, "counts", *("membranes",) * (self._membrane == "final"), "access")

    @property
    def words(self) -> int:
        """Neuron words ``W = n_neurons / n_pe`` (weight words per input row)."""
        return self._core.derived.neurons_per_pe

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self._core
        N_in, E, R = core.n_inputs, core.encoder.lanes, core.row_banks
        learning = core.stdp.learn
        normalizing = normalizes(core)
        interval = learning and core.stdp.update_every > 1

        m.submodules.sequencer = seq = Sequencer(core, normalizing)
        if core.encoder.kind == "current":
            # no input spikes: the current pass, then neuron passes alone
            return self._current_input(m, seq)
        if core.forward == "lut":
            # group lists and tables in place of row lists and weights
            return self._lut_forward(m, seq)
        m.submodules.encode = encode = EncodePass(core)
        m.submodules.neurons = neurons = NeuronPass(core)
        rule_passes = ("learn",) * learning + ("normalize",) * normalizing
        m.submodules.weights = weights = WeightStore(core, rule_passes)
        m.submodules.neuron_store = store = NeuronStore(
            core, self._store_readers("neurons", *rule_passes))
        m.submodules.access = access = AccessPort(core)
        m.submodules.readout = readout = CountReadout(core)
        learn = normalizer = None
        if learning:
            m.submodules.learn = learn = StdpLearnPass(core)
        if normalizing:
            m.submodules.normalizer = normalizer = Normalizer(core)

        # -- the row lists: one of every input; with R banks one per bank for the neuron
        #    pass; with update_every > 1 one of the inputs with a pre event since the update
        def row_list(name, rows, lanes, readers, flags):
            m.submodules[name] = lst = RowList(rows, lanes, readers)
            m.d.comb += [
                lst.clear.eq(encode.rows_clear), lst.write_bank.eq(encode.rows_bank),
                lst.read_bank.eq(seq.step_bank), lst.swap.eq(seq.neurons_start),
                lst.append.valid.eq(encode.appended.valid),
                lst.append.word.eq(encode.appended.word), lst.append.flags.eq(flags),
            ]
            return lst

        spikes = encode.appended.flags
        main_readers = (("neurons",) if R == 1 else ()) + (
            ("learn",) if learning and not interval else ())
        rows = row_list("rows", N_in, E, main_readers, spikes) if main_readers else None
        bank_lists = [rows] if R == 1 else [
            row_list(f"bank{b}_rows", N_in // R, E // R, ("neurons",),
                     Cat(spikes[e] for e in range(b, E, R))) for b in range(R)]
        learn_rows = row_list("learn_rows", N_in, E, ("learn",), encode.seen) \
            if interval else rows

        # -- the sequencer and the encode pass ----------------------------------------------
        wiring.connect(m, wiring.flipped(self.command), seq.command)
        if core.encoder.kind == "rate":
            wiring.connect(m, wiring.flipped(self.pixels), encode.pixels)
        else:
            wiring.connect(m, wiring.flipped(self.raster), encode.raster)
        m.d.comb += [
            self.busy.eq(seq.busy), self.timestep_done.eq(seq.timestep_done),
            *([encode.key.eq(seq.key)] if generates(core) else []),
            encode.load.eq(seq.encode_load),
            encode.start.eq(seq.encode_start), encode.timestep.eq(seq.encode_timestep),
            *([encode.accumulate.eq(seq.encode_accumulate)] if learning else []),
            seq.encode_busy.eq(encode.busy),
            *([encode.lookup_bank.eq(seq.step_bank)] if learning else []),
        ]

        # -- the neuron pass ---------------------------------------------------------------------
        wiring.connect(m, neurons.spikes, wiring.flipped(self.spikes))
        m.d.comb += [
            neurons.start.eq(seq.neurons_start), seq.neurons_done.eq(neurons.done),
            seq.queue_empty.eq(neurons.queue_empty),
            *([neurons.key.eq(seq.key), neurons.learn.eq(seq.learn)] if learning else []),
            neurons.timestep.eq(seq.timestep), neurons.first.eq(seq.first),
            *([neurons.accumulate.eq(seq.accumulate)] if learning else []),
            weights.rows.eq(neurons.weights_rows), neurons.weights.eq(weights.bank_data),
            store.neurons_read.eq(neurons.store_read), store.neurons_write.eq(
                neurons.store_write), neurons.stored.eq(store.data),
        ]
        for b, lst in enumerate(bank_lists):
            m.d.comb += [lst.neurons_en.eq(neurons.slots.en),
                         lst.neurons_slot.eq(neurons.slots.slot),
                         neurons.rows[b].eq(lst.row), neurons.rows_count[b].eq(lst.count),
                         neurons.rows_flagged[b].eq(lst.flagged)]

        # -- the learning rule: the STDP learn pass and the normalization --------------------
        if learn is not None:
            m.d.comb += [
                learn.clear.eq(seq.neurons_start), learn.updated.eq(neurons.updated),
                learn.start.eq(seq.learn_start), seq.learn_done.eq(learn.done),
                learn.learn.eq(seq.learn), learn.update_step.eq(seq.update_step),
                learn.pre_rows.eq(learn_rows.count),
                learn_rows.learn_en.eq(learn.slots.en),
                learn_rows.learn_slot.eq(learn.slots.slot), learn.row.eq(learn_rows.row),
                weights.learn_read.eq(learn.weights_read), learn.weights.eq(weights.data),
                weights.learn_write.eq(learn.weights_write),
                store.learn_read.eq(learn.store_read), learn.stored.eq(store.data),
                encode.learn_lookup.eq(learn.lookup),
                learn.lookup_state.eq(encode.lookup_state),
                learn.lookup_trace.eq(encode.lookup_trace),
            ]
        else:
            m.d.comb += seq.learn_done.eq(1)    # the decision cycle, with nothing to learn
        if normalizer is not None:
            m.d.comb += [
                normalizer.start.eq(seq.normalize_start),
                seq.normalize_done.eq(normalizer.done),
                weights.normalize_read.eq(normalizer.weights_read),
                normalizer.weights.eq(weights.data),
                weights.normalize_write.eq(normalizer.weights_write),
                store.normalize_read.eq(normalizer.store_read),
                normalizer.stored.eq(store.data),
                encode.normalize_lookup.eq(normalizer.lookup),
                normalizer.lookup_state.eq(encode.lookup_state),
            ]

        self._outputs(m, seq, readout, access, weights, store, neurons)
        return m

    def _current_input(self, m: Module, seq: Sequencer) -> Module:
        """The core with current input (learning off): the current pass takes the pixels
        and computes the pixel currents; every timestep the neuron pass runs on them
        without rows (``docs/architecture.md``, "Current input")."""
        core = self._core
        m.submodules.current = current = CurrentPass(core)
        m.submodules.neurons = neurons = NeuronPass(core)
        m.submodules.weights = weights = WeightStore(core, ())
        m.submodules.neuron_store = store = NeuronStore(core, self._store_readers("neurons"))
        m.submodules.access = access = AccessPort(core)
        m.submodules.readout = readout = CountReadout(core)

        # -- the sequencer and the current pass (in the encode pass's place) ---------------
        wiring.connect(m, wiring.flipped(self.command), seq.command)
        wiring.connect(m, wiring.flipped(self.pixels), current.pixels)
        m.d.comb += [
            self.busy.eq(seq.busy), self.timestep_done.eq(seq.timestep_done),
            current.load.eq(seq.encode_load), seq.encode_busy.eq(current.busy),
            seq.learn_done.eq(1),               # the decision cycle, with nothing to learn
            weights.rows.eq(current.weights_rows), current.weights.eq(weights.bank_data),
            current.constant_addr.eq(neurons.store_read.addr),
        ]

        # -- the neuron pass: no rows (one token per word), the pixel currents -------------
        wiring.connect(m, neurons.spikes, wiring.flipped(self.spikes))
        m.d.comb += [
            neurons.start.eq(seq.neurons_start), seq.neurons_done.eq(neurons.done),
            seq.queue_empty.eq(neurons.queue_empty),
            neurons.timestep.eq(seq.timestep), neurons.first.eq(seq.first),
            store.neurons_read.eq(neurons.store_read), store.neurons_write.eq(
                neurons.store_write), neurons.stored.eq(store.data),
            neurons.constant.eq(current.constant),
        ]
        self._outputs(m, seq, readout, access, weights, store, neurons)
        return m

    def _lut_forward(self, m: Module, seq: Sequencer) -> Module:
        """The core on the LUT forward engine (learning off): the encode pass's spikes
        gathered into groups and patterns (``GroupGather``), a group list per table bank,
        the tables (``TableStore``) in the weight store's place, built after a weight write
        before the next sample (``TableBuild``, between the command and the sequencer);
        ``docs/architecture.md``, "The LUT forward engine"."""
        core = self._core
        E, R = core.encoder.lanes, core.row_banks
        m.submodules.encode = encode = EncodePass(core)
        m.submodules.gather = gather = GroupGather(core)
        m.submodules.neurons = neurons = NeuronPass(core)
        m.submodules.tables = tables = TableStore(core)
        m.submodules.build = build = TableBuild(core)
        m.submodules.neuron_store = store = NeuronStore(core, self._store_readers("neurons"))
        m.submodules.access = access = AccessPort(core)
        m.submodules.readout = readout = CountReadout(core)

        # -- the commands through the build, the encode pass, the group lists ---------------
        wiring.connect(m, wiring.flipped(self.command), build.command)
        wiring.connect(m, build.release, seq.command)
        source, _ = input_stream(core)
        wiring.connect(m, wiring.flipped(getattr(self, source)), getattr(encode, source))
        m.d.comb += [
            self.busy.eq(seq.busy | build.busy), self.timestep_done.eq(seq.timestep_done),
            *([encode.key.eq(seq.key)] if generates(core) else []),
            encode.load.eq(seq.encode_load), encode.start.eq(seq.encode_start),
            encode.timestep.eq(seq.encode_timestep), seq.encode_busy.eq(encode.busy),
            gather.appended.eq(encode.appended), seq.learn_done.eq(1),
            build.written.eq(access.weights_write.en),
            tables.build_read.eq(build.read), build.tables.eq(tables.bank_data),
            tables.build_write.eq(build.write),
        ]
        groups = gather.groups
        for b in range(R):
            m.submodules[f"bank{b}_groups"] = lst = RowList(
                core.derived.lut_bank_groups, E // R, ("neurons",), core.lut_group)
            m.d.comb += [
                lst.clear.eq(encode.rows_clear), lst.write_bank.eq(encode.rows_bank),
                lst.read_bank.eq(seq.step_bank), lst.swap.eq(seq.neurons_start),
                lst.append.valid.eq(groups.valid), lst.append.word.eq(groups.word),
                lst.append.flags.eq(Cat(groups.flags[e] for e in range(b, E, R))),
                *(lst.append.payloads[i].eq(groups.payloads[e])
                  for i, e in enumerate(range(b, E, R))),
                lst.neurons_en.eq(neurons.slots.en), lst.neurons_slot.eq(neurons.slots.slot),
                neurons.rows[b].eq(lst.row), neurons.rows_count[b].eq(lst.count),
                neurons.rows_flagged[b].eq(lst.flagged), tables.patterns[b].eq(lst.payload),
            ]

        # -- the neuron pass: one table word per bank and token -----------------------------
        wiring.connect(m, neurons.spikes, wiring.flipped(self.spikes))
        m.d.comb += [
            neurons.start.eq(seq.neurons_start), seq.neurons_done.eq(neurons.done),
            seq.queue_empty.eq(neurons.queue_empty),
            neurons.timestep.eq(seq.timestep), neurons.first.eq(seq.first),
            tables.rows.eq(neurons.weights_rows), neurons.weights.eq(tables.bank_data),
            store.neurons_read.eq(neurons.store_read),
            store.neurons_write.eq(neurons.store_write), neurons.stored.eq(store.data),
        ]
        self._outputs(m, seq, readout, access, tables, store, neurons, build)
        return m

    def _outputs(self, m: Module, seq, readout, access, weights, store, neurons,
                 build=None) -> None:
        """The counts out, access between samples, and the biases (any input); with the
        LUT engine's ``build``, access waits while it runs."""
        core = self._core
        wiring.connect(m, readout.counts, wiring.flipped(self.counts))
        wiring.connect(m, wiring.flipped(self.access), access.access)
        wiring.connect(m, access.readback, wiring.flipped(self.readback))
        done = self._membranes(m, seq, readout, store, neurons)
        enable, free = seq.idle, access.free
        if build is not None:       # the command the build holds goes first, then access
            enable, free = seq.idle & ~build.busy, access.free | build.busy
        m.d.comb += [
            readout.start.eq(seq.counts_start), seq.counts_done.eq(done),
            store.counts_read.eq(readout.store_read), readout.stored.eq(store.data),
            access.enable.eq(enable), seq.access_free.eq(free),
            weights.access_addr.eq(access.weights_addr),
            weights.access_write.eq(access.weights_write), access.weights.eq(weights.data),
            store.access_read.eq(access.store_read), store.access_write.eq(access.store_write),
            access.stored.eq(store.data),
        ]
        if core.widths.bias:    # the biases, read with the state; loaded through access
            m.d.comb += [neurons.bias.eq(store.bias), access.biases.eq(store.bias),
                         store.bias_write.eq(access.bias_write)]

    def _membranes(self, m: Module, seq, readout, store, neurons):
        """The membrane readout after the counts (with ``membrane``); returns the signal
        that ends the sample's readout: the last count's, or the last membrane word's."""
        if self._membrane is None:
            return readout.done
        m.submodules.membranes = membranes = MembraneReadout(self._core, self._membrane)
        wiring.connect(m, membranes.membranes, wiring.flipped(self.membranes))
        m.d.comb += membranes.start.eq(readout.done)
        if self._membrane == "max":
            m.d.comb += [membranes.written.eq(neurons.store_write),
                         membranes.first.eq(seq.first)]
        else:
            m.d.comb += [store.membranes_read.eq(membranes.store_read),
                         membranes.stored.eq(store.data)]
        return membranes.done
