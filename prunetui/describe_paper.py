"""A preset's paper figures beside a run's own, in words: the same for the CLI, the app and bench_fidelity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prunetui.engine.core.config import flag_name, toml_key
from prunetui.engine.core.events import RunSummary
from prunetui.engine.core.presets import PaperFigures, Preset

# What `prunetui presets` and the app's preset dialog say of a preset with `reproduced = false`.
NOT_REPRODUCED = (
    "Not reproduced on this project's machines (no CIFAR-10 or GPU there): a recipe, tested on a few images"
)


def fraction_text(fraction: float) -> str:
    """Three digits, as papers give them: 0.0164 -> '1.64 %', 0.08 -> '8 %', 0.9648 -> '96.5 %'."""
    return f"{fraction * 100:.3g} %"


def figures_text(figures: PaperFigures) -> str:
    """'error 1.64 % → 1.59 %, 267,000 → 22,000 parameters, …': the figures given."""
    parts = []
    if figures.error is not None:  # to 0.01 %, as papers give test errors
        dense = f"{figures.dense_error * 100:.2f} % → " if figures.dense_error is not None else ""
        parts.append(f"error {dense}{figures.error * 100:.2f} %")
    if figures.parameters is not None:
        dense = f"{figures.dense_parameters:,} → " if figures.dense_parameters is not None else ""
        parts.append(f"{dense}{figures.parameters:,} {figures.counts}")
    if figures.compression is not None:
        parts.append(f"{figures.compression:.3g}×" + (f" ({figures.counts})" if figures.parameters is None else ""))
    if figures.fewer_macs is not None:
        parts.append(f"{fraction_text(figures.fewer_macs)} fewer MACs ({1 / (1 - figures.fewer_macs):.3g}×)")
    if figures.remaining is not None:
        parts.append(f"{fraction_text(figures.remaining)} of weights remaining")
    if figures.kept:
        parts.append("kept " + ", ".join(f"{name} {fraction_text(kept)}" for name, kept in figures.kept.items()))
    return ", ".join(parts)


def measured(paper: PaperFigures, summary: RunSummary) -> PaperFigures:
    """A run's own figures, those the paper gives and always its error: the same words then say both. Its
    parameters and compression count what the paper's count (weights, or all parameters)."""
    config, report = summary.config, summary.sparsity
    if paper.counts == "weights":
        total, nonzero, compression = report.total_weights, report.nonzero_weights, report.weight_compression
    else:
        total, nonzero, compression = report.total_parameters, report.nonzero_parameters, report.compression
    kept = {layer.name: 1 - layer.sparsity for layer in report.layers}
    dense_cost, cost = summary.dense_cost, summary.cost
    fewer_macs = 1 - cost.macs / dense_cost.macs if cost and dense_cost and dense_cost.macs else None

    def given(value: Any, paper_value: Any) -> Any:
        return None if paper_value is None else value

    # Under agp, which prunes while it trains, the accuracy before the first prune is no dense baseline.
    dense = None if config.pruning_schedule.prunes_while_training else summary.dense_accuracy
    return PaperFigures(
        network=config.model,
        dataset=config.dataset,
        dense_error=None if dense is None else 1 - dense,
        error=None if summary.accuracy is None else 1 - summary.accuracy,
        dense_parameters=given(total, paper.dense_parameters),
        parameters=given(nonzero, paper.parameters),
        compression=given(compression, paper.compression),
        fewer_macs=given(fewer_macs, paper.fewer_macs),
        counts=paper.counts,
        remaining=given(1 - report.global_sparsity, paper.remaining),
        kept={name: kept[name] for name in paper.kept if name in kept},
    )


def paper_text(paper: PaperFigures) -> str:
    """'LeNet-300-100 on MNIST: error 1.64 % → 1.59 %, …; what the paper found besides'."""
    return "; ".join(filter(None, [f"{paper.network} on {paper.dataset}: {figures_text(paper)}", paper.note]))


def preset_text(preset: Preset) -> str:
    """What the paper reports, and that the recipe was not reproduced here where it was not."""
    return paper_text(preset.paper) + ("" if preset.reproduced else f". {NOT_REPRODUCED}")


def run_text(paper: PaperFigures, summary: RunSummary) -> str:
    """'lenet300 on fashion-mnist (not the paper's MNIST): error …', the figures the paper gives."""
    config = summary.config
    other = "" if paper.same_data(config.dataset) else f" (not the paper's {paper.dataset})"
    return f"{config.model} on {config.dataset}{other}: {figures_text(measured(paper, summary))}"


def other_count_text(paper: PaperFigures, summary: RunSummary) -> str:
    """The run's compression counted the way the paper does not, where the paper gives a compression: 'counting
    all parameters (biases too): 431,080 → 36,860, 11.7x'. Empty where the paper gives none."""
    if paper.parameters is None and paper.compression is None:
        return ""
    other = "parameters" if paper.counts == "weights" else "weights"
    report = summary.sparsity
    if other == "weights":
        return f"counting weights only: {report.total_weights:,} → {report.nonzero_weights:,}, " + (
            f"{report.weight_compression:.3g}×"
        )
    return f"counting all parameters (biases too): {report.total_parameters:,} → {report.nonzero_parameters:,}, " + (
        f"{report.compression:.3g}×"
    )


def comparison(preset: Preset, summary: RunSummary) -> list[str]:
    """The paper's figures, this run's (counted as the paper counts, then the other way), and what the run changed
    from the preset, one line each."""
    lines = [f"paper: {paper_text(preset.paper)}", f"this run: {run_text(preset.paper, summary)}"]
    other = other_count_text(preset.paper, summary)
    if other:
        lines.append(f"this run, {other}")
    changed = changes_text(preset.changes(summary.config))
    if changed:
        lines.append(f"changed from the preset: {changed}")
    return lines


def control_flags(control: Mapping[str, Any]) -> str:
    """The flags that turn a preset's run into its paper's control: {"reinit": True} -> '--reinit'."""
    flags = []
    for key, value in control.items():
        flag = flag_name(key.replace("-", "_"))
        if isinstance(value, bool):
            flags.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            flags.append(f"{flag} {value}")
    return " ".join(flags)


def changes_text(changes: dict[str, tuple[Any, Any]]) -> str:
    """'epochs 1 (preset 10), train-subset 2000 (preset 0)'."""
    return ", ".join(f"{toml_key(name)} {_value(ours)} (preset {_value(its)})" for name, (its, ours) in changes.items())


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value) if value != "" else "none"
