"""What ``plasticore explore`` sweeps and how: :class:`Settings`, checked when made.

Every field is the CLI option of the same name (``weight_bits`` is ``--weight-bits``), and
every error names the option as it is typed, so the CLI prints it as it is, on one line
(:class:`SettingsError`).  :meth:`Settings.from_text` takes the comma-separated lists as
typed; the constructor takes them parsed.  Checked against the configuration explored:
timesteps within ``1..`` its timesteps (which always join the list: the baseline), weight
widths within 1..16 and valid under the width transform, constraints and the metric to
minimize known, variants known, search widths among the weight widths, variant timesteps
within the configuration's, held-out samples below the training set, and where the runs
train (:class:`.cluster.Runner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from typing import Any

from ..config import Config, ConfigError
from . import cost
from .cluster import ClusterError, Runner
from .pareto import METRICS, SYNTH_METRICS, Constraint, ConstraintError, parse_constraints
from .precision import TRANSFORMS, VARIANTS, with_weight_bits

__all__ = ["Settings", "SettingsError", "int_list", "check_synth_metrics",
           "DEFAULT_TIMESTEP_FRACTIONS"]

#: Default timesteps as fractions of the configuration's: 350,200,100,50,25,10 for 350.
DEFAULT_TIMESTEP_FRACTIONS = (1, 4 / 7, 2 / 7, 1 / 7, 1 / 14, 1 / 35)

#: Weight widths the explorer can move a configuration to.
MAX_WEIGHT_BITS = 16


class SettingsError(ValueError):
    """A setting the explorer cannot run with; the message names the option, one line."""


def _text(values: Sequence[int]) -> str:
    return repr(",".join(str(v) for v in values))


def int_list(option: str, text: str, lo: int = 1, hi: int = 1 << 20) -> list[int]:
    """``"350,200,100"`` -> ``[350, 200, 100]``: each an integer in ``lo..hi``, none twice;
    else :class:`SettingsError` naming ``option`` and ``text``."""
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise SettingsError(f"{option} {text!r}: expected comma-separated integers like "
                            "350,100,50") from None
    if not values:
        raise SettingsError(f"{option} {text!r}: expected at least one value")
    _check_ints(option, values, lo, hi, text)
    return values


def _check_ints(option: str, values: Sequence[int], lo: int, hi: int,
                text: str | None = None) -> None:
    shown = repr(text) if text is not None else _text(values)
    for v in values:
        if not lo <= v <= hi:
            raise SettingsError(f"{option} {shown}: {v} is out of range {lo}..{hi}")
    if len(set(values)) != len(values):
        raise SettingsError(f"{option} {shown}: a value appears twice")


def check_synth_metrics(constraints: Sequence[Constraint], minimize: str,
                        synth: Any) -> None:
    """:class:`SettingsError` if a constraint or ``--minimize`` names a metric only
    synthesis gives (:data:`.pareto.SYNTH_METRICS`) and there is no ``--synth``."""
    if synth is not None:
        return
    for name, metric in [*((f"--constraints {c}", c.metric) for c in constraints),
                         (f"--minimize {minimize}", minimize)]:
        if metric in SYNTH_METRICS:
            raise SettingsError(f"{name}: {metric} is known only after synthesis: add "
                                "--synth")


def check_run_sizes(config: Config, clock_mhz: float | None, validation: int,
                    cost_samples: int, dataset_sizes: tuple[int, int] | None
                    ) -> tuple[float, int]:
    """``(clock_mhz, cost_samples)`` of a sweep: ``--clock-mhz`` (default the board's)
    finite and positive; with the dataset's ``(train, test)`` sizes, ``--validation``
    below the training samples and the cost samples at most the test samples."""
    if clock_mhz is None:
        clock_mhz = float(config.board.clock_mhz)
    elif not clock_mhz > 0 or clock_mhz == float("inf"):
        raise SettingsError(f"--clock-mhz {clock_mhz}: expected a finite positive number")
    if dataset_sizes is not None:
        train_size, test_size = dataset_sizes
        if validation >= train_size:
            raise SettingsError(f"--validation {validation}: must be below the "
                                f"{train_size} training samples")
        cost_samples = min(cost_samples, test_size)
    return clock_mhz, cost_samples


def _names(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``; ``""`` and ``"none"`` -> ``[]``."""
    if text.strip() in ("", "none"):
        return []
    return [v.strip() for v in text.split(",") if v.strip()]


@dataclass
class Settings:
    """What ``plasticore explore`` sweeps and how (CLI options of the same names), checked
    against ``config`` when made (module docstring); ``None`` fields take their default
    from it.

    Members
    -------
    config : Config
        The configuration explored: its core is the baseline, its dataset and readout
        those of every run.
    timesteps : list of int or None
        Timestep counts of the grid, at most the configuration's, which is added when
        missing (``None``: :data:`DEFAULT_TIMESTEP_FRACTIONS` of it).
    weight_bits : list of int
    seeds : int
        Seeds per point.
    workers, scheduler, scheduler_file
        Where the runs train (:class:`.cluster.Runner`; :meth:`runner` makes it).
    clock_mhz : float or None
        Core clock of the latencies (``None``: the configuration's ``board.clock_mhz``).
    constraints : list of Constraint
    minimize : str
        A metric of :data:`.pareto.METRICS`.
    search, search_rounds, search_seeds, confirm_seeds, search_bits
        The parameter search (:mod:`.enhance`).
    validation : int
        Training samples held out to score the search; below the training set's size.
    variants, variant_bits, variant_timesteps
        The single changes measured (:data:`.precision.VARIANTS`), at these widths and
        timesteps (``None``: the configuration's); no variants, no widths.
    width_transform : str
        ``scale`` or ``shift`` (:func:`.precision.with_weight_bits`).
    cost_samples : int
        Test samples of the cost model per run (at most the test set's size).
    synth : callable or None
        The synthesis hook of ``--synth`` (:func:`.cost.synth_hook`).
    dataset_sizes : (int, int) or None
        Init only: the training and test set sizes, when known, for the checks of
        ``validation`` and ``cost_samples``.
    """

    config: Config
    timesteps: list[int] | None = None
    weight_bits: list[int] = field(default_factory=lambda: [16, 8, 6, 4, 2])
    seeds: int = 3
    workers: int = 1
    scheduler: str | None = None
    scheduler_file: str | None = None
    clock_mhz: float | None = None
    constraints: list[Constraint] = field(default_factory=list)
    minimize: str = "energy_nj"
    search: bool = True
    search_rounds: int = 1
    search_seeds: int = 1
    confirm_seeds: int = 2
    validation: int = 300
    variants: list[str] = field(default_factory=list)
    variant_bits: list[int] = field(default_factory=list)
    variant_timesteps: int | None = None
    search_bits: list[int] = field(default_factory=list)
    width_transform: str = "scale"
    cost_samples: int = 20
    synth: cost.SynthHook | None = None
    dataset_sizes: InitVar[tuple[int, int] | None] = None

    def __post_init__(self, dataset_sizes: tuple[int, int] | None) -> None:
        config = self.config
        core = config.core
        if config.network.rule.kind == "none":
            raise SettingsError(f"{config.source}: rule.kind = 'none': the explorer sweeps "
                                "a network trained elsewhere with its weights "
                                "(TrainedSettings, plasticore explore CONFIG --weights W.npz "
                                "[--nir FILE.nir]), not by training it")
        if not core.stdp.learn:
            raise SettingsError(f"{config.source}: stdp.learn = false: nothing to train")
        T0 = core.timesteps
        if self.timesteps is None:
            wanted = (max(1, round(T0 * f)) for f in DEFAULT_TIMESTEP_FRACTIONS)
            self.timesteps = list(dict.fromkeys(wanted))
        else:
            self.timesteps = list(self.timesteps)
            _check_ints("--timesteps", self.timesteps, 1, T0)
        if T0 not in self.timesteps:
            self.timesteps.insert(0, T0)        # the baseline is always measured
        if self.width_transform not in TRANSFORMS:
            raise SettingsError(f"--width-transform {self.width_transform!r}: expected one "
                                f"of {', '.join(TRANSFORMS)}")
        _check_ints("--weight-bits", self.weight_bits, 1, MAX_WEIGHT_BITS)
        for b in self.weight_bits:
            try:
                with_weight_bits(core, b, self.width_transform)
            except ConfigError as exc:
                raise SettingsError(f"--weight-bits {b}: {exc}") from None
        for name in ("seeds", "search_rounds", "search_seeds", "validation", "cost_samples"):
            if getattr(self, name) < 1:
                raise SettingsError(f"--{name.replace('_', '-')} {getattr(self, name)}: "
                                    "must be at least 1")
        if self.confirm_seeds < 0:
            raise SettingsError(f"confirm_seeds = {self.confirm_seeds}: must be at least 0")
        if self.minimize not in METRICS:
            raise SettingsError(f"--minimize {self.minimize!r}: unknown metric (known: "
                                f"{', '.join(METRICS)})")
        for v in self.variants:
            if v not in VARIANTS:
                raise SettingsError(f"--variants: unknown variant {v!r} (known: "
                                    f"{', '.join(VARIANTS)}, or none)")
        if self.variants:
            _check_ints("--variant-bits", self.variant_bits, 1, MAX_WEIGHT_BITS)
        else:
            self.variant_bits = []
        _check_ints("--search-bits", self.search_bits, 1, MAX_WEIGHT_BITS)
        for b in self.search_bits:
            if b not in self.weight_bits:
                raise SettingsError(f"--search-bits {_text(self.search_bits)}: {b} is not "
                                    "one of --weight-bits")
        if self.variant_timesteps is not None and not 1 <= self.variant_timesteps <= T0:
            raise SettingsError(f"--variant-timesteps {self.variant_timesteps}: must be at "
                                f"most the config's {T0}")
        self.clock_mhz, self.cost_samples = check_run_sizes(
            config, self.clock_mhz, self.validation, self.cost_samples, dataset_sizes)
        check_synth_metrics(self.constraints, self.minimize, self.synth)
        try:
            self.runner()
        except ClusterError as exc:
            raise SettingsError(str(exc)) from None

    @classmethod
    def from_text(cls, config: Config, *, timesteps: str | None = None,
                  weight_bits: str = "16,8,6,4,2", constraints: str = "",
                  variants: str = "", variant_bits: str = "4", search_bits: str = "",
                  **rest: Any) -> Settings:
        """Settings from the lists as typed on the command line (comma-separated;
        ``variants``: also ``none``); ``rest`` are the other fields as they are."""
        try:
            parsed = parse_constraints(constraints)
        except ConstraintError as exc:
            raise SettingsError(f"--constraints: {exc}") from None
        names = _names(variants)
        return cls(
            config,
            timesteps=None if timesteps is None else int_list("--timesteps", timesteps),
            weight_bits=int_list("--weight-bits", weight_bits, 1, MAX_WEIGHT_BITS),
            constraints=parsed, variants=names,
            variant_bits=(int_list("--variant-bits", variant_bits, 1, MAX_WEIGHT_BITS)
                          if names else []),
            search_bits=(int_list("--search-bits", search_bits, 1, MAX_WEIGHT_BITS)
                         if search_bits.strip() else []),
            **rest)

    def runner(self) -> Runner:
        """Where the runs train (a context manager: ``with settings.runner() as r``)."""
        return Runner(self.workers, self.scheduler, self.scheduler_file)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``results.json`` (the constraints as text, whether synthesis was
        on, not the configuration, which the report names)."""
        out = {k: v for k, v in vars(self).items() if k not in ("config", "synth",
                                                                "constraints")}
        out["constraints"] = [str(c) for c in self.constraints]
        out["synth"] = self.synth is not None
        out["where"] = self.runner().where
        return out
