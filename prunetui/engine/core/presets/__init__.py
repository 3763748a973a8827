"""Recipes from papers, shipped as TOML files beside this module: the settings a paper used and the figures it
reports, so a run can be set up the paper's way and its numbers put beside the paper's.

A preset file has a `title`, a `citation`, a `description`, optionally `reproduced = false` (a recipe nobody here
could run as the paper did: no data set or GPU for it), a `[settings]` table (keys as in a `--config` file,
checked by the config schema), a `[paper]` table (`PaperFigures`) and, for a paper that runs a control experiment,
a `[control]` table: the settings that turn the recipe into the control. Plain Python, no torch.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from prunetui.engine.core.config import ExperimentConfig, toml_key
from prunetui.engine.core.errors import ConfigError

SUFFIX = ".toml"
COUNTS = ("weights", "parameters")  # what a paper's parameter counts and compression count (`PaperFigures.counts`)


@dataclass(frozen=True)
class PaperFigures:
    """What a paper reports for the recipe; every figure but the network and data set is optional. Errors and
    fractions are in [0, 1]."""

    network: str  # what the paper pruned, e.g. "LeNet-300-100"
    dataset: str  # what it trained on, e.g. "MNIST"
    dense_error: float | None = None  # test error before pruning
    error: float | None = None  # test error after pruning and retraining
    dense_parameters: int | None = None
    parameters: int | None = None  # non-zero parameters after pruning
    compression: float | None = None  # dense_parameters / parameters, as the paper rounds it
    fewer_macs: float | None = None  # the fraction of MACs (multiply-accumulates per image) pruning removed
    # What the paper's parameters and compression count: "weights" (biases left out, as Han et al. 2015) or
    # "parameters" (all of them); a run's figures are counted the same way beside them.
    counts: str = "parameters"
    remaining: float | None = None  # fraction of the prunable weights left
    kept: Mapping[str, float] = field(default_factory=dict)  # each layer's fraction of weights kept
    note: str = ""  # what the paper found that is not a number here

    def same_data(self, dataset: str) -> bool:
        """Whether the run's data set (a --dataset name, e.g. cifar10) is the paper's (e.g. CIFAR-10)."""
        return dataset.replace("-", "") == self.dataset.lower().replace("-", "")


@dataclass(frozen=True)
class Preset:
    name: str  # the file's name without .toml: the value of --preset
    title: str  # one line
    citation: str
    description: str
    config: ExperimentConfig  # the defaults with the preset's settings
    paper: PaperFigures
    control: Mapping[str, Any] = field(default_factory=dict)  # the paper's control run: settings over the preset
    # False for a recipe that was never run here as the paper ran it (its data set or a GPU missing on this
    # project's machines): only its tests' few images.
    reproduced: bool = True

    @property
    def control_config(self) -> ExperimentConfig | None:
        """The paper's control experiment (e.g. the same masks with fresh weights), if it has one."""
        return ExperimentConfig.from_mapping(self.control, self.config) if self.control else None

    def changes(self, config: ExperimentConfig) -> dict[str, tuple[Any, Any]]:
        """The settings `config` takes otherwise than the preset, {name: (preset's, config's)}, leaving out those
        that only say where (data directory, device)."""
        place = ExperimentConfig.settings_with("place")
        return {
            f.name: (getattr(self.config, f.name), getattr(config, f.name))
            for f in ExperimentConfig.fields()
            if f.name not in place and getattr(self.config, f.name) != getattr(config, f.name)
        }

    def summary_fields(self, config: ExperimentConfig) -> dict[str, Any]:
        """What a run from the preset adds to its summary.json: under `preset`, what the paper reports, to set
        beside the run's numbers, and what the run changed."""
        changed = {toml_key(name): list(values) for name, values in self.changes(config).items()}
        paper = dataclasses.asdict(self.paper)
        return {"preset": {"name": self.name, "citation": self.citation, "paper": paper, "changed": changed}}


def preset_names() -> list[str]:
    return sorted(entry.name.removesuffix(SUFFIX) for entry in _files().iterdir() if entry.name.endswith(SUFFIX))


def all_presets() -> list[Preset]:
    return [load_preset(name) for name in preset_names()]


@cache
def load_preset(name: str) -> Preset:
    """The preset called `name`; ConfigError naming the known ones if there is none, or saying what is wrong
    with its file."""
    if name not in preset_names():
        raise ConfigError(f"no preset {name!r}; the presets are {', '.join(preset_names())}")
    try:
        values = tomllib.loads(_files().joinpath(name + SUFFIX).read_text(encoding="utf-8"))
        return _preset(name, values)
    except (tomllib.TOMLDecodeError, ConfigError, TypeError, ValueError) as error:
        raise ConfigError(f"preset {name}: {error}") from None


def _preset(name: str, values: dict[str, Any]) -> Preset:
    text = {key: values.pop(key, "") for key in ("title", "citation", "description")}
    reproduced = values.pop("reproduced", True)
    if not isinstance(reproduced, bool):
        raise ConfigError(f"reproduced = {reproduced!r} is not true or false")
    settings, paper, control = values.pop("settings", {}), values.pop("paper", {}), values.pop("control", {})
    if values:
        keys = "title, citation, description, reproduced, [settings], [paper] and [control]"
        raise ConfigError(f"unknown key {next(iter(values))!r}; a preset has {keys}")
    missing = [key for key, value in text.items() if not value]
    if missing:
        raise ConfigError(f"{missing[0]} is missing")
    config = ExperimentConfig.from_mapping(settings).validate()
    preset = Preset(name, **text, config=config, paper=_figures(paper), control=control, reproduced=reproduced)
    if preset.control_config:
        preset.control_config.validate()
    return preset


def _figures(values: Mapping[str, Any]) -> PaperFigures:
    known = {f.name for f in dataclasses.fields(PaperFigures)}
    figures = {key.replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(figures) - known)
    if unknown:
        raise ConfigError(f"unknown paper figure {unknown[0]!r}; known: {', '.join(sorted(map(toml_key, known)))}")
    missing = [key for key in ("network", "dataset") if not figures.get(key)]
    if missing:
        raise ConfigError(f"[paper] needs {missing[0]}")
    paper = PaperFigures(**figures)
    if paper.counts not in COUNTS:
        raise ConfigError(f"paper figure counts = {paper.counts!r} is not one of {', '.join(COUNTS)}")
    fractions = {"dense_error": paper.dense_error, "error": paper.error, "remaining": paper.remaining}
    fractions["fewer_macs"] = paper.fewer_macs
    fractions |= {f"kept {layer}": kept for layer, kept in paper.kept.items()}
    for what, value in fractions.items():
        if value is not None and not 0 <= value <= 1:
            raise ConfigError(f"paper figure {what} = {value} is not a fraction in [0, 1]")
    return paper


def _files() -> Traversable:
    return resources.files(__name__)
