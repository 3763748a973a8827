"""`prunetui sensitivity`: prune one layer at a time, no fine-tuning, and see which layers tolerate it."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prunetui.cli.analysis_view import EXIT_CODES, add_list_option, follow, line_chart, percent_cells
from prunetui.cli.options import RUN_HELP, add_config_options, add_runs_dir_option, config_from_args, fail
from prunetui.cli.output import and_list
from prunetui.cli.run_command import stop_on_ctrl_c
from prunetui.describe import percent
from prunetui.engine.analyses import (
    DEFAULT_AMOUNTS,
    SENSITIVITY_UNUSED_SETTINGS,
    SensitivityEnded,
    SensitivityEvent,
    SensitivityPoint,
    SensitivityStarted,
    parse_fractions,
    sensitivity_criteria,
    sensitivity_file,
    sensitivity_series,
    suggest_amounts,
)
from prunetui.engine.core.config import ExperimentConfig, format_layer_amounts
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.runs import DENSE_MODEL_FILE, MODEL_FILE, read_run, resolve_run, runs_root

DESCRIPTION = """\
Prune one layer at a time to each amount, leaving the rest of the model dense and without fine-tuning,
and measure test accuracy: which layers tolerate pruning, and how much. The model is trained first with
the settings given, or taken from a saved run with --run (its dense model, from before pruning).
--criterion picks how ({criteria}); the sparsity and schedule settings are not used.
"""
# Settings whose schema help speaks of a pruning run, said for this analysis.
HELPS = {
    "criterion": "which weights go; only criteria that rank the weights as they are, without training batches",
    "epochs": "training epochs of the model analysed (none with --run, whose model is trained)",
}


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
        "--tolerance",
        type=float,
        default=0.01,
        metavar="FRACTION",
        help="suggest per layer the largest amount that keeps accuracy within this of dense [0.01]",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE.csv", help="where to save the results (default: a CSV under RUNS/sensitivity)"
    )
    add_runs_dir_option(parser)
    add_config_options(parser, skip=SENSITIVITY_UNUSED_SETTINGS, choices={"criterion": criteria}, helps=HELPS)


def sensitivity_command(args: argparse.Namespace, console: Console) -> int:
    root = runs_root(args.runs_dir)
    try:
        base, model_path = _saved_model(args.run, root) if args.run else (None, None)
        config = config_from_args(args, base)
        amounts = parse_fractions(args.amounts, "--amounts")
        if not 0.0 <= args.tolerance < 1.0:
            raise PrunetuiError(f"invalid --tolerance: {args.tolerance:g} is not in [0, 1)")
        from prunetui.engine.analyses.sensitivity import Sensitivity  # imports torch

        analysis = Sensitivity(config, amounts, model_path=model_path, out=args.out or sensitivity_file(root, config))
    except PrunetuiError as error:
        return fail(str(error))
    with stop_on_ctrl_c(analysis.stop, console):
        ended = follow(analysis.run(), console, _line, "results so far below")
    assert isinstance(ended, SensitivityEnded)
    if ended.points and ended.dense_accuracy is not None:
        console.print(sensitivity_table(ended.points, ended.dense_accuracy, args.tolerance))
        console.print(_chart(ended.points, console))
        suggestion = format_layer_amounts(suggest_amounts(ended.points, ended.dense_accuracy, args.tolerance))
        within = _percentage_points(args.tolerance)
        console.print(f"largest amount per layer keeping accuracy within {within} of dense: [bold]{suggestion}[/]")
        console.print(
            f"to prune each layer that far: prunetui run [bold]--layer-sparsity {suggestion}[/] …", soft_wrap=True
        )
    if ended.not_saved:  # the results are on screen: only the file is missing
        return fail(ended.not_saved, code=1)
    if ended.results_file:
        console.print(f"results in [bold]{ended.results_file}[/]")
    return EXIT_CODES[ended.status]


def _saved_model(run: str, root: Path) -> tuple[ExperimentConfig, Path]:
    """A run's settings and its trained dense model (model.pt when it never got to prune)."""
    record = read_run(resolve_run(run, root))
    if record.config is None:
        raise PrunetuiError(f"cannot read the settings of run {record.name} ({record.path})")
    for name in (DENSE_MODEL_FILE, MODEL_FILE):
        if (record.path / name).is_file():
            return record.config, record.path / name
    raise PrunetuiError(f"run {record.name} saved no model ({record.status})")


def _line(event: SensitivityEvent) -> str | None:
    match event:
        case SensitivityStarted():
            return (
                f"dense accuracy {percent(event.dense_accuracy)} (model: {event.source}); pruning "
                f"{', '.join(event.layers)} one at a time to {len(event.amounts)} amounts"
            )
    return None


def sensitivity_table(points: tuple[SensitivityPoint, ...], dense: float, tolerance: float) -> Table:
    amounts = sorted({point.amount for point in points})
    found = {(point.layer, point.amount): point.accuracy for point in points}
    table = Table(title="Test accuracy (%) with one layer pruned, no fine-tuning", title_justify="left")
    table.add_column("layer")
    for amount in amounts:
        table.add_column(percent(amount, 0), justify="right")
    for layer in dict.fromkeys(point.layer for point in points):
        accuracies = [found.get((layer, amount)) for amount in amounts]
        cells = [
            cell if accuracy is None or accuracy >= dense - tolerance else f"[red]{cell}[/]"
            for cell, accuracy in zip(percent_cells(accuracies), accuracies, strict=True)
        ]
        table.add_row(layer, *cells)
    table.caption = f"dense accuracy {percent(dense)}; red: more than {_percentage_points(tolerance)} below"
    return table


def _percentage_points(fraction: float) -> str:
    return f"{fraction * 100:g} percentage point{'' if fraction == 0.01 else 's'}"


def _chart(points: tuple[SensitivityPoint, ...], console: Console) -> Text:
    return line_chart(sensitivity_series(points), "layer pruned (%)", "accuracy (%)", console)
