"""Events in words, the same for the CLI's output and the app's log."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prunetui.engine.core.config import ExperimentConfig, format_layer_amounts, parse_layer_amounts
from prunetui.engine.core.events import (
    EpochEnd,
    Event,
    Exported,
    Failed,
    Finished,
    Pruned,
    Rewound,
    RunStarted,
    RunSummary,
    SparsityReport,
    Status,
    Stopped,
)
from prunetui.engine.core.networks.cost import Cost
from prunetui.engine.core.seed_stats import MeanStd

if TYPE_CHECKING:  # the analyses' module is not needed to describe a run
    from prunetui.engine.analyses import SensitivityPoint, SensitivityStarted

NO_SPEED_UP = (
    "Unstructured masks alone do not speed up dense PyTorch inference: the zeros are still multiplied, so the "
    "model is as large in memory and as slow as the dense one."
)


@dataclass(frozen=True)
class PhaseWords:
    verb: str  # "round 1 fine-tune epoch 1/2"
    noun: str  # "fine-tuning, round 1/2"
    done: str  # "→ fine-tuned 91.0 %"


# The engine's phases (`StepLoss.phase`, `EpochEnd.phase`) in words; `phase_words` reads any other as itself.
PHASES = {
    "train": PhaseWords("train", "training", "trained"),
    "finetune": PhaseWords("fine-tune", "fine-tuning", "fine-tuned"),
    "retrain": PhaseWords("retrain", "retraining", "retrained"),
}


def phase_words(phase: str) -> PhaseWords:
    return PHASES.get(phase, PhaseWords(phase, phase, phase))


def recovery(configs: Iterable[ExperimentConfig]) -> PhaseWords:
    """How the pruned models of these configs recover (a run's, or a sweep's points'): fine-tuned, or under
    --rewind / --reinit retrained from the start (agp, which prunes while training, still fine-tunes)."""
    phases = {"retrain" if c.pruning_schedule.retrains(c.plan_settings) else "finetune" for c in configs}
    if len(phases) == 1:
        return PHASES[phases.pop()]
    return PhaseWords("fine-tune or retrain", "fine-tuning or retraining", "fine-tuned or retrained")


def epoch_where(phase: str, round_: int) -> str:
    """What an epoch belongs to: "training", or "round 2 fine-tune" after a prune."""
    return "training" if phase == "train" else f"round {round_} {phase_words(phase).verb}"


def counted(n: int, noun: str, plural: str = "") -> str:
    """'1 epoch', '2 epochs', '1,000 training images'; `plural` where it is not the noun and an s."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def cut_name(name: str, width: int) -> str:
    """A run's name in `width` cells: a longer one keeps its start and its end, where a sweep's runs differ
    ('ln-structured…tive-0.9-seed0')."""
    if len(name) <= width:
        return name
    start = (width - 1) // 2
    return f"{name[:start]}…{name[len(name) - (width - 1 - start) :]}"


def fitted_method(method: str, width: int, sep: str = " ") -> str:
    """'l1 layer iterative' (or 'l1 layer iterative per-layer'; a sweep's 'l1:layer:iterative' with `sep` ":") in
    `width` cells: its schedule and what follows stay whole, the criterion and scope before them give way
    ('ln-str… one-shot'), so that at 80 columns the method still says how it pruned."""
    if len(method) <= width:
        return method
    words = method.split(sep)
    head = sep.join(words[:2])
    # The schedule and what follows it ("per-layer"), else the schedule alone with a mark that more was cut.
    tails = [sep.join(words[2:]), f"{words[2]}…"] if len(words) > 3 else words[2:]
    for schedule in tails:
        room = width - len(schedule) - 1
        if room >= 2:
            return f"{head[: room - 1].rstrip(sep)}…{sep}{schedule}"
        if len(schedule) < width:
            return f"…{schedule}"
    if tails[-1].endswith("…") and len(tails[-1]) <= width:  # 'iterative…': the schedule, what follows it cut
        return tails[-1]
    return f"{method[: max(width, 2) - 1]}…"


def percent(fraction: float | None, digits: int = 1) -> str:
    return "–" if fraction is None else f"{fraction * 100 + 0.0:.{digits}f} %"  # + 0.0: -0.0 is shown 0


def spread(stat: MeanStd, factor: float = 1.0, pm: str = " ± ") -> str:
    """'93.1 ± 0.4' (`pm` "±": '93.1±0.4', for narrow tables): a mean ± std over seeds, times `factor`, to one
    decimal; the mean alone over one seed, which has no spread."""
    mean = f"{stat.mean * factor:.1f}"
    return mean if stat.std is None else f"{mean}{pm}{stat.std * factor:.1f}"


def percent_spread(stat: MeanStd | None, pm: str = " ± ") -> str:
    """'93.1 ± 0.4 %' (`pm` "±": '93.1±0.4 %', for narrow tables): the mean ± std of a fraction over seeds, in
    percent (n is said beside it, once)."""
    return "–" if stat is None else f"{spread(stat, 100, pm)} %"


def group_accuracies(dense: MeanStd | None, pruned: MeanStd | None) -> str:
    """'96.1 → 88.9±0.7 %': a seed group's mean dense accuracy, then its mean ± std pruned, narrow enough for a
    row of a table at 80 columns (the dense models' spread is in the group's detail and in --json)."""
    return f"{'–' if dense is None else f'{dense.mean * 100:.1f}'} → {percent_spread(pruned, pm='±')}"


def mean_percent(stat: MeanStd | None) -> str:
    return percent(stat.mean if stat else None)


def times_spread(stat: MeanStd | None) -> str:
    """The mean ± std of a compression over seeds, e.g. 9.7 ± 0.1 times."""
    return "–" if stat is None else f"{spread(stat)}×"


def compression_text(report: SparsityReport) -> str:
    """'36,280 of 430,500 weights non-zero (11.9x) · all parameters, biases included: 36,860 of 431,080 (11.7x)':
    pruning's compression counted both ways. Papers count weights (Han et al. 2015: LeNet-5 431K → 36K, 12
    times); biases are few and pruning keeps them, so counting them too gives a little less."""
    return (
        f"{report.nonzero_weights:,} of {report.total_weights:,} weights non-zero ({report.weight_compression:.1f}×) · "
        f"all parameters, biases included: {report.nonzero_parameters:,} of {report.total_parameters:,} "
        f"({report.compression:.1f}×)"
    )


def cost_text(dense: Cost | None, cost: Cost | None) -> str:
    """'MACs 31.5 M → 8.0 M (25.5 % kept) · parameters 272,186 → 68,642': what the pruned network costs per image.
    A physically smaller network (whole channels cut out) has one MAC count; a masked one two, each labelled: what
    a dense kernel still computes (it multiplies the zeros too), and the products with non-zero weights. Empty
    when the cost was not counted."""
    if dense is None or cost is None or not dense.macs:
        return ""
    if cost.macs != dense.macs:
        return (
            f"MACs {millions(dense.macs)} → {millions(cost.macs)} ({cost.macs / dense.macs:.1%} kept) · "
            f"parameters {dense.parameters:,} → {cost.parameters:,}"
        )
    return (
        f"MACs {millions(dense.macs)} with a dense kernel, {millions(cost.nonzero_macs)} of non-zero weights "
        f"({cost.nonzero_macs / dense.macs:.1%}) · parameters {cost.nonzero_parameters:,} of {dense.parameters:,} "
        "non-zero"
    )


def cost_line(dense: Cost | None, cost: Cost | None) -> str:
    """`cost_text` in one line of 76 characters, for a narrow panel: 'MACs: dense kernel 97.3 M, non-zero 31.4 M
    (32.2 %) · params 855 k → 172 k' (masked), 'MACs 97.3 M → 24.7 M (25.3 %) · params 855 k → 215 k' (compact)."""
    if dense is None or cost is None or not dense.macs:
        return ""
    if cost.macs != dense.macs:  # the compact model's parameters, as cost_text counts them
        return (
            f"MACs {short(dense.macs)} → {short(cost.macs)} ({percent(cost.macs / dense.macs)}) · "
            f"params {short(dense.parameters)} → {short(cost.parameters)}"
        )
    return (
        f"MACs: dense kernel {short(cost.macs)}, non-zero {short(cost.nonzero_macs)} "
        f"({percent(cost.nonzero_macs / dense.macs)}) · params {short(dense.parameters)} → "
        f"{short(cost.nonzero_parameters)}"
    )


def short(count: int) -> str:
    """'97.3 M', '855 k', '9,216': a count in a few characters."""
    if count >= 1_000_000:
        return f"{count / 1e6:.1f} M"
    return f"{count / 1e3:.0f} k" if count >= 10_000 else f"{count:,}"


def millions(count: int) -> str:
    return f"{count / 1e6:.1f} M" if count >= 100_000 else f"{count:,}"


def compressions(weights: float | None, parameters: float | None) -> str:
    """'compression 11.9x weights, 11.7x all parameters': both compressions, short, for a line or a narrow panel."""
    return f"compression {_times(weights)} weights, {_times(parameters)} all parameters"


def _times(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.1f}×"


def seeds_text(seeds: list[int]) -> str:
    """'seed 3', 'seeds 0, 1, 2'."""
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


# What an ln-structured target counts, said where a run or a sweep starts: a fraction of rows, not of weights.
STRUCTURED_TARGET = (
    " (ln-structured: that fraction of each layer's filters and neurons goes whole; the output layer's stay)"
)
STRUCTURED_POINTS = (
    "; at an ln-structured point, the sparsity is the fraction of each layer's filters and neurons pruned whole "
    "(the output layer's stay)"
)


def target_text(config: ExperimentConfig) -> str:
    """'90.0 % sparsity', or with per-layer targets 'conv1=0.5,fc1=0.95, the other layers 90.0 %'."""
    named = parse_layer_amounts(config.layer_sparsity)
    if not named:
        return f"{percent(config.sparsity)} sparsity"
    others = "" if set(named) >= set(config.prunable_layer_names) else f", the other layers {percent(config.sparsity)}"
    return f"per-layer sparsity {format_layer_amounts(named)}{others}"


def before_pruning(config: ExperimentConfig) -> str:
    """What the accuracy measured just before the first prune is: the trained dense model, except under agp,
    which prunes during training, so that it is an early, partly trained model and no dense baseline."""
    return "before the first prune" if config.pruning_schedule.prunes_while_training else "dense"


def kept_word(structured: bool) -> str:
    """What the parameters an export counts are: for ln-structured models, those the compacted model keeps (the
    file still holds weights fed by removed units, which do nothing a bias cannot)."""
    return "kept" if structured else "non-zero"


def storage_note(structured: bool, sparsity: float | None, sizes: Exported | None) -> str:
    """What a run's zeros buy, said from its own numbers. `sizes` are those of its saved model (None: it saved
    none); `sparsity` is over the prunable weights. Unstructured zeros pay off in storage only, and only in the
    formats that come out smaller than dense; a model with no zeros gains nothing at all."""
    if sizes is None:
        return "This run saved no model, so there is nothing to store smaller or export."
    dense = kib(sizes.dense_bytes)
    if sparsity is None:  # its summary is damaged: not taken for 0 %
        return f"Its sparsity is not known (its settings are unreadable), so neither is what its zeros buy ({dense})."
    if not sparsity:
        return (
            f"Nothing is pruned (0 % sparse), so there is nothing to gain: the model is dense ({dense}), and sparse "
            f"CSR storage only adds indices ({kib(sizes.sparse_bytes)})."
        )
    if structured:
        return (
            "ln-structured: whole filters and neurons are zero. Exporting cuts them out into a smaller model that "
            "computes the same and runs faster."
        )
    smaller = [
        f"{kib(size)} {form}"
        for form, size in (("as sparse CSR", sizes.sparse_bytes), ("gzipped", sizes.gzip_bytes))
        if size < sizes.dense_bytes
    ]
    storage = (
        f"They pay off in storage only: {' or '.join(smaller)} against {dense} dense."
        if smaller
        else f"At {percent(sparsity)} sparse they do not even make the file smaller than its {dense} dense."
    )
    return (
        f"{NO_SPEED_UP} {storage} For a faster model, prune with the ln-structured criterion, which removes whole "
        "filters and neurons."
    )


def describe(event: Event) -> str | None:
    """One line for an event worth logging; None for progress-only events (StepLoss)."""
    match event:
        case Status():
            return event.message
        case RunStarted():
            c = event.config
            held_out = f", {event.validation_size:,} held out for validation" if event.validation_size else ""
            return (
                f"{c.model} on {c.dataset} ({counted(event.train_size, 'training image')}{held_out}), "
                f"{event.parameters:,} parameters, "
                f"device {event.device}{'' if c.precision == 'fp32' else f' in {c.precision}'}: "
                f"{c.criterion} {c.scope} {c.schedule} to {target_text(c)}"
                + (STRUCTURED_TARGET if c.structured else "")
            )
        case EpochEnd():
            return (
                f"{epoch_where(event.phase, event.round)} epoch {event.epoch}/{event.epochs}: "
                f"train loss {event.train_loss:.4f}, "
                f"test loss {event.test_loss:.4f}, accuracy {percent(event.accuracy)}{validation(event.val_accuracy)}, "
                f"{event.images_per_s:,.0f} img/s"
            )
        case Pruned():
            return (
                f"round {event.round}/{event.rounds}: pruned to {percent(event.sparsity.global_sparsity)}, "
                f"accuracy {percent(event.accuracy_before)} → {percent(event.accuracy)}{validation(event.val_accuracy)}"
            )
        case Rewound():
            return f"round {event.round}: {rewound_to(event.to_step)}, accuracy {percent(event.accuracy)}"
        case Exported():
            return f"saved {event.path}: {sizes_text(event)}"
        case Finished():
            s = event.summary
            return (
                f"done: {percent(s.sparsity.global_sparsity)} sparse "
                f"({compressions(s.weight_compression, s.compression)}), "
                f"accuracy {percent(s.dense_accuracy)} {before_pruning(s.config)} → {percent(s.accuracy)}, "
                f"{top5_change(s)}{validation_change(s)}{s.seconds:.1f} s"
            )
        case Stopped():
            return f"stopped after {event.summary.seconds:.1f} s; results so far are kept"
        case Failed():
            return f"failed: {event.message}"
    return None


def validation(accuracy: float | None) -> str:
    """', validation 91.2 %' after a test accuracy; nothing when no images were held out."""
    return "" if accuracy is None else f", validation {percent(accuracy)}"


def top5_change(summary: RunSummary) -> str:
    """'top-5 71.2 % → 70.1 %, ' for a data set of 100 classes or more; nothing otherwise."""
    if summary.top5 is None:
        return ""
    return f"top-5 {percent(summary.dense_top5)} → {percent(summary.top5)}, "


PER_CLASS_ALL = 10  # up to this many classes, each is named; past it, the worst and best few
PER_CLASS_FEW = 3


def per_class_text(summary: RunSummary) -> str | None:
    """'accuracy per class: cat 92.0 %, dog 85.5 %, eel 40.0 %' in class order; with more than PER_CLASS_ALL
    classes the worst and the best few ('… worst: otter 0.0 %, …; best: …'), all of them in summary.json. None
    before any evaluation."""
    accuracies = summary.per_class_accuracy
    if not accuracies:
        return None

    def named(pairs: Iterable[tuple[str, float]]) -> str:
        return ", ".join(f"{name} {percent(accuracy)}" for name, accuracy in pairs)

    if len(accuracies) <= PER_CLASS_ALL:
        return f"accuracy per class: {named(accuracies)}"
    ranked = sorted(accuracies, key=lambda pair: pair[1])
    return (
        f"accuracy per class ({len(accuracies)}, all in summary.json) worst: {named(ranked[:PER_CLASS_FEW])}; "
        f"best: {named(reversed(ranked[-PER_CLASS_FEW:]))}"
    )


def validation_change(summary: RunSummary) -> str:
    """'validation 91.2 % → 90.1 %, ' for a run that held images out; nothing otherwise."""
    if summary.val_accuracy is None:
        return ""
    return f"validation {percent(summary.dense_val_accuracy)} → {percent(summary.val_accuracy)}, "


def loaded_accuracy(started: SensitivityStarted) -> str:
    """'dense accuracy 91.0 %, validation 90.2 %': the model a sensitivity analysis prunes, before it does ('loaded
    accuracy' when that model is pruned already)."""
    baseline = "loaded" if any(started.sparsity) else "dense"
    return f"{baseline} accuracy {percent(started.dense_accuracy)}{validation(started.dense_val_accuracy)}"


def rewound_to(step: int | None) -> str:
    """Where a round's survivors went back to, in words."""
    if step is None:
        return "survivors given fresh random weights (reinit)"
    return "survivors rewound to their initial values" if step == 0 else f"survivors rewound to step {step:,}"


def kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def sizes_text(saved: Exported) -> str:
    """A saved model's three sizes: '241.0 KiB dense, 49.9 KiB as sparse CSR, 44.0 KiB gzipped'."""
    return f"{kib(saved.dense_bytes)} dense, {kib(saved.sparse_bytes)} as sparse CSR, {kib(saved.gzip_bytes)} gzipped"


# -- a sensitivity analysis's results, as the CLI prints them and the app's Sensitivity screen tables them ------


ALREADY = "already"  # a sensitivity cell whose amount the layer had reached as loaded: nothing measured


@dataclass(frozen=True)
class SensitivityRow:
    layer: str  # on a layer's first row only
    images: str  # "validation" or "test"
    cells: tuple[str, ...]  # accuracy (%) per amount, a dash where not measured (yet)
    below: tuple[bool, ...]  # per cell: this row chooses, and it is more than the tolerance below the baseline
    last: bool  # the layer's last row


@dataclass(frozen=True)
class SensitivityTable:
    title: str
    amounts: tuple[str, ...]  # the column headings after layer and images
    rows: tuple[SensitivityRow, ...]
    baseline: str  # the accuracies of the model as loaded
    marks: str  # what `below` marks, in red

    @property
    def caption(self) -> str:
        return f"{self.baseline}; {self.marks}"


def sensitivity_table(
    points: tuple[SensitivityPoint, ...], starts: tuple[SensitivityStarted, ...], tolerance: float
) -> SensitivityTable:
    """Per layer a validation row (what chooses; `below` where it costs more than `tolerance`) and a test row (the
    reported numbers); with seeds, mean ± std, and (n) where fewer seeds got that far."""
    from prunetui.engine.analyses import (  # not for a run
        chooses_by_validation,
        dense_mean,
        present_sparsity,
        prunes_further,
        sensitivity_means,
    )

    validation = chooses_by_validation(starts)
    seeds = len(starts)
    amounts = sorted({point.amount for point in points})
    kinds = [("validation", sensitivity_means(points, True))] if validation else []
    kinds.append(("test", sensitivity_means(points, False)))
    dense = dense_mean(starts, validation).mean
    present = present_sparsity(starts)
    rows = []
    for layer in dict.fromkeys([*present, *(point.layer for point in points)]):
        further = [prunes_further(amount, present.get(layer, 0.0)) for amount in amounts]
        for index, (images, means) in enumerate(kinds):
            accuracies = [
                means.get((layer, amount)) if new else None for amount, new in zip(amounts, further, strict=True)
            ]
            cells = [
                _sensitivity_cell(a, seeds) if new else ALREADY for a, new in zip(accuracies, further, strict=True)
            ]
            rows.append(
                SensitivityRow(
                    layer if index == 0 else "",
                    images,
                    tuple(cells),
                    tuple(index == 0 and a is not None and a.mean < dense - tolerance for a in accuracies),
                    index == len(kinds) - 1,
                )
            )
    title = "Accuracy (%) with one layer pruned, no fine-tuning"
    said = f"test {_sensitivity_cell(dense_mean(starts, False), seeds)}"
    if validation:
        said = f"validation {_sensitivity_cell(dense_mean(starts, True), seeds)}, {said}"
    marks = f"red: {'validation' if validation else 'test'} accuracy more than {percentage_points(tolerance)} below"
    if any(cell == ALREADY for row in rows for cell in row.cells):
        marks += f"; {ALREADY}: the layer is at least that sparse as loaded"
    return SensitivityTable(
        title + (f": mean ± std over {seeds} seeds" if seeds > 1 else ""),
        tuple(percent(amount, 0) for amount in amounts),
        tuple(rows),
        f"{sensitivity_baseline(starts)}: {said} %",
        marks,
    )


def too_sparse_warning(started: SensitivityStarted, amounts_name: str) -> str | None:
    """One line when some layer is already at least as sparse as every amount, so that none prunes it: which, and
    amounts that would (`amounts_name` says where amounts are given, e.g. --amounts)."""
    from prunetui.engine.analyses import example_amounts_above  # not for a run

    layers = [layer for layer in started.layers if not started.amounts_above(layer)]
    if not layers:
        return None
    sparsest = max(started.present(layer) for layer in layers)
    sparse = ", ".join(f"{layer} ({percent(started.present(layer))})" for layer in layers)
    amounts = ",".join(f"{amount:g}" for amount in example_amounts_above(sparsest))
    verb = "is" if len(layers) == 1 else "are"
    return f"{sparse} {verb} already as sparse as every amount: give amounts above that, e.g. {amounts_name} {amounts}"


def _sensitivity_cell(accuracy: MeanStd | None, seeds: int) -> str:
    if accuracy is None:
        return "–"
    if seeds == 1:
        return f"{accuracy.mean * 100:.1f}"
    fewer = f" ({accuracy.n})" if accuracy.n < seeds else ""
    return f"{spread(accuracy, 100, '±')}{fewer}"


def sensitivity_baseline(starts: tuple[SensitivityStarted, ...]) -> str:
    """What the pruned layers are compared with: the dense model, or a pruned one as loaded."""
    return "the model as loaded" if any(any(start.sparsity) for start in starts) else "dense"


def percentage_points(fraction: float) -> str:
    return f"{fraction * 100:g} percentage point{'' if fraction == 0.01 else 's'}"
