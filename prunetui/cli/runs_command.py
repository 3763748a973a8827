"""`prunetui runs`: the saved runs as a table that fits 80 columns, as JSON or CSV for scripts, and deleting runs."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from prunetui.cli.options import RUN_HELP, add_runs_dir_option, fail
from prunetui.cli.output import and_list
from prunetui.describe import percent, percent_spread, seeds_text
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.csv_text import csv_text
from prunetui.engine.storage.groups import AVERAGED, RunGroup, grouped
from prunetui.engine.storage.runs import (
    RUN_NAME,
    STATUSES,
    RunRecord,
    deletable_run,
    delete_run,
    json_text,
    list_runs,
    not_a_runs_root,
    resolve_run,
    runs_root,
)

AGGREGATE = "aggregate"  # the status of a seed group's own row in --json and --csv
STD_FIELDS = tuple(f"{field}_std" for field in AVERAGED)
STATUS_STYLES = {"finished": "green", "stopped": "yellow", "interrupted": "yellow", "running": "cyan"}

# The fields of `--json` and `--csv`, in order. Scripts rely on these names: add fields, never rename them.
FIELDS = (
    "name", "status", "complete", "started", "model", "dataset", "method", "target_sparsity", "sparsity",
    "dense_accuracy", "accuracy", "compression", "message", "path",
    "group", "seed", "n", "dense_accuracy_std", "accuracy_std", "sparsity_std", "compression_std",
    "weight_compression", "weight_compression_std",
)  # fmt: skip

DESCRIPTION = f"""\
List the runs saved under the runs root, newest first. Runs that were stopped, failed or were killed
are listed too, marked as such.

--json (a list of objects) and --csv (a header row, then one row per run) give these fields:
{textwrap.fill(", ".join(FIELDS), width=100, initial_indent="  ", subsequent_indent="  ")}
Accuracies and sparsities are fractions in [0, 1]; compression is total / non-zero parameters, biases
included, and weight_compression total / non-zero weights, biases left out (what Han et al. 2015 count:
LeNet-5's 12×); started is ISO 8601; a value the run never got to (or not a finite number) is null in JSON
and empty in CSV. status is one of {", ".join(STATUSES)}. These names stay stable.

Runs of one seed group (`prunetui run --seeds`) have its name in group and their seed in seed. Each group
also has a row of its own, just before its runs, marked by status "aggregate": name and group are the
group's name, path and seed are empty, the numbers are means over the n runs that finished and each
*_std is their sample standard deviation. A run's own row has n and *_std empty (and group, if in none).

--delete RUN… deletes runs after asking (--yes: without asking); a run still running is refused.
RUN is {RUN_HELP};
a seed group's name (seeds-…) stands for all its runs.
"""


def add_runs_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "runs",
        help="list the saved runs (a table, --json or --csv); --delete RUN… deletes them",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--json", action="store_true", help="print the runs as JSON, for scripts")
    what.add_argument("--csv", action="store_true", help="print the runs as CSV, for scripts and spreadsheets")
    what.add_argument("--delete", nargs="+", metavar="RUN", help="delete these runs (after asking)")
    parser.add_argument("--yes", action="store_true", help="with --delete: do not ask")
    add_runs_dir_option(parser)


def runs_command(args: argparse.Namespace, console: Console) -> int:
    root = runs_root(args.runs_dir)
    if why := not_a_runs_root(root):
        return fail(why)
    if args.delete:
        return _delete(args.delete, args.yes, root, console)
    runs = list_runs(root)
    if args.json:
        sys.stdout.write(json_text(rows(runs)))
    elif args.csv:
        sys.stdout.write(csv_text(FIELDS, rows(runs)))
    elif not runs:
        console.print(f"No runs in {root} yet; `prunetui run` saves one there.")
    else:
        console.print(runs_table(runs, str(root), stacked=console.is_terminal))
    return 0


def rows(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """The records of --json and --csv: one per run, and one per seed group just before its runs, fields in
    FIELDS order."""
    records = [group_fields(item) if isinstance(item, RunGroup) else run_fields(item) for item in grouped(runs)]
    return [{field: record[field] for field in FIELDS} for record in records]


def run_fields(run: RunRecord) -> dict[str, Any]:
    """One run as the stable record of --json and --csv (see FIELDS)."""
    config = run.config
    return {
        "name": run.name,
        "status": run.status,
        "complete": run.complete,
        "started": run.started.isoformat() if run.started else None,
        "model": config.model if config else None,
        "dataset": config.dataset if config else None,
        "method": run.method if config else None,
        "target_sparsity": config.sparsity if config else None,
        "sparsity": run.sparsity,
        "dense_accuracy": run.dense_accuracy,
        "accuracy": run.accuracy,
        "compression": run.compression,
        "weight_compression": run.weight_compression,
        "message": run.message,
        "path": str(run.path),
        "group": run.group or None,
        "seed": config.seed if config else None,
        "n": None,
        **dict.fromkeys(STD_FIELDS),
    }


def group_fields(group: RunGroup) -> dict[str, Any]:
    """A seed group's aggregate record: the means and standard deviations over its finished runs."""
    config = group.config
    stats = {field: group.stat(field) for field in AVERAGED}
    return {
        "name": group.name,
        "status": AGGREGATE,
        "complete": all(run.complete for run in group.runs),
        "started": group.started.isoformat() if group.started else None,
        "model": config.model if config else None,
        "dataset": config.dataset if config else None,
        "method": group.method,
        "target_sparsity": config.sparsity if config else None,
        **{field: stat.mean if stat else None for field, stat in stats.items()},
        "message": "",
        "path": None,
        "group": group.name,
        "seed": None,
        "n": len(group.averaged),
        **{f"{field}_std": stat.std if stat else None for field, stat in stats.items()},
    }


def runs_table(runs: list[RunRecord], root: str, stacked: bool = True) -> Table:
    """Readable at 80 columns: no rules, one space between columns, and only the experiment (model, data, method)
    wraps, between words (a word wider than the column is broken, never cut short); the other cells are short and
    never wrapped, so no number is parted from its unit. A run's name is its date. Not `stacked` (through a
    pipe), every cell is one line, so every run is one line."""
    newline = "\n" if stacked else " "
    table = Table(
        title=f"{len(runs)} run{'' if len(runs) == 1 else 's'} in {root}",
        title_justify="left",
        box=None,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        header_style="bold",
    )
    table.add_column("run", no_wrap=True)
    table.add_column("experiment", overflow="fold")
    table.add_column("sparsity", justify="right", no_wrap=True)
    table.add_column(
        f"accuracy{newline}before → after", justify="right", no_wrap=True
    )  # agp prunes while training: no "dense"
    table.add_column("status", no_wrap=True)
    for item in grouped(runs):
        table.add_row(*(_group_cells(item, newline) if isinstance(item, RunGroup) else _run_cells(item, newline)))
    return table


def _run_cells(run: RunRecord, newline: str) -> tuple[str, ...]:
    if run.group and run.config:  # under its group's row, which says what the experiment is
        experiment = f"[dim]  seed {run.config.seed}[/]"
    else:
        experiment = _experiment(run.config, run.method, newline)
    return (
        _name(run, newline),
        experiment,
        _sparsity(run, newline),
        f"{percent(run.dense_accuracy)} → {percent(run.accuracy)}",
        f"[{STATUS_STYLES.get(run.status, 'red')}]{run.status}[/]",
    )


def _group_cells(group: RunGroup, newline: str) -> tuple[str, ...]:
    """A seed group's row, above its runs: means ± standard deviations over the n runs that finished."""
    pm = "±" if newline == "\n" else " ± "  # narrow, so that the experiment keeps the columns its words need
    return (
        f"[b]seed group[/]{newline}[dim]mean{' ± std' if len(group.averaged) > 1 else ''}[/]",
        f"{_experiment(group.config, group.method, newline)}, {seeds_text(group.seeds)}",
        percent_spread(group.stat("sparsity"), f"{newline}{pm}"),  # no wider than its header
        f"{percent_spread(group.stat('dense_accuracy'), pm)} →{newline}{percent_spread(group.stat('accuracy'), pm)}",
        f"[b]n = {len(group.averaged)}[/]",
    )


def _experiment(config: ExperimentConfig | None, method: str, newline: str) -> str:
    """'lenet5 on mnist, l1 layer one-shot'; stacked, the method on a line of its own, with no comma to make the
    data set's name (fashion-mnist-mini) a word longer than the column."""
    if config is None:
        return "?"
    return f"{config.model} on {config.dataset}{',' if newline == ' ' else ''}{newline}{method}"


def _name(run: RunRecord, newline: str) -> str:
    if run.started and not RUN_NAME.match(run.name):  # a name given with --out: say when it ran
        return f"{run.name}{newline}[dim]{run.started:%Y-%m-%d %H:%M}[/]"
    return run.name


def _sparsity(run: RunRecord, newline: str) -> str:
    if run.sparsity is None and run.config:
        return f"[dim]target{newline}{percent(run.config.sparsity)}[/]"
    return percent(run.sparsity)


def _delete(names: list[str], yes: bool, root: Path, console: Console) -> int:
    """Resolve and check every run first, so that a typo or a running run deletes nothing. A seed group's name
    stands for all its runs."""
    groups = {item.name: item for item in grouped(list_runs(root)) if isinstance(item, RunGroup)}
    try:
        runs = [
            run
            for name in names
            for run in (groups[name].deletable() if name in groups else [deletable_run(resolve_run(name, root))])
        ]
    except PrunetuiError as error:
        return fail(str(error))
    runs = list({run.path: run for run in runs}.values())  # a run named twice is deleted once
    for run in runs:
        console.print(f"{run.name}  {run.method}  {run.status}  {run.path}", markup=False)
    if not yes and not _confirmed(f"Delete {'this run' if len(runs) == 1 else f'these {len(runs)} runs'}? [y/N] "):
        console.print("Nothing deleted.")
        return 1
    for run in runs:
        try:
            delete_run(run.path)
        except PrunetuiError as error:
            return fail(str(error))
    console.print(f"Deleted {and_list([run.name for run in runs])}.")
    return 0


def _confirmed(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:  # no one to answer: no
        print()
        return False
