"""The analyses that compare many prunings (`sweep`, `sensitivity`, run by `experiment_series`). Here: what they
are asked (specs), what they report (events), and their results. Plain data, no torch, so the app can build forms
and read results before torch is loaded.

A sweep prunes one trained model with several methods to several sparsities, fine-tuning each point; a
sensitivity analysis prunes one layer at a time, without fine-tuning, to see which layers tolerate it.
Both yield `Progress` for the experiments they run (the dense training, each sweep point), then one
result event per point, and end with exactly one `SweepEnded` / `SensitivityEnded`.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from prunetui.engine.core.config import SCOPES, ExperimentConfig
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.events import Event
from prunetui.engine.core.seed_stats import MeanStd, mean_std
from prunetui.engine.pruning.registry import CRITERIA, SCHEDULES
from prunetui.engine.storage.csv_text import csv_text
from prunetui.engine.storage.runs import config_hash

DEFAULT_METHODS = ("l1:layer:one-shot", "l1:global:one-shot", "random:layer:one-shot")
DEFAULT_SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
DEFAULT_AMOUNTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Settings a sweep sets per point; every other setting is shared by all points and the dense model.
POINT_SETTINGS = ExperimentConfig.settings_with("point")
# Settings that say where, not what: a sweep may resume with them changed.
PLACE_SETTINGS = ExperimentConfig.settings_with("place")
# Settings a sensitivity analysis has no use for: it prunes each layer once, to its own amounts, without fine-tuning.
SENSITIVITY_UNUSED_SETTINGS = ExperimentConfig.settings_with("plan")


# -- specs ------------------------------------------------------------------------------------------


def sensitivity_criteria() -> list[str]:
    """The criteria a sensitivity analysis can prune by: those that need no training batches to score weights
    (it measures a trained model as it is)."""
    return [name for name, criterion in CRITERIA.items() if not criterion.needs_batches]


def parse_method(text: str) -> str:
    """Check "criterion[:scope[:schedule]]", layer and one-shot by default: "l1:global" -> "l1:global:one-shot"."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise ConfigError(f"invalid --methods: {text!r} is not criterion:scope:schedule")
    criterion, scope, schedule = parts + ["", "layer", "one-shot"][len(parts) :]
    for value, choices, what in ((criterion, CRITERIA, "criterion"), (scope, SCOPES, "scope"),
                                 (schedule, SCHEDULES, "schedule")):  # fmt: skip
        if value not in choices:
            raise ConfigError(f"invalid --methods: {what} {value!r} in {text!r} is not one of {', '.join(choices)}")
    return f"{criterion}:{scope}:{schedule}"


def parse_methods(text: str) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(parse_method(part) for part in text.split(",") if part.strip()))
    if not methods:
        raise ConfigError("invalid --methods: give at least one criterion:scope:schedule")
    return methods


def parse_fractions(text: str, flag: str) -> tuple[float, ...]:
    """A comma-separated list of fractions in [0, 1), sorted and without repeats."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(f"invalid {flag}: {part.strip()!r} is not a number") from None
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"invalid {flag}: {value:g} is not in [0, 1)")
        values.append(value)
    return tuple(sorted(set(values)))


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """Methods by sparsities by seeds, every point pruned from its seed's trained dense model and fine-tuned.

    `base` gives every other setting; its criterion, scope, schedule and sparsity are ignored, and its seed too
    when `seeds` are given. Points start from the trained weights with no further training (epochs=0), except agp,
    which prunes while it trains, and rewinding, which goes back into training: they train from the seed's initial
    weights for `base.epochs`, the dense model's budget, so the dense model they are compared with had the same
    training.
    """

    base: ExperimentConfig
    methods: tuple[str, ...] = DEFAULT_METHODS
    sparsities: tuple[float, ...] = DEFAULT_SPARSITIES
    seeds: tuple[int, ...] = ()  # none: the base's seed

    def __post_init__(self) -> None:
        # Spelled out in full ("l1" -> "l1:layer:one-shot"), so results match however the method was written.
        object.__setattr__(self, "methods", tuple(dict.fromkeys(parse_method(method) for method in self.methods)))
        object.__setattr__(self, "sparsities", tuple(self.sparsities))
        object.__setattr__(self, "seeds", tuple(dict.fromkeys(self.seeds)) or (self.base.seed,))

    def points(self) -> list[tuple[str, float, int]]:
        """(method, sparsity, seed), seeds innermost."""
        return [(method, sparsity, seed) for method in self.methods for sparsity in self.sparsities
                for seed in self.seeds]  # fmt: skip

    def point_config(self, method: str, sparsity: float, seed: int | None = None) -> ExperimentConfig:
        """The experiment of one point; `seed` None: the base's."""
        criterion, scope, schedule = parse_method(method).split(":")
        point = self.base.replace(criterion=criterion, scope=scope, schedule=schedule, sparsity=sparsity,
                                  layer_sparsity="", seed=self.base.seed if seed is None else seed)  # fmt: skip
        return point if point.trains_from_scratch else point.replace(epochs=0)

    def method_configs(self) -> list[ExperimentConfig]:
        """One point's config per method: what its points do, whatever their sparsity."""
        return [self.point_config(method, self.sparsities[0]) for method in self.methods]

    def dense_config(self, seed: int) -> ExperimentConfig:
        return dense_config(self.base.replace(seed=seed))

    def stage(self, method: str, sparsity: float, seed: int) -> str:
        """How progress and messages name a point: "l1:layer:one-shot at 90 %", with ", seed 1" among seeds."""
        return f"{method} at {sparsity * 100:g} %{self._seed_words(seed)}"

    def dense_stage(self, seed: int) -> str:
        return f"dense model{self._seed_words(seed)}"

    def _seed_words(self, seed: int) -> str:
        return f", seed {seed}" if len(self.seeds) > 1 else ""

    def validate(self) -> SweepSpec:
        """Return self, or raise ConfigError naming the first point that cannot run."""
        if not self.methods or not self.sparsities:
            raise ConfigError("a sweep needs at least one method and one sparsity")
        for seed in self.seeds:
            self.dense_config(seed).validate()
        for point in self.points():
            try:
                self.point_config(*point).validate()
            except ConfigError as error:
                raise ConfigError(f"{point[0]} at sparsity {point[1]:g}: {error}") from None
        return self


def dense_config(config: ExperimentConfig) -> ExperimentConfig:
    """The experiment that only trains: nothing pruned, no fine-tuning."""
    return config.replace(criterion="l1", scope="layer", schedule="one-shot", sparsity=0.0, layer_sparsity="",
                          finetune_epochs=0, rewind=False, reinit=False)  # fmt: skip


def sweep_directory(root: Path, base: ExperimentConfig) -> Path:
    """The default directory of a sweep: sweeps with the same shared settings share it (and their dense models),
    wherever the data is and whichever seeds they run, so the CLI and the app resume each other's sweeps."""
    settings = config_hash(dense_config(base).replace(data_dir="", device="auto", seed=0))
    return root / "sweeps" / f"{base.model}-{base.dataset}-{settings}"


def sensitivity_file(root: Path, config: ExperimentConfig, seeds: tuple[int, ...] = ()) -> Path:
    """The default CSV of a sensitivity analysis's results, one per settings (and seeds), under the runs root."""
    over = f"-seeds-{'-'.join(map(str, seeds))}" if seeds else ""
    return root / "sensitivity" / f"{config.model}-{config.dataset}-{config_hash(config)}{over}.csv"


def shared_settings(config: ExperimentConfig) -> dict[str, Any]:
    """The settings every point of a sweep shares, apart from where data and device are (and the seed: a
    sweep directory holds points of any seeds)."""
    return {k: v for k, v in config.to_dict().items() if k not in (*POINT_SETTINGS, *PLACE_SETTINGS, "seed")}


# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Progress:
    """An event of an experiment the analysis runs, for progress displays."""

    stage: str  # "dense model", or the sweep point: "l1:layer:one-shot at 90 %"
    event: Event


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One finished point of a sweep: a row of sweep.csv."""

    method: str  # criterion:scope:schedule
    sparsity: float  # the target
    seed: int
    reached_sparsity: float  # over the prunable weights, counted from the weights
    compression: float  # total parameters over non-zero ones
    dense_accuracy: float  # the sweep's dense model (never pruned), the same for every point
    pruned_accuracy: float  # right after the last prune, before fine-tuning
    accuracy: float  # after fine-tuning (or retraining, under --rewind or --reinit)
    test_loss: float
    seconds: float

    @property
    def key(self) -> tuple[str, float, int]:
        return point_key(self.method, self.sparsity, self.seed)


@dataclass(frozen=True, slots=True)
class SweepStarted:
    directory: str
    base: ExperimentConfig
    methods: tuple[str, ...]
    sparsities: tuple[float, ...]
    seeds: tuple[int, ...]
    done: tuple[SweepPoint, ...]  # requested points finished by an earlier session, not run again


@dataclass(frozen=True, slots=True)
class Ended:
    """The last event of an analysis."""

    status: str  # finished, stopped or failed
    message: str  # why it failed, one line


@dataclass(frozen=True, slots=True)
class SweepEnded(Ended):
    points: tuple[SweepPoint, ...]  # every requested point finished so far, this session or before


@dataclass(frozen=True, slots=True)
class SensitivityPoint:
    """One layer pruned alone to `amount` (its sparsity then, zeros it had included), the rest of the model as it
    was: a row of the sensitivity CSV."""

    layer: str
    amount: float
    accuracy: float  # on the test images
    test_loss: float
    val_accuracy: float | None = None  # on the validation images; None when none were held out
    seed: int = 0  # of the model pruned: with several seeds, one model is trained per seed


SAME_SPARSITY = 1e-6  # an amount this close to a layer's sparsity is that sparsity (float32 counting)


def prunes_further(amount: float, sparsity: float) -> bool:
    """Whether pruning a layer of `sparsity` to `amount` is a point to measure: an amount above it, or any amount
    of a dense layer (0 too: the model as loaded, where a chart's lines start)."""
    return sparsity <= SAME_SPARSITY or amount > sparsity + SAME_SPARSITY


@dataclass(frozen=True, slots=True)
class SensitivityStarted:
    """The model to prune is ready: one such event per seed."""

    layers: tuple[str, ...]
    amounts: tuple[float, ...]
    dense_accuracy: float  # test accuracy of the model as loaded (dense, unless taken from a pruned run)
    source: str  # where the trained model came from
    dense_val_accuracy: float | None = None  # its validation accuracy; None when no images were held out
    seed: int = 0
    sparsity: tuple[float, ...] = ()  # each layer's sparsity as loaded (zero for a dense model), as `layers`

    def present(self, layer: str) -> float:
        """`layer`'s sparsity as loaded."""
        return self.sparsity[self.layers.index(layer)] if self.sparsity else 0.0

    def amounts_above(self, layer: str) -> tuple[float, ...]:
        """The amounts that prune `layer` further: those at or below its sparsity as loaded would change nothing."""
        return tuple(amount for amount in self.amounts if prunes_further(amount, self.present(layer)))

    @property
    def evaluations(self) -> int:
        """How many points the analysis of this model measures."""
        return sum(len(self.amounts_above(layer)) for layer in self.layers)


@dataclass(frozen=True, slots=True)
class SensitivityEnded(Ended):
    starts: tuple[SensitivityStarted, ...]  # one per model analysed (per seed)
    points: tuple[SensitivityPoint, ...]
    results_file: str = ""  # the CSV the points were saved to; empty when none were
    not_saved: str = ""  # why the points could not be saved, in one line


MEAN_ROW = "mean"  # the seed cell of sweep.csv's rows of means over seeds
POINT_FIELDS = [f.name for f in fields(SweepPoint)]
MEAN_FIELDS = POINT_FIELDS[3:]  # the numbers a point measures
CSV_FIELDS = [*POINT_FIELDS, "n", "accuracy_std"]
UNSEEDED_CSV_FIELDS = [name for name in POINT_FIELDS if name != "seed"]  # sweep.csv before seeds

SweepEvent = SweepStarted | Progress | SweepPoint | SweepEnded
SensitivityEvent = SensitivityStarted | Progress | SensitivityPoint | SensitivityEnded
AnalysisEvent = SweepEvent | SensitivityEvent | Ended  # Ended alone: the analysis could not even start
# Chart lines of results, the same in the CLI and the app: label -> (xs, ys).
Series = dict[str, tuple[list[float], list[float]]]


# -- results ----------------------------------------------------------------------------------------


def point_key(method: str, sparsity: float, seed: int) -> tuple[str, float, int]:
    return method, round(sparsity, 6), seed


@dataclass(frozen=True, slots=True)
class SweepMean:
    """A method at a sparsity over the seeds it has: accuracy as mean ± std (n), and the mean of every number."""

    method: str
    sparsity: float
    accuracy: MeanStd
    means: dict[str, float]  # a SweepPoint's numeric field -> its mean over the seeds


def sweep_means(points: Iterable[SweepPoint]) -> list[SweepMean]:
    """One SweepMean per method and sparsity, in the order they first appear."""
    groups: dict[tuple[str, float], list[SweepPoint]] = {}
    for point in points:
        groups.setdefault(point.key[:2], []).append(point)
    return [
        SweepMean(
            group[0].method,
            group[0].sparsity,
            mean_std(point.accuracy for point in group),
            {name: statistics.fmean(getattr(point, name) for point in group) for name in MEAN_FIELDS},
        )
        for group in groups.values()
    ]


def sweep_series(points: Iterable[SweepPoint], log_compression: bool = False) -> tuple[Series, Series, str]:
    """Accuracy (%) against sparsity (%), or against compression for a log axis, one line per method, its mean
    over seeds; the band of one standard deviation around each line with more than one seed somewhere, as
    label -> (xs, stds); and the x axis's label."""
    series: Series = {}
    spread: Series = {}
    for mean in sorted(sweep_means(points), key=lambda m: m.sparsity):
        x = mean.means["compression"] if log_compression else mean.sparsity * 100
        xs, ys = series.setdefault(mean.method, ([], []))
        xs.append(x)
        ys.append(mean.accuracy.mean * 100)
        band_xs, stds = spread.setdefault(mean.method, ([], []))
        band_xs.append(x)
        stds.append((mean.accuracy.std or 0.0) * 100)  # no bar over one seed
    bands = {label: band for label, band in spread.items() if any(band[1])}
    return series, bands, "compression (×, log scale)" if log_compression else "sparsity (%)"


def sensitivity_series(points: Iterable[SensitivityPoint]) -> Series:
    """Test accuracy (%) against the amount (%) the layer was pruned, one line per layer (the mean over seeds)."""
    series: Series = {}
    for (layer, amount), accuracy in sensitivity_means(points, validation=False).items():
        xs, ys = series.setdefault(layer, ([], []))
        xs.append(amount * 100)
        ys.append(accuracy.mean * 100)
    return series


def chooses_by_validation(starts: Iterable[SensitivityStarted]) -> bool:
    """Whether suggestions go by validation accuracy: every model analysed had validation images held out. If
    not (validation_split 0, or a run saved before it existed), they go by test accuracy, and say so."""
    starts = list(starts)
    return bool(starts) and all(start.dense_val_accuracy is not None for start in starts)


def sensitivity_means(points: Iterable[SensitivityPoint], validation: bool) -> dict[tuple[str, float], MeanStd]:
    """Per (layer, amount), in the order measured, the validation or test accuracy as mean ± std over seeds."""
    values: dict[tuple[str, float], list[float]] = {}
    for point in points:
        accuracy = point.val_accuracy if validation else point.accuracy
        values.setdefault((point.layer, point.amount), []).append(_or_nan(accuracy))
    return {key: mean_std(accuracies) for key, accuracies in values.items()}


def dense_mean(starts: Iterable[SensitivityStarted], validation: bool) -> MeanStd:
    """The models' validation or test accuracy as loaded, mean ± std over seeds."""
    return mean_std(_or_nan(start.dense_val_accuracy if validation else start.dense_accuracy) for start in starts)


def _or_nan(accuracy: float | None) -> float:
    """What `mean_std` leaves out: an accuracy not measured."""
    return math.nan if accuracy is None else accuracy


def suggest_amounts(
    points: Iterable[SensitivityPoint], starts: Iterable[SensitivityStarted], tolerance: float = 0.01
) -> dict[str, float]:
    """Per layer, the largest amount such that it and every smaller amount tested keep accuracy within
    `tolerance` of the model as loaded, never below the layer's sparsity as loaded (that sparsity when even the
    smallest amount above it does not; 0.0 for a dense layer). Accuracy is validation accuracy when every model had
    images held out (`chooses_by_validation`), else test accuracy; with seeds, the mean."""
    starts = list(starts)
    validation = chooses_by_validation(starts)
    dense = dense_mean(starts, validation).mean
    suggestion = present_sparsity(starts)
    by_layer: dict[str, dict[float, MeanStd]] = {}
    for (layer, amount), accuracy in sensitivity_means(points, validation).items():
        by_layer.setdefault(layer, {})[amount] = accuracy
    for layer, accuracies in by_layer.items():
        present = suggestion.setdefault(layer, 0.0)
        for amount in sorted(a for a in accuracies if prunes_further(a, present)):
            if accuracies[amount].mean < dense - tolerance:
                break
            suggestion[layer] = amount
    return suggestion


def present_sparsity(starts: Iterable[SensitivityStarted]) -> dict[str, float]:
    """Each layer's sparsity as loaded (the largest over seeds), in the models' layer order."""
    present: dict[str, float] = {}
    for start in starts:
        for layer in start.layers:
            present[layer] = max(present.get(layer, 0.0), start.present(layer))
    return present


def example_amounts_above(sparsity: float) -> tuple[float, ...]:
    """Three amounts between `sparsity` and 1, as few digits as keep them apart: 0.918 -> 0.94, 0.96, 0.98."""
    for digits in range(2, 7):
        amounts = sorted({round(sparsity + (1 - sparsity) * f, digits) for f in (0.25, 0.5, 0.75)})
        if len(amounts) == 3 and sparsity + SAME_SPARSITY < amounts[0] and amounts[-1] < 1:
            return tuple(amounts)
    return (sparsity + (1 - sparsity) / 2,)


def sweep_csv(points: Iterable[SweepPoint]) -> str:
    """sweep.csv: a row per point and seed; under them, for each method and sparsity with more than one seed, a row
    whose seed is "mean", holding each number's mean, the accuracy's sample std and the number of seeds n."""
    points = list(points)
    rows: list[dict[str, Any]] = [asdict(point) for point in points]
    for mean in sweep_means(points):
        if mean.accuracy.n > 1:
            rows.append({"method": mean.method, "sparsity": mean.sparsity, "seed": MEAN_ROW, **mean.means,
                         "n": mean.accuracy.n, "accuracy_std": mean.accuracy.std})  # fmt: skip
    return csv_text(CSV_FIELDS, rows)


def read_sweep_csv(text: str, seed: int = 0) -> list[SweepPoint]:
    """The points of a sweep.csv (its mean rows are derived, so left out); `seed` is the seed of a file written
    before sweeps had seeds. ValueError naming the first line that is not a result, so none is dropped."""
    reader = csv.DictReader(io.StringIO(text))
    points = []
    try:
        if text.strip() and reader.fieldnames not in (CSV_FIELDS, UNSEEDED_CSV_FIELDS):
            raise ValueError(f"line 1 is not the header {','.join(CSV_FIELDS)}")
        for record in reader:
            if record.get("seed") != MEAN_ROW:
                points.append(_sweep_point({"seed": str(seed), "n": "", "accuracy_std": "", **record}, reader.line_num))
    except csv.Error as error:
        raise ValueError(f"line {reader.line_num} is not CSV ({error})") from None
    return points


def _sweep_point(record: dict[str | None, Any], line: int) -> SweepPoint:
    try:
        if None in record or None in record.values():
            raise ValueError(f"{len(CSV_FIELDS)} fields expected")
        numbers = [float(record[name]) for name in MEAN_FIELDS]
        if not all(math.isfinite(number) for number in numbers):
            raise ValueError("a number is not finite")
        return SweepPoint(parse_method(record["method"]), float(record["sparsity"]), int(record["seed"]), *numbers)
    except (ValueError, ConfigError) as error:
        raise ValueError(f"line {line} is not a sweep result ({error})") from None
