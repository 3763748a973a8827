"""`prunetui sensitivity`: prune one layer at a time, no fine-tuning, and see which layers tolerate it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prunetui.cli.analysis_view import EXIT_CODES, Count, add_list_option, follow, line_chart
from prunetui.cli.options import (
    RUN_HELP,
    add_config_options,
    add_parallel_options,
    add_runs_dir_option,
    add_seeds_option,
    config_from_args,
    fail,
    parallel_from_args,
)
from prunetui.cli.output import and_list
from prunetui.cli.run_command import stop_on_interrupt
from prunetui.describe import (
    loaded_accuracy,
    percent,
    percentage_points,
    sensitivity_baseline,
    too_sparse_warning,
)
from prunetui.describe import sensitivity_table as describe_table
from prunetui.engine.analyses import (
    DEFAULT_AMOUNTS,
    SENSITIVITY_UNUSED_SETTINGS,
    SensitivityEnded,
    SensitivityEvent,
    SensitivityPoint,
    SensitivityStarted,
    chooses_by_validation,
    parse_fractions,
    sensitivity_criteria,
    sensitivity_file,
    sensitivity_series,
    suggest_amounts,
)
from prunetui.engine.core.config import ExperimentConfig, flag_name, format_layer_amounts
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.networks.checks import check_sources
from prunetui.engine.core.networks.layer_names import SPELLED_OUT, said_shortly
from prunetui.engine.core.seed_stats import parse_seeds
from prunetui.engine.pruning.ln_structured import AS_IT_IS
from prunetui.engine.storage.runs import DENSE_MODEL_FILE, MODEL_FILE, read_run, resolve_run, runs_root

DESCRIPTION = """\
Prune one layer at a time to each amount, leaving the rest of the model as it is and without fine-tuning,
and measure validation and test accuracy: which layers tolerate pruning, and how much. The suggested amounts
go by validation accuracy; test accuracy is only reported. The model is trained first with the settings
given, or taken from a saved run with --run (its dense model from before pruning, or with --from final its
pruned model). --criterion picks how ({criteria}); the sparsity and schedule settings are not used.
Each layer and amount is an evaluation of its own: --jobs N runs N at once in worker processes, --ray as Ray
tasks, with the same results as one after another.
"""
# Settings whose schema help speaks of a pruning run, said for this analysis.
HELPS = {
    "criterion": "which weights go; only criteria that rank the weights as they are, without training batches",
    "epochs": "training epochs of the model analysed (none with --run, whose model is trained)",
    "structured_importance": "ln-structured: rows (channels) ranked by their weights' norm or at random",
}
CHOICES = {"structured_importance": AS_IT_IS}
# With --run, the run's own: they chose the images its model trained on, and so which are validation images.
RUN_IMAGES = ("train_subset", "validation_split")
STARTS = {"dense": "dense.pt, the trained model before pruning", "final": "model.pt, the pruned model"}
NO_VALIDATION = (
    "no validation images were held out (validation_split 0, or a run saved before prunetui held any out), so "
    "this suggestion goes by test accuracy: the test set then both chooses and reports, and flatters the result"
)


def add_sensitivity_parser(commands: argparse._SubParsersAction) -> None:
    criteria = tuple(sensitivity_criteria())  # read now: criteria may be registered after import
    parser = commands.add_parser(
        "sensitivity",
        help="accuracy with one layer pruned at a time, per layer and amount",
        description=DESCRIPTION.format(criteria=and_list(criteria, "or")),
    )
    add_list_option(parser, "--amounts", DEFAULT_AMOUNTS, "fractions of each layer to prune")
    parser.add_argument("--run", metavar="RUN", help=f"analyse this saved run's trained model; RUN is {RUN_HELP}")
    parser.add_argument(
        "--from",
        dest="start",
        choices=tuple(STARTS),
        help="with --run, which of its models: "
        + "; ".join(f"{name}: {what}" for name, what in STARTS.items())
        + ", whose zeros stay (an amount is then the layer's sparsity, its zeros included) [dense]",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        metavar="FRACTION",
        help="suggest per layer the largest amount that keeps accuracy within this of dense [0.01]",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE.csv", help="where to save the results (default: a CSV under RUNS/sensitivity)"
    )
    add_seeds_option(parser, "the analysis, each seed training its own model,")
    add_parallel_options(parser, "evaluations")
    add_runs_dir_option(parser)
    add_config_options(parser, skip=SENSITIVITY_UNUSED_SETTINGS, choices=CHOICES | {"criterion": criteria}, helps=HELPS)


def sensitivity_command(args: argparse.Namespace, console: Console) -> int:
    root = runs_root(args.runs_dir)
    try:
        if args.start and not args.run:
            raise PrunetuiError("invalid --from: it picks one of a saved run's models; give the run with --run")
        base, model_path = _saved_model(args.run, args.start or "dense", root) if args.run else (None, None)
        config = config_from_args(args, base)
        if base is not None:
            _check_run_images(base, config)
        else:  # it trains a model: its files are there, said before torch and the data load
            check_sources(config.model, config.weights)
        amounts = parse_fractions(args.amounts, "--amounts")
        if not 0.0 <= args.tolerance < 1.0:
            raise PrunetuiError(f"invalid --tolerance: {args.tolerance:g} is not in [0, 1)")
        from prunetui.engine.analyses.sensitivity import Sensitivity  # imports torch

        seeds = parse_seeds(args.seeds) if args.seeds is not None else ()
        evaluations = len(amounts) * max(1, len(config.prunable_layer_names)) * max(1, len(seeds))
        parallel, note = parallel_from_args(args).capped(evaluations)
        out = args.out or sensitivity_file(root, config, seeds)
        analysis = Sensitivity(config, amounts, model_path=model_path, seeds=seeds, out=out, parallel=parallel)
    except PrunetuiError as error:
        return fail(str(error))
    if note:
        print(note, file=sys.stderr)  # as the sweep's
    then = "" if parallel.in_process else "; evaluations running elsewhere end now"
    with stop_on_interrupt(analysis.stop, console, then=then):
        ended = follow(analysis.run(), console, _line, "results so far below", _stage, EvaluationCount())
    assert isinstance(ended, SensitivityEnded)
    if ended.points:
        console.print(sensitivity_table(ended.points, ended.starts, args.tolerance))
        console.print(_chart(ended.points, console))
        suggestion = format_layer_amounts(suggest_amounts(ended.points, ended.starts, args.tolerance))
        within = percentage_points(args.tolerance)
        which = "validation" if chooses_by_validation(ended.starts) else "test"
        baseline = sensitivity_baseline(ended.starts)
        console.print(
            f"largest amount per layer keeping {which} accuracy within {within} of {baseline}: [bold]{suggestion}[/]"
        )
        if which == "test":
            console.print(f"[yellow]{NO_VALIDATION}[/]")
        console.print(
            f"to prune each layer that far: prunetui run [bold]--layer-sparsity {suggestion}[/] …", soft_wrap=True
        )
    if ended.not_saved:  # the results are on screen: only the file is missing
        return fail(ended.not_saved, code=1)
    if ended.results_file:
        console.print(f"results in [bold]{ended.results_file}[/]")
    return EXIT_CODES[ended.status]


def _saved_model(run: str, start: str, root: Path) -> tuple[ExperimentConfig, Path]:
    """A run's settings and the model `start` names: its trained dense model (model.pt when it never got to prune),
    or its final, pruned one."""
    record = read_run(resolve_run(run, root))
    if record.config is None:
        raise PrunetuiError(f"cannot read the settings of run {record.name} ({record.path})")
    for name in (DENSE_MODEL_FILE, MODEL_FILE) if start == "dense" else (MODEL_FILE,):
        if (record.path / name).is_file():
            return record.config, record.path / name
    what = "model" if start == "dense" else "final model"
    raise PrunetuiError(f"run {record.name} saved no {what} ({record.status})")


def _check_run_images(run: ExperimentConfig, config: ExperimentConfig) -> None:
    """A saved run's model is measured on the images its run held out, never on images it trained on."""
    for name in RUN_IMAGES:
        if getattr(config, name) != getattr(run, name):
            raise PrunetuiError(
                f"invalid {flag_name(name)}: with --run it is the run's own ({getattr(run, name):g}), which chose "
                "the images its model trained on"
            )


class EvaluationCount:
    """The evaluations of each model analysed (one per layer and amount), counted as their points come: the
    progress line's count and time left over a deep network's many layers."""

    def __init__(self) -> None:
        self.done = self.total = 0

    def __call__(self, event: SensitivityEvent) -> Count | None:
        match event:
            case SensitivityStarted():
                self.done, self.total = 0, event.evaluations
            case SensitivityPoint():
                self.done += 1
            case _:
                return None
        latest = f": {event.layer}" if isinstance(event, SensitivityPoint) else ""
        return Count(f"evaluations, seed {event.seed}{latest}", self.done, self.total)


def _stage(event: SensitivityEvent) -> str | None:
    """The stage a point ends: its evaluation's name."""
    return event.stage if isinstance(event, SensitivityPoint) else None


def _line(event: SensitivityEvent) -> str | None:
    match event:
        case SensitivityStarted():
            layers = zip(event.layers, event.sparsity, strict=True)
            sparse = f"; already sparse: {', '.join(f'{name} {percent(s)}' for name, s in layers)}"
            if len(event.layers) > SPELLED_OUT:  # a deep network: the range, not a line per layer
                sparse = f"; already sparse: {percent(min(event.sparsity))} to {percent(max(event.sparsity))}"
            line = (
                f"{loaded_accuracy(event)} (model: {event.source}, seed {event.seed}"
                f"{sparse if any(event.sparsity) else ''}); pruning {said_shortly(event.layers)} one at a time to "
                f"{len(event.amounts)} amounts"
            )
            warning = too_sparse_warning(event, "--amounts")
            return f"{line}\n[yellow]{warning}[/]" if warning else line
    return None


def sensitivity_table(
    points: tuple[SensitivityPoint, ...], starts: tuple[SensitivityStarted, ...], tolerance: float
) -> Table:
    """The results as the app's Sensitivity screen tables them, red where validation chooses against them."""
    described = describe_table(points, starts, tolerance)
    table = Table(title=described.title, title_justify="left", caption=described.caption)
    table.add_column("layer")
    table.add_column("images")
    for amount in described.amounts:
        table.add_column(amount, justify="right")
    for row in described.rows:
        cells = (f"[red]{cell}[/]" if below else cell for cell, below in zip(row.cells, row.below, strict=True))
        table.add_row(row.layer, row.images, *cells, end_section=row.last)
    return table


def _chart(points: tuple[SensitivityPoint, ...], console: Console) -> Text:
    return line_chart(sensitivity_series(points), "layer pruned (%)", "accuracy (%)", console)
