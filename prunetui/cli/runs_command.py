"""`prunetui runs`: the saved runs as a table, newest first."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from prunetui.describe import percent
from prunetui.engine.runs import RunRecord, list_runs, runs_root

STATUS_STYLES = {"finished": "green", "stopped": "yellow", "interrupted": "yellow", "running": "cyan"}


def runs_command(args: argparse.Namespace, console: Console) -> int:
    root = runs_root(args.runs_dir)
    runs = list_runs(root)
    if not runs:
        console.print(f"No runs in {root} yet; `prunetui run` saves one there.")
        return 0
    console.print(runs_table(runs, str(root)))
    return 0


def runs_table(runs: list[RunRecord], root: str) -> Table:
    table = Table(title=f"{len(runs)} run{'' if len(runs) == 1 else 's'} in {root}", title_justify="left")
    for column in ("run", "date", "model / data", "method", "sparsity", "accuracy dense → pruned", "status"):
        numeric = column in ("sparsity", "accuracy dense → pruned")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column in ("run", "date"))
    for run in runs:
        config = run.config
        table.add_row(
            run.name,
            run.started.strftime("%Y-%m-%d %H:%M") if run.started else "?",
            f"{config.model} / {config.dataset}" if config else "?",
            run.method,
            _sparsity(run),
            f"{percent(run.dense_accuracy)} → {percent(run.accuracy)}",
            f"[{STATUS_STYLES.get(run.status, 'red')}]{run.status}[/]",
        )
    return table


def _sparsity(run: RunRecord) -> str:
    if run.sparsity is None and run.config:
        return f"[dim]target {percent(run.config.sparsity)}[/]"
    return percent(run.sparsity)
