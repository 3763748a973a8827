"""Series of experiments (`series`): seed groups (`seed_group`) and the analyses that compare many prunings
(`sweep`, `sensitivity`), all run through one executor (`executor`). Here: what they
are asked (`specs`), what they report (`events`), and their results (`sweep_results`, `sensitivity_results`),
re-exported here. Plain data, no torch, so the app can build forms and read results before torch is loaded.

A sweep prunes one trained model with several methods to several sparsities, fine-tuning each point; a
sensitivity analysis prunes one layer at a time, without fine-tuning, to see which layers tolerate it.
Both yield `Progress` for the experiments they run (the dense training, each sweep point), then one
result event per point, and end with exactly one `SweepEnded` / `SensitivityEnded`.
"""

from __future__ import annotations

from prunetui.engine.analyses.events import (
    RUNNING_IN,
    AnalysisEvent,
    Ended,
    Progress,
    SeedEnded,
    SeedGroupEnded,
    SeedGroupEvent,
    SeedGroupStarted,
    SensitivityEnded,
    SensitivityEvent,
    SensitivityPoint,
    SensitivityStarted,
    SweepEnded,
    SweepEvent,
    SweepPoint,
    SweepStarted,
    point_key,
    prunes_further,
    seed_stage,
)
from prunetui.engine.analyses.sensitivity_results import (
    chooses_by_validation,
    dense_mean,
    example_amounts_above,
    present_sparsity,
    sensitivity_means,
    sensitivity_series,
    suggest_amounts,
)
from prunetui.engine.analyses.specs import (
    DEFAULT_AMOUNTS,
    DEFAULT_METHODS,
    DEFAULT_SPARSITIES,
    POINT_SETTINGS,
    SENSITIVITY_UNUSED_SETTINGS,
    SweepSpec,
    dense_config,
    parse_fractions,
    parse_methods,
    sensitivity_criteria,
    sensitivity_file,
    shared_settings,
    sweep_directory,
)
from prunetui.engine.analyses.sweep_results import (
    read_sweep_csv,
    sweep_csv,
    sweep_means,
    sweep_series,
)
from prunetui.engine.core.chart_lines import Lines, Series

__all__ = [
    "DEFAULT_AMOUNTS",
    "DEFAULT_METHODS",
    "DEFAULT_SPARSITIES",
    "POINT_SETTINGS",
    "RUNNING_IN",
    "SENSITIVITY_UNUSED_SETTINGS",
    "AnalysisEvent",
    "Ended",
    "Lines",
    "Progress",
    "SeedEnded",
    "SeedGroupEnded",
    "SeedGroupEvent",
    "SeedGroupStarted",
    "SensitivityEnded",
    "SensitivityEvent",
    "SensitivityPoint",
    "SensitivityStarted",
    "Series",
    "SweepEnded",
    "SweepEvent",
    "SweepPoint",
    "SweepSpec",
    "SweepStarted",
    "chooses_by_validation",
    "dense_config",
    "dense_mean",
    "example_amounts_above",
    "parse_fractions",
    "parse_methods",
    "point_key",
    "present_sparsity",
    "prunes_further",
    "read_sweep_csv",
    "seed_stage",
    "sensitivity_criteria",
    "sensitivity_file",
    "sensitivity_means",
    "sensitivity_series",
    "shared_settings",
    "suggest_amounts",
    "sweep_csv",
    "sweep_directory",
    "sweep_means",
    "sweep_series",
]
