"""`prunetui runs`: the saved runs as a table that fits 80 columns, as JSON or CSV for scripts, and deleting runs."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from prunetui.cli.options import RUN_HELP, ParagraphsFormatter, add_runs_dir_option, fail
from prunetui.cli.output import and_list
from prunetui.describe import counted, cut_name, fitted_method, group_accuracies, mean_percent, percent
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.csv_text import csv_text
from prunetui.engine.storage.groups import AVERAGED, GROUP_NAME_WIDTH, RunGroup, grouped
from prunetui.engine.storage.runs import (
    RUN_NAME,
    STATUSES,
    RunRecord,
    candidates,
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
HEADERS = ("run", "experiment", "sparsity", "accuracy\nbefore → after", "status")  # agp prunes in training: no "dense"
MIN_WHAT = 6  # fewer cells of 'lenet5 on mnist' than this say nothing: the method alone then

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
  {", ".join(FIELDS)}
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
        formatter_class=ParagraphsFormatter,
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
        console.print(runs_table(runs, str(root), width=console.width if console.is_terminal else None))
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


@dataclass(frozen=True)
class Experiment:
    """What a row's experiment cell says, in plain words: 'lenet5 on mnist' and its method, or (dim) a seed under
    its group's row."""

    what: str
    method: str = ""
    dim: bool = False

    @property
    def text(self) -> str:
        return f"{self.what}, {self.method}" if self.method else self.what

    def cell(self, text: str) -> str:
        return f"[dim]{escape(text)}[/]" if self.dim else escape(text)  # a model's file name may hold [brackets]


Row = tuple[str, Experiment, str, str, str]  # run, experiment, sparsity, accuracy, status


def runs_table(runs: list[RunRecord], root: str, width: int | None = None) -> Table:
    """One line per run, and one per seed group above its runs (its name, as `--delete` takes it, its mean
    sparsity, mean dense accuracy → mean ± std accuracy and n), its runs told by their seed. In a terminal `width`
    columns wide the experiment takes the room the other columns leave, its model and data set cut first, then the
    method's criterion and scope, its schedule last (`fitted_method`); a run's name longer than a group's is cut
    in the middle. Without a `width` (through a pipe) every cell is whole."""
    items = grouped(runs)
    rows = [_group_cells(item) if isinstance(item, RunGroup) else _run_cells(item, width is None) for item in items]
    table = Table(
        title=f"{counted(len(runs), 'run')} in {escape(root)}",
        title_justify="left",
        box=None,
        padding=(0, 1, 0, 0),
        pad_edge=False,
        header_style="bold",
    )
    for header, right in zip(HEADERS, (False, False, True, True, False), strict=True):
        table.add_column(
            header if width else header.replace("\n", " "), no_wrap=True, justify="right" if right else "left"
        )
    room = 0 if width is None else width - len(HEADERS) + 1 - sum(_column_width(rows, c) for c in (0, 2, 3, 4))
    for name, experiment, sparsity, accuracy, status in rows:
        text = experiment.text if width is None else _fitted(experiment, room)
        table.add_row(name, experiment.cell(text), sparsity, accuracy, status)
    return table


def _fitted(experiment: Experiment, width: int) -> str:
    """The model and data set give way first ('lenet5 on fashion-m… l1 layer one-shot'), then the method."""
    if not experiment.method or len(experiment.text) <= width:
        return experiment.text
    room = width - len(experiment.method) - 1
    if room < MIN_WHAT:
        return fitted_method(experiment.method, max(width, 2))
    return f"{experiment.what[: room - 1]}… {experiment.method}"


def _column_width(rows: list[Row], column: int) -> int:
    """The cells of a column, each on one line: their widest, or its header's widest line."""
    header = max(len(line) for line in HEADERS[column].splitlines())
    return max(header, *(Text.from_markup(str(row[column])).cell_len for row in rows))  # not the experiment


def _run_cells(run: RunRecord, whole: bool) -> Row:
    if run.group and run.config:  # under its group's row, which says what the experiment is
        experiment = Experiment(f"  seed {run.config.seed}", dim=True)
    else:
        experiment = _experiment(run.config, run.method)
    return (
        _name(run, whole),
        experiment,
        _sparsity(run),
        f"{percent(run.dense_accuracy)} → {percent(run.accuracy)}",
        f"[{STATUS_STYLES.get(run.status, 'red')}]{run.status}[/]",
    )


def _group_cells(group: RunGroup) -> Row:
    """A seed group's row, above its runs: means (± standard deviation of the accuracy) over the n that finished."""
    return (
        f"[b]{group.name}[/]",
        _experiment(group.config, group.method),
        mean_percent(group.stat("sparsity")),
        group_accuracies(group.stat("dense_accuracy"), group.stat("accuracy")),
        f"[b]n = {len(group.averaged)}[/]",
    )


def _experiment(config: ExperimentConfig | None, method: str) -> Experiment:
    return Experiment(f"{config.model} on {config.dataset}", method) if config else Experiment("?")


def _name(run: RunRecord, whole: bool) -> str:
    if not whole:
        return escape(cut_name(run.name, GROUP_NAME_WIDTH))
    if run.started and not RUN_NAME.match(run.name):  # a name given with --out: say when it ran
        return f"{escape(run.name)} [dim]{run.started:%Y-%m-%d %H:%M}[/]"
    return escape(run.name)


def _sparsity(run: RunRecord) -> str:
    """The sparsity reached; of a run that never reported one, its target, dim and in brackets."""
    if run.sparsity is None and run.config:
        return f"[dim]({percent(run.config.sparsity)})[/]"
    return percent(run.sparsity)


def _delete(names: list[str], yes: bool, root: Path, console: Console) -> int:
    """Resolve and check every run first, so that a typo or a running run deletes nothing. A seed group's name
    stands for all its runs."""
    groups = {item.name: item for item in grouped(list_runs(root)) if isinstance(item, RunGroup)}
    try:
        runs = []
        for name in names:
            group = _group(name, groups, root)
            if group is not None and group.name != name:  # a start of its name: say which group it is
                console.print(f"{name}: seed group {group.name}", markup=False)
            runs += group.deletable() if group else [deletable_run(resolve_run(name, root))]
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


def _group(name: str, groups: dict[str, RunGroup], root: Path) -> RunGroup | None:
    """The seed group `name` names, whole or by the unique start of its name, as a run is named; None when it
    names none (it may name a run)."""
    matches = sorted(group for group in groups if group.startswith(name))
    if name in groups or len(matches) == 1:
        return groups[name if name in groups else matches[0]]
    if matches:
        raise PrunetuiError(
            f"{name!r} is ambiguous in {root}: {len(matches)} seed groups start with it: {candidates(matches)}"
        )
    return None


def _confirmed(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:  # no one to answer: no
        print()
        return False
