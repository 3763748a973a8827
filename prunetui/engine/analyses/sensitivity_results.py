"""A sensitivity analysis's results: the chart's lines, means over seeds, and the per-layer amounts it suggests."""

from __future__ import annotations

import math
from collections.abc import Iterable

from prunetui.engine.analyses.events import SAME_SPARSITY, SensitivityPoint, SensitivityStarted, prunes_further
from prunetui.engine.core.chart_lines import Lines, Series
from prunetui.engine.core.seed_stats import MeanStd, mean_std


def sensitivity_series(points: Iterable[SensitivityPoint]) -> Lines:
    """Test accuracy (%) against the amount (%) the layer was pruned, one line per layer (the mean over seeds)."""
    series: Lines = {}
    for (layer, amount), accuracy in sensitivity_means(points, validation=False).items():
        series.setdefault(layer, Series.empty()).add(amount * 100, accuracy.mean * 100)
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
