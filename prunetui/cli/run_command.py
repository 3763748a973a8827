"""`prunetui run`: one experiment, headless, with Rich progress and a final per-layer table."""

from __future__ import annotations

import argparse
import io
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from prunetui.cli.data_check import data_set_here
from prunetui.cli.options import config_from_args, fail
from prunetui.cli.output import and_list
from prunetui.describe import before_pruning, describe, epoch_where, percent
from prunetui.describe_paper import comparison
from prunetui.engine.core.errors import ConfigError, OutputError, PrunetuiError, RunDirError
from prunetui.engine.core.events import Event, Failed, Finished, RunSummary, Status, StepLoss, Stopped
from prunetui.engine.core.presets import Preset, load_preset
from prunetui.engine.storage.runs import claim_run_dir, discard_failed_start, new_run_dir, run_files, runs_root

EXIT_CODES = {Finished: 0, Failed: 1, Stopped: 130}


def run_command(args: argparse.Namespace, console: Console) -> int:
    if args.jobs or args.threads or args.devices or args.ray is not None:
        return fail("--jobs, --threads, --devices and --ray run the seeds of --seeds; one run takes --device")
    try:
        config = config_from_args(args)
        preset = load_preset(args.preset) if args.preset else None
        config, missing = data_set_here(config, console)
        if missing is not None:
            return fail(missing)
        directory = args.out or new_run_dir(runs_root(args.runs_dir), config)
        lock = claim_run_dir(directory, args.overwrite)
    except (ConfigError, RunDirError) as error:  # RunDirError: holds a run, or another run writes there
        return fail(str(error))
    except OutputError as error:
        return fail(str(error), code=1)
    console.print("importing torch …", highlight=False)
    from prunetui.engine import Experiment  # imports torch: only once the arguments and --out are known good
    from prunetui.engine.storage.recording import record_claimed

    experiment = Experiment(config)
    events = record_claimed(experiment, lock, extra=preset.summary_fields(config) if preset else None)
    with stop_on_interrupt(experiment.stop, console):
        last = show_run(events, console, preset)
    console.print(closing_line(directory, last), markup=False)  # a path may hold [brackets]
    return EXIT_CODES[type(last)]


def closing_line(directory: Path, last: Event) -> str:
    """Where the run's files are, naming only those written; a start that failed before training is not kept."""
    try:
        if discard_failed_start(directory, last):
            return f"nothing kept: the run failed before training ({directory} removed)"
    except PrunetuiError as error:
        return f"the failed start is kept: {error}"
    files = run_files(directory)
    if not files:
        return f"nothing saved in {directory}"
    return f"{and_list(files)} {'is' if len(files) == 1 else 'are'} in {directory}"


def show_run(events: Iterator[Event], console: Console, preset: Preset | None = None) -> Event:
    """The run as it goes, then its per-layer table and totals; from a preset, its paper's figures beside them."""
    if preset:
        console.print(f"preset {preset.name}: {preset.title}", highlight=False, markup=False)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[figures]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("starting", total=None, figures="")  # no loss or speed before the first step
    event: Event | None = None
    with progress:
        for event in events:
            if isinstance(event, StepLoss):
                progress.update(
                    task,
                    description=f"{epoch_where(event.phase, event.round)} epoch {event.epoch}/{event.epochs}",
                    completed=event.batch,
                    total=event.batches,
                    figures=f"loss {event.loss:.4f} · {event.images_per_s:,.0f} img/s",
                )
                continue
            if isinstance(event, Status):
                progress.update(task, description=event.message)
            line = describe(event)
            if line:
                style = "red" if isinstance(event, Failed) else "bold" if isinstance(event, Finished) else ""
                progress.console.print(line, style=style, highlight=False, markup=False)
    assert event is not None, "an experiment always ends with Finished, Stopped or Failed"
    if isinstance(event, Finished | Stopped | Failed) and event.summary:
        console.print(layer_table(event.summary))
        console.print(totals_line(event.summary))
        for line in comparison(preset, event.summary) if preset else ():
            console.print(line, highlight=False, markup=False)
    return event


def layer_table(summary: RunSummary) -> Table:
    table = Table(title="Sparsity per layer", title_justify="left")
    for column in ("layer", "sparsity", "non-zero", "total"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for layer in summary.sparsity.layers:
        name = layer.name if layer.prunable else f"{layer.name} (not pruned)"
        table.add_row(name, percent(layer.sparsity), f"{layer.nonzero:,}", f"{layer.total:,}")
    report = summary.sparsity
    table.add_row("all prunable", percent(report.global_sparsity), "", "", style="bold", end_section=True)
    return table


def totals_line(summary: RunSummary) -> str:
    """Below the table, not its caption: a caption wraps to the table's width."""
    report = summary.sparsity
    return (
        f"{report.nonzero_parameters:,} of {report.total_parameters:,} parameters non-zero "
        f"({report.compression:.1f}× compression) · accuracy {percent(summary.dense_accuracy)} "
        f"{before_pruning(summary.config)} → "
        f"{percent(summary.accuracy)} · {summary.images_per_s:,.0f} img/s on {summary.device}"
    )


@contextmanager
def stop_on_interrupt(stop: Callable[[], None], console: Console, then: str = "") -> Iterator[None]:
    """First Ctrl+C stops the run between batches (keeping results), and says what `then` happens; a second one
    aborts. Output piped to a reader that has gone (`| head`) stops it the same way, quietly."""

    def handler(signum: int, frame: FrameType | None) -> None:
        console.print(f"stopping after this batch{then}… (Ctrl+C again to abort)", style="yellow")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stop()

    previous, file = signal.signal(signal.SIGINT, handler), console.file
    console.file = ClosedPipeGuard(file, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        console.file = file


class ClosedPipeGuard(io.TextIOBase):
    """Stdout that, once its reader has gone (BrokenPipeError), calls `on_close` and drops everything after:
    stdout's descriptor goes to /dev/null, so no later write, nor the flush at exit, fails (see "Note on SIGPIPE"
    in Python's signal module documentation)."""

    def __init__(self, file: IO[str], on_close: Callable[[], None]) -> None:
        super().__init__()
        self._file, self._on_close, self.closed_pipe = file, on_close, False

    def write(self, text: str) -> int:
        self._guarded(lambda: self._file.write(text))
        return len(text)

    def flush(self) -> None:
        self._guarded(self._file.flush)

    def isatty(self) -> bool:
        return self._file.isatty()

    def fileno(self) -> int:
        return self._file.fileno()

    def _guarded(self, action: Callable[[], object]) -> None:
        if self.closed_pipe:
            return
        try:
            action()
        except BrokenPipeError:
            self.closed_pipe = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._file.fileno())
            self._on_close()
