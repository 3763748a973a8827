"""`prunetui sweep`: accuracy against sparsity for several methods, one trained model, resumable."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from prunetui.cli.analysis_view import EXIT_CODES, add_list_option, follow, line_chart
from prunetui.cli.data_check import data_set_here
from prunetui.cli.options import (
    add_config_options,
    add_parallel_options,
    add_preset_option,
    add_runs_dir_option,
    add_seeds_option,
    fail,
    note_unused,
    parallel_from_args,
    settings_from_args,
)
from prunetui.cli.run_command import stop_on_interrupt
from prunetui.describe import STRUCTURED_POINTS, compressions, counted, percent, recovery, spread
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
    sweep_directory,
    sweep_means,
    sweep_series,
)
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.seed_stats import MeanStd, mean_std, parse_seeds
from prunetui.engine.storage.runs import runs_root

DESCRIPTION = """\
Prune one trained model with several methods to several sparsities, fine-tuning each point, and show
accuracy against sparsity as a table and a chart. The dense model is trained once; results go to
sweep.csv in the sweep directory as each point finishes. Run the same command again to resume a
stopped sweep: finished points are not redone (add methods or sparsities to extend it).
Ctrl+C stops after the current batch and keeps the finished points.

Points are independent jobs: --jobs N runs N at once in worker processes, --devices spreads them over GPUs,
--ray runs them as Ray tasks (pip install 'prunetui[ray]'). --seeds repeats every point per seed, each seed
with its own dense model, and shows accuracy as mean ± std (n).
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
    axis = parser.add_mutually_exclusive_group()
    axis.add_argument("--log-compression", action="store_true", help="chart accuracy against compression, log x")
    axis.add_argument("--macs", action="store_true", help="chart accuracy against the MACs kept (%%)")
    add_seeds_option(parser, "every point (each seed with its own dense model)")
    add_parallel_options(parser, "points")
    add_preset_option(parser, "its settings but the method and sparsity, which --methods and --sparsities choose")
    add_runs_dir_option(parser)
    add_config_options(parser, skip=POINT_SETTINGS)


def sweep_command(args: argparse.Namespace, console: Console) -> int:
    if args.seeds is not None and args.seed is not None:
        return fail("--seeds and --seed conflict: --seeds runs every point once with each seed it names")
    try:
        base, given = settings_from_args(args)
        base, missing = data_set_here(base, console)  # before torch: offline, say so and offer the built-in one
        if missing is not None:
            return fail(missing)
        seeds = parse_seeds(args.seeds) if args.seeds is not None else ()
        spec = SweepSpec(base, parse_methods(args.methods), parse_fractions(args.sparsities, "--sparsities"), seeds)
        spec.validate()
        note_unused(given, [spec.point_config(method, spec.sparsities[0]) for method in spec.methods])
        parallel, note = parallel_from_args(args).capped(len(spec.points()))
    except PrunetuiError as error:
        return fail(str(error))
    if note:
        print(note, file=sys.stderr)  # as note_unused's
    directory = args.out or sweep_directory(runs_root(args.runs_dir), base)
    from prunetui.engine.analyses.sweep import Sweep  # imports torch

    sweep = Sweep(spec, directory, parallel=parallel)
    then = "" if parallel.in_process else "; points running elsewhere end now, unfinished; finished points are kept"
    with stop_on_interrupt(sweep.stop, console, then=then):
        again = "run the same command again to resume"
        ended = follow(sweep.run(), console, partial(_line, spec), again, partial(point_stage, spec))
    assert isinstance(ended, SweepEnded)
    if ended.points:
        console.print(sweep_table(spec, ended.points))
        if any(point.macs_kept is not None for point in ended.points):
            console.print(macs_table(spec, ended.points))
        console.print(point_recipe(base, "agp" in args.methods))
        axis = "compression" if args.log_compression else "macs" if args.macs else "sparsity"
        console.print(_chart(ended.points, axis, console))
        unknown = sum(point.macs_kept is None for point in ended.points) if axis == "macs" else 0
        if unknown:  # points resumed from a sweep.csv written before MACs were counted
            console.print(f"{counted(unknown, 'point')} without MACs (older sweep.csv): not on the chart")
    console.print(results_line(directory), highlight=False)
    return EXIT_CODES[ended.status]


def results_line(directory: Path) -> str:
    """Where the sweep's results are, naming only files that exist (a sweep refused or failed may have none)."""
    from prunetui.engine.analyses.sweep import RESULTS_FILE, RUNS_DIRECTORY

    kept = [f"[bold]{path}[/]" for path in (directory / RESULTS_FILE, directory / RUNS_DIRECTORY) if path.exists()]
    if not kept:
        return f"no results saved in {directory}"
    return f"results in {kept[0]}" + (f", each point's run in {kept[1]}" if len(kept) > 1 else "")


def point_recipe(base: ExperimentConfig, agp: bool) -> str:
    """What each point of a sweep from `base` did, said below its table."""
    if base.rewind or base.reinit:
        after = f"{'reinitialised' if base.reinit else 'rewound'} and retrained for {counted(base.epochs, 'epoch')}"
    else:
        after = f"fine-tuned for {counted(base.finetune_epochs, 'epoch')}"
    during = (
        f"; agp points prune while training from scratch for {counted(base.epochs, 'epoch')}, as the dense model "
        "trained"
        if agp
        else ""
    )
    if agp and (base.rewind or base.reinit):  # agp prunes while training: nothing to rewind to
        during += f", then fine-tune for {counted(base.finetune_epochs, 'epoch')}"
    return (
        f"Each point: the dense model ({counted(base.epochs, 'epoch')} of training) pruned, then {after} per "
        f"prune round{during}."
    )


def point_stage(spec: SweepSpec, event: SweepEvent) -> str | None:
    """The stage a point ends: its progress's name."""
    return spec.stage(event.method, event.sparsity, event.seed) if isinstance(event, SweepPoint) else None


def _line(spec: SweepSpec, event: SweepEvent) -> str | None:
    match event:
        case SweepStarted():
            total = len(event.methods) * len(event.sparsities) * len(event.seeds)
            resumed = f", {len(event.done)} already done" if event.done else ""
            structured = any(spec.point_config(method, spec.sparsities[0]).structured for method in spec.methods)
            points = f"{total} point{'s' if total != 1 else ''}"
            return f"sweep of {points} in {event.directory}{resumed}{STRUCTURED_POINTS if structured else ''}"
        case SweepPoint():
            seed = f", seed {event.seed}" if len(spec.seeds) > 1 else ""
            recovered = recovery([spec.point_config(event.method, event.sparsity, event.seed)]).done
            return (
                f"{event.method} at {percent(event.sparsity, 0)}{seed}: "
                f"{compressions(event.weight_compression, event.compression)}, accuracy "
                f"{percent(event.dense_accuracy)} dense → {percent(event.pruned_accuracy)} pruned → "
                f"[bold]{percent(event.accuracy)}[/] {recovered}"
            )
    return None


def sweep_table(spec: SweepSpec, points: tuple[SweepPoint, ...]) -> Table:
    """Accuracy per method and sparsity; over several seeds, mean ± std (n)."""
    found = {(mean.method, mean.sparsity): mean for mean in sweep_means(points)}
    seeds = len(spec.seeds) > 1
    after = recovery(spec.method_configs()).noun
    table = Table(title=f"Test accuracy (%) after {after}{', mean ± std (n seeds)' if seeds else ''}",
                  title_justify="left")  # fmt: skip
    table.add_column("method")
    for sparsity in spec.sparsities:
        table.add_column(percent(sparsity, 0), justify="right")
    for method in spec.methods:
        row = [found.get((method, sparsity)) for sparsity in spec.sparsities]
        table.add_row(method, *(_cell(mean.accuracy if mean else None, seeds) for mean in row))
    dense = mean_std(point.dense_accuracy for point in {point.seed: point for point in points}.values())
    table.caption = f"dense accuracy {_cell(dense, seeds)} %" if points else None
    return table


def macs_table(spec: SweepSpec, points: tuple[SweepPoint, ...]) -> Table:
    """The MACs each point kept: its non-zero weights' MACs per image, in % of the dense network's (over seeds,
    their mean)."""
    found = {(mean.method, mean.sparsity): mean.means.get("macs_kept") for mean in sweep_means(points)}
    table = Table(title="MACs kept (%) of non-zero weights, per image", title_justify="left")
    table.add_column("method")
    for sparsity in spec.sparsities:
        table.add_column(percent(sparsity, 0), justify="right")
    for method in spec.methods:
        kept = [found.get((method, sparsity)) for sparsity in spec.sparsities]
        table.add_row(method, *("–" if share is None else f"{share * 100:.1f}" for share in kept))
    return table


def _cell(accuracy: MeanStd | None, seeds: bool) -> str:
    if accuracy is None:
        return "–"
    if not seeds:
        return f"{accuracy.mean * 100:.1f}"
    return f"{spread(accuracy, 100)} ({accuracy.n})"


def _chart(points: tuple[SweepPoint, ...], axis: str, console: Console) -> Text:
    series, bands, x_label = sweep_series(points, axis)
    return line_chart(series, x_label, "accuracy (%)", console, log_x=axis == "compression", errors=bands)
