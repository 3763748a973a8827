"""`prunetui runs`: the saved runs as a table that fits 80 columns, as JSON or CSV for scripts, and deleting runs."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from prunetui.cli.options import RUN_HELP, add_runs_dir_option, fail
from prunetui.cli.output import and_list
from prunetui.describe import percent
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.csv_text import csv_text
from prunetui.engine.storage.runs import (
    RUN_NAME,
    RunRecord,
    deletable_run,
    delete_run,
    list_runs,
    resolve_run,
    runs_root,
)

STATUS_STYLES = {"finished": "green", "stopped": "yellow", "interrupted": "yellow", "running": "cyan"}

# The fields of `--json` and `--csv`, in order. Scripts rely on these names: add fields, never rename them.
FIELDS = (
    "name", "status", "complete", "started", "model", "dataset", "method", "target_sparsity", "sparsity",
    "dense_accuracy", "accuracy", "compression", "message", "path",
)  # fmt: skip

DESCRIPTION = f"""\
List the runs saved under the runs root, newest first. Runs that were stopped, failed or were killed
are listed too, marked as such.

--json (a list of objects) and --csv (a header row, then one row per run) give these fields:
{textwrap.fill(", ".join(FIELDS), width=100, initial_indent="  ", subsequent_indent="  ")}
Accuracies and sparsities are fractions in [0, 1]; compression is total / non-zero parameters; started
is ISO 8601; a value the run never got to is null in JSON and empty in CSV. These names stay stable.

--delete RUN… deletes runs after asking (--yes: without asking); a run still running is refused.
RUN is {RUN_HELP}.
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
    if args.delete:
        return _delete(args.delete, args.yes, root, console)
    runs = list_runs(root)
    if args.json:
        sys.stdout.write(json.dumps([run_fields(run) for run in runs], indent=2) + "\n")
    elif args.csv:
        sys.stdout.write(csv_text(FIELDS, map(run_fields, runs)))
    elif not runs:
        console.print(f"No runs in {root} yet; `prunetui run` saves one there.")
    else:
        console.print(runs_table(runs, str(root), stacked=console.is_terminal))
    return 0


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
        "message": run.message,
        "path": str(run.path),
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
    experiments = [f"{run.config.model} on {run.config.dataset}, {run.method}" if run.config else "?" for run in runs]
    table.add_column("run", no_wrap=True)
    table.add_column("experiment", overflow="fold")
    table.add_column("sparsity", justify="right", no_wrap=True)
    table.add_column(
        f"accuracy{newline}before → after", justify="right", no_wrap=True
    )  # agp prunes while training: no "dense"
    table.add_column("status", no_wrap=True)
    for run, experiment in zip(runs, experiments, strict=True):
        table.add_row(
            _name(run, newline),
            experiment,
            _sparsity(run, newline),
            f"{percent(run.dense_accuracy)} → {percent(run.accuracy)}",
            f"[{STATUS_STYLES.get(run.status, 'red')}]{run.status}[/]",
        )
    return table


def _name(run: RunRecord, newline: str) -> str:
    if run.started and not RUN_NAME.match(run.name):  # a name given with --out: say when it ran
        return f"{run.name}{newline}[dim]{run.started:%Y-%m-%d %H:%M}[/]"
    return run.name


def _sparsity(run: RunRecord, newline: str) -> str:
    if run.sparsity is None and run.config:
        return f"[dim]target{newline}{percent(run.config.sparsity)}[/]"
    return percent(run.sparsity)


def _delete(names: list[str], yes: bool, root: Path, console: Console) -> int:
    """Resolve and check every run first, so that a typo or a running run deletes nothing."""
    try:
        runs = [deletable_run(resolve_run(name, root)) for name in names]
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
