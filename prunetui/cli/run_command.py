"""`prunetui run`: one experiment, headless, with Rich progress and a final per-layer table."""

from __future__ import annotations

import argparse
import errno
import io
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from prunetui.cli.data_check import data_set_here
from prunetui.cli.options import config_from_args, fail
from prunetui.cli.output import and_list, make_console
from prunetui.describe import (
    before_pruning,
    compression_text,
    cost_text,
    describe,
    epoch_where,
    per_class_text,
    percent,
)
from prunetui.describe_paper import comparison
from prunetui.engine.core.errors import ConfigError, OutputError, PrunetuiError, RunDirError
from prunetui.engine.core.events import Event, Failed, Finished, RunSummary, Status, StepLoss, Stopped
from prunetui.engine.core.networks.layer_names import BY_STAGE_FROM, by_stage
from prunetui.engine.core.presets import Preset, load_preset
from prunetui.engine.storage.runs import (
    check_run_dir,
    claim_new_run_dir,
    claim_run_dir,
    discard_failed_start,
    run_files,
    runs_root,
)

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
        root = runs_root(args.runs_dir)
        if args.out:
            check_out(args.out, root, args.overwrite)
    except (ConfigError, RunDirError) as error:  # RunDirError: holds a run, or another run writes there
        return fail(str(error))
    except OutputError as error:
        return fail(str(error), code=1)
    console.print("importing torch …", highlight=False)
    from prunetui.engine import Experiment  # imports torch: only once the arguments and --out are known good
    from prunetui.engine.storage.recording import record_claimed

    # The directory is made only now: an import that fails (or is killed for memory) leaves none behind.
    try:
        lock = claim_run_dir(args.out, args.overwrite) if args.out else claim_new_run_dir(root, config)
    except RunDirError as error:  # another run took --out meanwhile
        return fail(str(error))
    except OutputError as error:
        return fail(str(error), code=1)
    directory = lock.directory
    experiment = Experiment(config)
    events = record_claimed(experiment, lock, extra=preset.summary_fields(config) if preset else None)
    with stop_on_interrupt(experiment.stop, console):
        last = show_run(events, console, preset)
    console.print(closing_line(directory, last), markup=False)  # a path may hold [brackets]
    return 2 if isinstance(last, Failed) and last.bad_setting else EXIT_CODES[type(last)]


def check_out(out: Path, root: Path, overwrite: bool) -> None:
    """Refuse an --out that `claim_run_dir` would refuse, or that is the runs root itself (whose runs would
    then be inside a run), creating nothing."""
    if out.expanduser().resolve() == root.expanduser().resolve():
        raise ConfigError(f"--out {out} is the runs root: a run needs a directory of its own, e.g. {out}/NAME")
    check_run_dir(out, overwrite)


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
            if line and not isinstance(event, Failed):
                style = "bold" if isinstance(event, Finished) else ""
                progress.console.print(line, style=style, highlight=False, markup=False)
    assert event is not None, "an experiment always ends with Finished, Stopped or Failed"
    if isinstance(event, Failed):  # an error, as the command's others: on stderr, once the progress bar is gone
        make_console(stderr=True).print(describe(event), style="red", highlight=False, markup=False)
    if isinstance(event, Finished | Stopped | Failed) and event.summary:
        console.print(layer_table(event.summary))
        console.print(totals_line(event.summary))
        per_class = per_class_text(event.summary)
        if per_class:
            console.print(per_class, highlight=False, markup=False)
        for line in comparison(preset, event.summary) if preset else ():
            console.print(line, highlight=False, markup=False)
    return event


NAME_WIDTH = 30  # a longer module path is cut in its middle, so the table fits 80 columns


def layer_table(summary: RunSummary) -> Table:
    """One row per layer (a deep network's stages each led by their total), then the totals."""
    table = Table(title="Sparsity per layer", title_justify="left")
    for column in ("layer", "sparsity", "non-zero", "total"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    layers = summary.sparsity.layers
    for name, indexes in by_stage([layer.name for layer in layers]):
        if len(layers) >= BY_STAGE_FROM and len(indexes) > 1:
            zeros = sum(layers[i].zeros for i in indexes)
            total = sum(layers[i].total for i in indexes)
            table.add_row(f"{name} ({len(indexes)} layers)", *_counts(zeros, total), style="bold")
        for index in indexes:
            layer = layers[index]
            label = elided(layer.name)
            if not layer.prunable:  # its inputs go with the units of the layer before when whole channels do
                label = f"{elided(layer.name, NAME_WIDTH - 13)} {'(inputs cut)' if layer.zeros else '(not pruned)'}"
            last = index == indexes[-1] and len(layers) >= BY_STAGE_FROM  # a line between stages
            table.add_row(label, *_counts(layer.zeros, layer.total), end_section=last)
    report = summary.sparsity
    table.add_row("all prunable", *_counts(*report.prunable_counts), style="bold", end_section=True)
    # The two counts of compression: papers count weights; biases and norms, which pruning keeps, are in the second.
    for label, nonzero, total in (
        ("all weights", report.nonzero_weights, report.total_weights),
        ("all parameters (biases, norms)", report.nonzero_parameters, report.total_parameters),
    ):
        table.add_row(label, *_counts(total - nonzero, total))
    return table


def _counts(zeros: int, total: int) -> tuple[str, str, str]:
    return percent(zeros / max(total, 1)), f"{total - zeros:,}", f"{total:,}"


def elided(name: str, width: int = NAME_WIDTH) -> str:
    """`name`, or its start and end around a '…' in `width` characters: the end says which layer, the start where."""
    if len(name) <= width:
        return name
    tail = (width - 1) // 2
    return f"{name[: width - 1 - tail]}…{name[-tail:]}"


def totals_line(summary: RunSummary) -> str:
    """Below the table, not its caption: a caption wraps to the table's width. Two lines: the compression, counted
    over the weights (as papers do) and over all parameters, then the accuracy."""
    cost = cost_text(summary.dense_cost, summary.cost)
    return (
        f"{compression_text(summary.sparsity)}\naccuracy {percent(summary.dense_accuracy)} "
        f"{before_pruning(summary.config)} → "
        f"{percent(summary.accuracy)} · {summary.images_per_s:,.0f} img/s on {summary.device}"
    ) + (f"\n{cost}" if cost else "")


# Signals that stop a run as Ctrl+C does: `kill` (SIGTERM) and a closed terminal or SSH session (SIGHUP).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stop_on_interrupt(stop: Callable[[], None], console: Console, then: str = "") -> Iterator[None]:
    """First Ctrl+C, SIGTERM or SIGHUP stops the run between batches (keeping results), and says what `then`
    happens; a second one aborts. Output piped to a reader that has gone (`| head`), or a terminal that has gone
    (an SSH session dropped), stops it the same way, quietly. A signal ignored when this begins stays ignored:
    `nohup` ignores SIGHUP so that a run outlives its terminal, and a shell's background job (`&`) ignores Ctrl+C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        # The second one's action first, before anything that can take time: the kernel's for SIGTERM and SIGHUP,
        # which ends the process even while its main thread is held in native code (a CUDA call, a slow disk).
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
        name = "Ctrl+C" if signum == signal.SIGINT else signal.Signals(signum).name
        console.print(f"{name}: stopping after this batch{then}… ({name} again to abort)", style="yellow")
        stop()

    previous = {
        signum: signal.signal(signum, handler) for signum in STOP_SIGNALS if signal.getsignal(signum) != signal.SIG_IGN
    }
    file = console.file
    console.file = cast(IO[str], ClosedPipeGuard(file, stop))  # a TextIOBase: a text file, not typed IO[str]
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)
        console.file = file


class ClosedPipeGuard(io.TextIOBase):
    """Stdout that, once its reader has gone (BrokenPipeError; EIO from a terminal whose SSH session dropped),
    calls `on_close` and drops everything after:
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
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.EIO):
                raise
            self.closed_pipe = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._file.fileno())
            self._on_close()
