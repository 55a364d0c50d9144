"""Networks trained elsewhere: what ``plasticore explore`` sweeps for a layered network with
``rule.kind = "none"`` and its weights (:class:`TrainedSettings`), and how a point's
integer network is made (:class:`PointNetwork`).

Nothing trains: a point is the network at ``T`` timesteps with ``b``-bit weights on every
layer, scored on the validation and the test split (:mod:`.scoring`).  Its network comes
from one of two sources:

- **the NIR source** (``--nir FILE.nir``, :class:`NirSource`): every point is a fresh
  import of the float network (``plasticore/interchange/quantize.py: quantize``) at ``T``
  timesteps and ``b`` bits, with what the NIR file does not say taken from the
  configuration (dataset, input encoding, maximum rate, pixel bits, readout, seed, the
  reset of layer 0, ``--dt``), and the configuration's hardware shape (each layer's
  ``n_pe``, ``row_banks``, ``norm_groups``, ``forward``, ``lut_group``; the input
  ``lanes``) and rule.  At the configuration's
  own timesteps and widths the import must give the configuration and the weights file
  back exactly, or the settings are refused in one line naming the first difference: the
  file is then not the network's source.  Any width 2..16.
- **the weights file alone** (:class:`FileSource`): a narrower width ``b`` is the file's
  integer weights requantized by a rounding shift, :func:`requantize_weights`: with
  ``k = b0 - b`` (``b0`` the layer's width), ``w' = sat_b(floor((w + 2**(k-1)) / 2**k))``
  (round half up, saturated to the ``b``-bit range, which only the largest positive
  weights can leave), and ``widths.current_shift`` grows by ``k``, so one LSB of ``w'``
  adds what ``2**k`` LSBs of ``w`` did: membrane, thresholds, bias, leak and reset stay as
  they are, only the weights lose their ``k`` low bits.  A layer already at ``b`` bits or
  fewer stays as it is; a width above the file's is refused (nothing to gain without the
  float source: give ``--nir``).

Timestep points only change ``timesteps``.  The baseline is the configuration and its
weights as given (its timesteps, its widths), always measured.

Forward engines (``--forward``, ``--lut-group``; :mod:`.engines`) multiply the points in
hardware only: the sweep costs every point on each engine, from the same spikes, and scores
its accuracy once (the engines agree bit for bit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any

import numpy as np

from ..config import Config, ConfigError, NetworkConfig
from ..fixedpoint import saturate, shr_floor
from .cluster import ClusterError, Runner
from .engines import Engine, check_engines, parse_engines
from .pareto import METRICS, Constraint, ConstraintError, parse_constraints
from .settings import (
    SettingsError,
    _check_ints,
    check_run_sizes,
    check_synth_metrics,
    int_list,
)

__all__ = ["TrainedSettings", "PointNetwork", "NirSource", "FileSource", "requantize_weights",
           "TIMESTEP_FRACTIONS", "NIR_WEIGHT_BITS", "MAX_TIMESTEPS"]

Array = Any

#: Default timesteps as fractions of the configuration's: 25, 15, 10 for 25.
TIMESTEP_FRACTIONS = (1, 0.6, 0.4)
#: Weight widths a NIR import can make (signed weights).
NIR_WEIGHT_BITS = (2, 16)
#: Largest timestep count of a point (``NetworkConfig.timesteps``).
MAX_TIMESTEPS = (1 << 16) - 1


@dataclass(frozen=True)
class PointNetwork:
    """A point's integer network: its configuration and every layer's arrays.

    Members
    -------
    network : NetworkConfig
    weights, theta, bias : lists of int64 arrays, one per layer (``bias[l]`` may be None)
    how : str
        ``baseline``, ``nir import``, ``requantized`` or ``as in the file`` (only the
        timesteps changed).
    """

    network: NetworkConfig
    weights: list[Array]
    theta: list[Array]
    bias: list[Array | None]
    how: str

    @property
    def weight_width(self) -> int:
        """The widest layer's weight bits (every layer's after a sweep's width move)."""
        return max(layer.widths.weight for layer in self.network.layers)


def requantize_weights(weights: Array, shift: int, bits: int, signed: bool) -> Array:
    """Integer weights ``shift`` bits narrower, to ``bits`` bits: ``floor((w + 2**(shift-1))
    / 2**shift)`` (round half up), saturated to the ``bits``-bit range (two's complement when
    ``signed``); unchanged for ``shift = 0``.  int64 in and out."""
    w = np.asarray(weights, dtype=np.int64)
    if shift == 0:
        return w.copy()
    rounded = shr_floor(w + (1 << (shift - 1)), shift)
    return np.asarray(saturate(rounded, bits, signed), dtype=np.int64)


class FileSource:
    """Points from the configuration and its weights file alone (module docstring)."""

    how = "requantized"

    def __init__(self, config: Config, layers: Sequence[dict[str, Array]]):
        self._network = config.network
        self._layers = [{k: (None if v is None else np.asarray(v, dtype=np.int64))
                         for k, v in layer.items()} for layer in layers]

    @property
    def weight_width(self) -> int:
        return max(layer.widths.weight for layer in self._network.layers)

    def check_bits(self, bits: int) -> None:
        """Raise :class:`SettingsError` if ``bits`` is not a width this source makes."""
        if bits > self.weight_width:
            raise SettingsError(f"--weight-bits {bits}: above the weights file's "
                                f"{self.weight_width}-bit weights; requantizing integer "
                                "weights only narrows them (give --nir FILE.nir to import "
                                f"the float network at {bits} bits)")

    def point(self, timesteps: int, bits: int) -> PointNetwork:
        """The network at ``timesteps`` with every layer at ``bits`` bits or fewer."""
        self.check_bits(bits)
        layers, weights, narrowed = [], [], False
        for index, layer in enumerate(self._network.layers):
            w = layer.widths
            shift = max(0, w.weight - bits)
            narrowed = narrowed or shift > 0
            try:
                widths = dataclasses.replace(w, weight=w.weight - shift,
                                             current_shift=w.current_shift + shift)
                widths._validate(f"layers[{index}].widths.")
            except ConfigError as exc:
                raise SettingsError(f"--weight-bits {bits}: layer {index} requantized by "
                                    f"{shift} bits: {exc}") from None
            layers.append(dataclasses.replace(layer, widths=widths))
            weights.append(requantize_weights(self._layers[index]["weights"], shift,
                                              widths.weight, w.weight_signed))
        network = dataclasses.replace(self._network, timesteps=timesteps,
                                      layers=tuple(layers))
        return PointNetwork(network, weights, [layer["theta"] for layer in self._layers],
                            [layer["bias"] for layer in self._layers],
                            self.how if narrowed else "as in the file")


class NirSource:
    """Points imported afresh from the float network of a NIR file (module docstring)."""

    how = "nir import"

    def __init__(self, config: Config, nir_path: str, dt: float):
        from ..interchange.graph import network_of, read_graph

        self._config = config
        self._float = network_of(read_graph(nir_path), dt)
        self._dt = dt

    @property
    def weight_width(self) -> int:
        return max(layer.widths.weight for layer in self._config.network.layers)

    def check_bits(self, bits: int) -> None:
        lo, hi = NIR_WEIGHT_BITS
        if not lo <= bits <= hi:
            raise SettingsError(f"--weight-bits {bits}: a NIR import takes {lo}..{hi} bits "
                                "(signed weights)")

    def point(self, timesteps: int, bits: int) -> PointNetwork:
        """The import at ``timesteps`` and ``bits``, in the configuration's hardware shape;
        :class:`~plasticore.interchange.graph.NirError` if it cannot be made."""
        from ..interchange.quantize import ImportOptions, quantize

        self.check_bits(bits)
        own = self._config.network
        options = ImportOptions(
            dataset=self._config.data.dataset, timesteps=timesteps, encoder=own.input.kind,
            max_rate=own.input.max_rate, pixel_bits=own.input.pixel_bits, dt=self._dt,
            reset="subtract" if own.layers[0].neuron.reset_mode == "subtract" else "zero",
            weight_bits=bits, readout=self._config.classify.readout, seed=own.seed)
        imported = quantize(self._float, options)
        net = imported.config.network
        if len(net.layers) != len(own.layers):
            raise SettingsError(f"--nir: {len(net.layers)} layers, the configuration "
                                f"{len(own.layers)}")
        shaped = tuple(dataclasses.replace(layer, n_pe=mine.n_pe, row_banks=mine.row_banks,
                                           norm_groups=mine.norm_groups, forward=mine.forward,
                                           lut_group=mine.lut_group)
                       for layer, mine in zip(net.layers, own.layers, strict=True))
        network = dataclasses.replace(
            net, layers=shaped, input=dataclasses.replace(net.input, lanes=own.input.lanes),
            rule=own.rule)      # NIR has no rule: the configuration's (none, or bptt)
        return PointNetwork(network, list(imported.weights), list(imported.theta),
                            list(imported.bias), self.how)


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first place two nested dicts/lists differ, ``"path: a vs b"``; None if equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            found = first_difference(a.get(key), b.get(key),
                                     f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
        return None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def _same_arrays(name: str, mine: Sequence[Array | None],
                 theirs: Sequence[Array | None]) -> str | None:
    for index, (x, y) in enumerate(zip(mine, theirs, strict=True)):
        if (x is None) != (y is None) or (x is not None and y is not None
                                          and not np.array_equal(x, y)):
            return f"layer {index}'s {name}"
    return None


@dataclass
class TrainedSettings:
    """What ``plasticore explore`` sweeps for a network trained elsewhere (CLI options of
    the same names), checked when made: every point is built here, so a width or a
    timestep count that cannot be made is one line (:class:`SettingsError`) before
    anything runs.

    Members
    -------
    config : Config
        A layered (or one-layer) network trained off chip (``rule.kind`` ``"none"``, or
        ``"bptt"``: ``plasticore train``'s): the baseline, its
        dataset, readout and board.
    weights : list of dict
        Per layer ``{"weights", "theta", "bias"}`` (``golden.train.load_weights``'s
        ``layers``): the trained network.
    nir : str or None
        The NIR file the network was imported from (:class:`NirSource`); ``None``:
        :class:`FileSource`.
    dt : float
        NIR's timestep in seconds (``plasticore nir import --dt``).
    timesteps : list of int or None
        Timestep counts, 1..65535; the configuration's joins them (``None``:
        :data:`TIMESTEP_FRACTIONS` of it).
    weight_bits : list of int or None
        Weight widths of every layer (``None``: the file's and 2 and 4 bits fewer, at least
        2).
    seeds : int
        Encoder seeds per point (rate input; one with current input, which draws nothing).
    validation : int
        Training samples scored for the choice (the last ones of the training split).
    cost_samples : int
        Test samples of the cycle model per run.
    clock_mhz, constraints, minimize, workers, scheduler, scheduler_file
        As :class:`.settings.Settings`'s.
    synth : callable or None
        ``--synth``: a point's network -> its FPGA resources and estimated Fmax
        (:func:`.cost.network_synth_hook`), at which its latency is then taken.
    engines : list of Engine
        Forward engines every point is costed on besides the configuration's own
        (``--forward``, ``--lut-group``; :func:`.engines.parse_engines`); empty: the
        configuration's only.
    dataset_sizes : (int, int) or None
        Init only: the training and test set sizes, for the checks of ``validation`` and
        ``cost_samples``.
    """

    config: Config
    weights: list[dict[str, Array]]
    nir: str | None = None
    dt: float = 1e-4
    timesteps: list[int] | None = None
    weight_bits: list[int] | None = None
    seeds: int = 3
    validation: int = 300
    cost_samples: int = 20
    clock_mhz: float | None = None
    constraints: list[Constraint] = field(default_factory=list)
    minimize: str = "energy_nj"
    workers: int = 1
    scheduler: str | None = None
    scheduler_file: str | None = None
    synth: Callable[[NetworkConfig], dict[str, Any]] | None = None
    engines: list[Engine] = field(default_factory=list)
    dataset_sizes: InitVar[tuple[int, int] | None] = None
    points: dict[tuple[int, int], PointNetwork] = field(default_factory=dict, init=False,
                                                        repr=False)

    def __post_init__(self, dataset_sizes: tuple[int, int] | None) -> None:
        network = self.config.network
        if network.rule.stdp is not None:
            raise SettingsError(f"{self.config.source}: rule.kind = {network.rule.kind!r}: "
                                "a network trained off chip has rule.kind = 'none' (imported) "
                                "or 'bptt' (plasticore train)")
        source: NirSource | FileSource
        if self.nir is not None:
            from ..interchange.graph import NirError

            try:
                source = NirSource(self.config, self.nir, self.dt)
            except NirError as exc:
                raise SettingsError(f"--nir {self.nir}: {exc}") from None
        else:
            source = FileSource(self.config, self.weights)
        T0, b0 = network.timesteps, source.weight_width
        if self.timesteps is None:
            self.timesteps = list(dict.fromkeys(max(1, round(T0 * f))
                                                for f in TIMESTEP_FRACTIONS))
        else:
            self.timesteps = list(self.timesteps)
            _check_ints("--timesteps", self.timesteps, 1, MAX_TIMESTEPS)
        if T0 not in self.timesteps:
            self.timesteps.insert(0, T0)
        if self.weight_bits is None:
            self.weight_bits = list(dict.fromkeys(max(2, b0 - d) for d in (0, 2, 4)))
        else:
            self.weight_bits = list(self.weight_bits)
            _check_ints("--weight-bits", self.weight_bits, 1, 16)
        if b0 not in self.weight_bits:
            self.weight_bits.insert(0, b0)
        for name in ("seeds", "validation", "cost_samples"):
            if getattr(self, name) < 1:
                raise SettingsError(f"--{name.replace('_', '-')} {getattr(self, name)}: "
                                    "must be at least 1")
        if self.minimize not in METRICS:
            raise SettingsError(f"--minimize {self.minimize!r}: unknown metric (known: "
                                f"{', '.join(METRICS)})")
        self.clock_mhz, self.cost_samples = check_run_sizes(
            self.config, self.clock_mhz, self.validation, self.cost_samples, dataset_sizes)
        check_synth_metrics(self.constraints, self.minimize, self.synth)
        for b in self.weight_bits:
            source.check_bits(b)
        self._build(source, T0, b0)
        for point in self.points.values():
            check_engines(point.network, self.engines)
        try:
            self.runner()
        except ClusterError as exc:
            raise SettingsError(str(exc)) from None

    def _build(self, source: NirSource | FileSource, T0: int, b0: int) -> None:
        """Every point's network; the baseline is the configuration and its weights, and a
        NIR source must import to them at their own timesteps and widths."""
        from ..interchange.graph import NirError

        assert self.timesteps is not None and self.weight_bits is not None
        own = self.config.network
        baseline = PointNetwork(own, [layer["weights"] for layer in self.weights],
                                [layer["theta"] for layer in self.weights],
                                [layer["bias"] for layer in self.weights], "baseline")
        if isinstance(source, NirSource):
            try:
                again = source.point(T0, b0)
            except NirError as exc:
                raise SettingsError(f"--nir {self.nir}: {exc}") from None
            differs = (first_difference(again.network.to_dict(), own.to_dict())
                       or _same_arrays("weights", again.weights, baseline.weights)
                       or _same_arrays("theta", again.theta, baseline.theta)
                       or _same_arrays("bias", again.bias, baseline.bias))
            if differs is not None:
                raise SettingsError(
                    f"--nir {self.nir}: does not import to {self.config.source} and its "
                    f"weights at their own timesteps and widths ({differs}, the import vs "
                    "the configuration): give the NIR file they were imported from (and its "
                    "--dt)")
        for T in self.timesteps:
            for b in self.weight_bits:
                if (T, b) == (T0, b0):
                    self.points[(T, b)] = baseline
                    continue
                try:
                    self.points[(T, b)] = source.point(T, b)
                except (NirError, ConfigError) as exc:
                    raise SettingsError(f"--weight-bits {b}, --timesteps {T}: {exc}") from None

    @property
    def source(self) -> str:
        """Where the width points come from, in a few words (for reports)."""
        if self.nir is not None:
            return f"imported afresh from {self.nir} at each width (dt = {self.dt:g} s)"
        return ("the weights file's integer weights requantized by a rounding shift "
                "(round half up, widths.current_shift grown by the bits dropped)")

    @property
    def effective_seeds(self) -> int:
        """Seeds that differ: ``seeds``, or one with current input (no random draws)."""
        return 1 if self.config.network.input.kind == "current" else self.seeds

    def runner(self) -> Runner:
        """Where the runs go (a context manager)."""
        return Runner(self.workers, self.scheduler, self.scheduler_file)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``results.json``."""
        return {"nir": self.nir, "dt": self.dt, "timesteps": self.timesteps,
                "weight_bits": self.weight_bits, "seeds": self.effective_seeds,
                "validation": self.validation, "cost_samples": self.cost_samples,
                "clock_mhz": self.clock_mhz, "minimize": self.minimize,
                "constraints": [str(c) for c in self.constraints], "source": self.source,
                "synth": self.synth is not None,
                "engines": [e.label for e in self.engines],
                "where": self.runner().where}

    @classmethod
    def from_text(cls, config: Config, weights: list[dict[str, Array]], *,
                  timesteps: str | None = None, weight_bits: str | None = None,
                  constraints: str = "", forward: str | None = None,
                  lut_group: str | None = None, **rest: Any) -> TrainedSettings:
        """Settings from the lists as typed (comma-separated); ``rest`` as they are."""
        try:
            parsed = parse_constraints(constraints)
        except ConstraintError as exc:
            raise SettingsError(f"--constraints: {exc}") from None
        return cls(config, weights, engines=parse_engines(forward, lut_group),
                   timesteps=None if timesteps is None else int_list("--timesteps", timesteps,
                                                                     1, MAX_TIMESTEPS),
                   weight_bits=(None if weight_bits is None
                                else int_list("--weight-bits", weight_bits, 1, 16)),
                   constraints=parsed, **rest)
