"""Following an analysis (sweep, sensitivity) in the terminal: one progress line for the experiment that
runs, one printed line per result, and a small line chart of the results at the end."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from prunetui.app.widgets.axes import PERCENT, axis_range, even_ticks
from prunetui.describe import describe, phase_words
from prunetui.engine.analyses import RUNNING_IN, Ended, Lines
from prunetui.engine.analyses import Progress as StageProgress
from prunetui.engine.core.events import EpochEnd, Status, StepLoss

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Count:
    """Where an analysis is in a count of results: `done` of `total` (0: the count starts)."""

    description: str
    done: int
    total: int


EXIT_CODES = {"finished": 0, "failed": 1, "stopped": 130}


def add_list_option(parser: argparse.ArgumentParser, flag: str, defaults: Iterable[object], help: str) -> None:
    """A comma-separated list option whose help ends with its default list."""
    default = ",".join(f"{value:g}" if isinstance(value, float) else str(value) for value in defaults)
    parser.add_argument(flag, default=default, metavar="LIST", help=f"{help}, comma-separated [{default}]")


class Elsewhere:
    """The stages running in worker processes or on Ray, which send no progress: what the progress line says of
    them until their results come."""

    def __init__(self) -> None:
        self.stages: dict[str, str] = {}  # stage -> where, in the order they started

    def started(self, stage: str, where: str) -> None:
        self.stages[stage] = where

    def ended(self, stage: str | None) -> None:
        self.stages.pop(stage or "", None)

    def description(self) -> str:
        if not self.stages:
            return "waiting for the next result"
        first, *others = self.stages
        more = f" and {len(others)} more" if others else ""
        return f"{len(self.stages)} running elsewhere: {first} ({self.stages[first]}){more}"


def follow(
    events: Iterator[E],
    console: Console,
    line: Callable[[E], str | None],
    stopped: str,
    stage_of: Callable[[E], str | None] = lambda _: None,
    counted: Callable[[E], Count | None] = lambda _: None,
) -> E:
    """Show the events as they come; `line` words the analysis's results, `stopped` what a stop keeps,
    `stage_of` names the stage a result ends (one that ran elsewhere leaves the progress line), and `counted` what
    a result counts towards (the progress line then says how many are done, and the time left). Returns the last
    event."""
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("left"), TimeRemainingColumn(), console=console, transient=True,
    )  # fmt: skip
    task = progress.add_task("starting", total=None)
    elsewhere = Elsewhere()
    event = None
    with progress:
        for event in events:
            if not isinstance(event, StageProgress):
                count = counted(event)
                if count is not None and count.done == 0:  # a new count: its pace starts now
                    progress.reset(task, description=count.description, total=count.total, completed=0)
                elif count is not None:
                    progress.update(task, description=count.description, completed=count.done)
                text = _ending(event, stopped) if isinstance(event, Ended) else line(event)
                if text:
                    progress.console.print(text, highlight=False)
                if elsewhere.stages:
                    elsewhere.ended(stage_of(event))
                    task = _indeterminate(progress, task, elsewhere.description())
                continue
            inner = event.event
            if isinstance(inner, StepLoss):
                description = f"{event.stage}: {phase_words(inner.phase).noun} epoch {inner.epoch}/{inner.epochs}"
                progress.update(task, description=description, completed=inner.batch, total=inner.batches)
            elif isinstance(inner, Status) and inner.message.startswith(RUNNING_IN):
                elsewhere.started(event.stage, inner.message.removeprefix(RUNNING_IN))
                task = _indeterminate(progress, task, elsewhere.description())
            elif isinstance(inner, Status):
                task = _indeterminate(progress, task, f"{event.stage}: {inner.message}")
            elif isinstance(inner, EpochEnd) and event.stage.startswith("dense model"):  # ", seed 1" among seeds
                progress.console.print(f"{event.stage}: {describe(inner)}", highlight=False)
    assert event is not None, "an analysis always ends with its Ended event"
    return event


def _indeterminate(progress: Progress, task: TaskID, description: str) -> TaskID:
    """The progress line without a count (Rich's update keeps a task's total when given None): a new task if the
    line had one."""
    if next(shown for shown in progress.tasks if shown.id == task).total is None:
        progress.update(task, description=description)
        return task
    progress.remove_task(task)
    return progress.add_task(description, total=None)


def _ending(event: Ended, stopped: str) -> str | None:
    if event.status == "stopped":
        return f"[yellow]stopped; {stopped}[/]"
    return f"[red]failed: {event.message}[/]" if event.status == "failed" else None


# Without colors (output piped to a file) the lines are told apart by their marks: braille would all look alike.
PLAIN_MARKERS = ("*", "+", "o", "x", "#", "%", "@", "=")
COLORS = ("blue", "red", "green", "magenta", "cyan", "yellow")  # names plotext and Rich share
MAX_TICKS = 10  # more swept values than this: plotext's own evenly spaced ticks


def line_chart(
    series: Lines, x_label: str, y_label: str, console: Console, log_x: bool = False, errors: Lines | None = None
) -> Text:
    """Lines of (x, y) points drawn with plotext, as Rich text (plain when the output is not a terminal), with
    ticks at the x values the lines have and the legend below, where it hides no point; `errors`: label ->
    (xs, half heights) of error bars on that line (over seeds)."""
    import plotext  # here, not at the top: every command's start would pay for it (`run` included)

    plotext.clear_figure()
    plotext.plotsize(min(console.width, 100), 20)
    plain = console.color_system is None
    legend = Text()
    for index, (label, (xs, ys)) in enumerate(series.items()):
        marker = PLAIN_MARKERS[index % len(PLAIN_MARKERS)] if plain else "braille"
        color = COLORS[index % len(COLORS)]
        plotext.plot(xs, ys, marker=marker, color=color)
        if errors and label in errors:
            plotext.error(xs, ys, yerr=[2 * half for half in errors[label][1]], color=color)  # yerr: the whole bar
        legend.append("   " if index else "")
        legend.append(marker * 2 if plain else "━━", style="" if plain else color)
        legend.append(f" {label}")
    values = sorted({x for xs, _ in series.values() for x in xs})
    if log_x:
        plotext.xscale("log")
    elif 1 < len(values) <= MAX_TICKS:
        plotext.xticks(values, [f"{x:g}" for x in values])
    # Accuracies, with their error bars: as the app's charts, a range inside 0-100 % with even labels (plotext's own
    # put a flat line at 100 % between 50 and 150).
    ys = [y for _, line_ys in series.values() for y in line_ys]
    for label, (_, halves) in (errors or {}).items():
        ys += [y + sign * half for y, half in zip(series[label][1], halves, strict=True) for sign in (-1, 1)]
    if ys:
        low, high = axis_range(ys, 1, PERCENT)
        plotext.ylim(low, high)
        plotext.yticks(*even_ticks(low, high, 1))
    plotext.xlabel(x_label)
    plotext.ylabel(y_label)
    return Text.assemble(Text.from_ansi(plotext.build().rstrip()), "\n", legend)


def percent_cells(values: Iterable[float | None]) -> list[str]:
    return ["–" if value is None else f"{value * 100:.1f}" for value in values]
