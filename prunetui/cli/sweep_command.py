"""`prunetui sweep`: accuracy against sparsity for several methods, one trained model, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prunetui.cli.analysis_view import EXIT_CODES, add_list_option, follow, line_chart, percent_cells
from prunetui.cli.options import add_config_options, add_runs_dir_option, config_from_args, fail
from prunetui.cli.run_command import stop_on_ctrl_c
from prunetui.describe import percent
from prunetui.engine.analyses import (
    DEFAULT_METHODS,
    DEFAULT_SPARSITIES,
    POINT_SETTINGS,
    SweepEnded,
    SweepEvent,
    SweepPoint,
    SweepSpec,
    SweepStarted,
    parse_fractions,
    parse_methods,
    point_key,
    sweep_directory,
    sweep_series,
)
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.runs import runs_root

DESCRIPTION = """\
Prune one trained model with several methods to several sparsities, fine-tuning each point, and show
accuracy against sparsity as a table and a chart. The dense model is trained once; results go to
sweep.csv in the sweep directory as each point finishes. Run the same command again to resume a
stopped sweep: finished points are not redone (add methods or sparsities to extend it).
Ctrl+C stops after the current batch and keeps the finished points.
"""


def add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sweep", help="accuracy against sparsity for several methods (resumable)", description=DESCRIPTION
    )
    add_list_option(
        parser,
        "--methods",
        DEFAULT_METHODS,
        "criterion:scope:schedule (scope and schedule default to layer and one-shot)",
    )
    add_list_option(parser, "--sparsities", DEFAULT_SPARSITIES, "target sparsities")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="the sweep directory (default: one per settings under RUNS/sweeps)"
    )
    parser.add_argument("--log-compression", action="store_true", help="chart accuracy against compression, log x")
    add_runs_dir_option(parser)
    add_config_options(parser, skip=POINT_SETTINGS)


def sweep_command(args: argparse.Namespace, console: Console) -> int:
    try:
        base = config_from_args(args)
        spec = SweepSpec(base, parse_methods(args.methods), parse_fractions(args.sparsities, "--sparsities"))
        spec.validate()
    except PrunetuiError as error:
        return fail(str(error))
    directory = args.out or sweep_directory(runs_root(args.runs_dir), base)
    from prunetui.engine.analyses.sweep import Sweep  # imports torch

    sweep = Sweep(spec, directory)
    with stop_on_ctrl_c(sweep.stop, console):
        ended = follow(sweep.run(), console, _line, "run the same command again to resume")
    assert isinstance(ended, SweepEnded)
    if ended.points:
        console.print(sweep_table(spec, ended.points))
        agp = (
            f"; agp points prune while training from scratch for {_epochs(base.epochs)}, as the dense model trained"
            if "agp" in args.methods
            else ""
        )
        console.print(
            f"Each point: the dense model ({_epochs(base.epochs)} of training) pruned, then fine-tuned for "
            f"{_epochs(base.finetune_epochs)} per prune round{agp}."
        )
        console.print(_chart(ended.points, args.log_compression, console))
    console.print(f"results in [bold]{directory}/sweep.csv[/]")
    return EXIT_CODES[ended.status]


def _epochs(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _line(event: SweepEvent) -> str | None:
    match event:
        case SweepStarted():
            total = len(event.methods) * len(event.sparsities)
            resumed = f", {len(event.done)} already done" if event.done else ""
            return f"sweep of {total} points in {event.directory}{resumed}"
        case SweepPoint():
            return (
                f"{event.method} at {percent(event.sparsity, 0)}: {event.compression:.1f}× compression, accuracy "
                f"{percent(event.dense_accuracy)} dense → {percent(event.pruned_accuracy)} pruned → "
                f"[bold]{percent(event.accuracy)}[/] fine-tuned"
            )
    return None


def sweep_table(spec: SweepSpec, points: tuple[SweepPoint, ...]) -> Table:
    found = {point.key: point for point in points}
    table = Table(title="Test accuracy (%) after fine-tuning", title_justify="left")
    table.add_column("method")
    for sparsity in spec.sparsities:
        table.add_column(percent(sparsity, 0), justify="right")
    for method in spec.methods:
        row = [found.get(point_key(method, sparsity)) for sparsity in spec.sparsities]
        table.add_row(method, *percent_cells(point.accuracy if point else None for point in row))
    table.caption = f"dense accuracy {percent(points[0].dense_accuracy)}" if points else None
    return table


def _chart(points: tuple[SweepPoint, ...], log_compression: bool, console: Console) -> Text:
    series, x_label = sweep_series(points, log_compression)
    return line_chart(series, x_label, "accuracy (%)", console, log_x=log_compression)
