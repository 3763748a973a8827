"""What an analysis is asked: the methods, sparsities, amounts and seeds, the settings its points share, and
where its results go."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prunetui.engine.core.config import SCOPES, ExperimentConfig
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.pruning.registry import CRITERIA, SCHEDULES
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
            value = float(part) + 0.0  # -0.0 is 0.0: never "-0 %", nor a point directory named l1--0
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
    return root / "sweeps" / f"{file_name(base.model)}-{file_name(base.dataset)}-{settings}"


def sensitivity_file(root: Path, config: ExperimentConfig, seeds: tuple[int, ...] = ()) -> Path:
    """The default CSV of a sensitivity analysis's results, one per settings (and seeds), under the runs root."""
    over = f"-seeds-{'-'.join(map(str, seeds))}" if seeds else ""
    return (
        root / "sensitivity" / f"{file_name(config.model)}-{file_name(config.dataset)}-{config_hash(config)}{over}.csv"
    )


def file_name(spec: str) -> str:
    """A network's or data set's spec as part of one file name: the folders of a path in it dropped
    (`imagefolder:/data/pets/` -> `imagefolder:pets`, `nets/mine.py:build` -> `mine.py:build`); the hash beside it
    still tells two paths apart."""
    return re.sub(r"[^:]*[/\\]", "", re.sub(r"[/\\]+(?=:|$)", "", spec))


def shared_settings(config: ExperimentConfig) -> dict[str, Any]:
    """The settings every point of a sweep shares, apart from where data and device are (and the seed: a
    sweep directory holds points of any seeds)."""
    return {k: v for k, v in config.to_dict().items() if k not in (*POINT_SETTINGS, *PLACE_SETTINGS, "seed")}
