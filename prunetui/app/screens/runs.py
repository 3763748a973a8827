"""The Runs screen: every saved run (app or CLI) in a table; the selected ones' accuracy-vs-sparsity and loss
curves overlaid; the highlighted one's export sizes, said honestly, `e` to export it and `d` to delete it.
Home and End go to the first and last run; a selected run's mark has the color of its lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from prunetui.app.screens.analysis import ANALYSIS_CSS
from prunetui.app.screens.confirm import ConfirmScreen
from prunetui.app.screens.tool_screen import ToolScreen
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.series_chart import (
    PERCENT,
    POSITIVE,
    Axis,
    Series,
    SeriesChart,
    hex_color,
)
from prunetui.describe import kept_word, percent, sizes_text, storage_note
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.history import HistoryRow
from prunetui.engine.storage.runs import RunRecord, deletable_run, delete_run, list_runs, load_history

if TYPE_CHECKING:
    from prunetui.engine.storage.compact import ExportReport

SELECTED = "●"
# The run and its outcome first: at 80 columns the method, last, is what gets cut (the detail shows it whole).
COLUMNS = ("run", "status", "sparsity", "dense → pruned", "method")


def run_label(run: RunRecord) -> str:
    """The run's time, method and the sparsity it reached (a stopped run may be far from its target)."""
    reached = f" {percent(run.sparsity)}" if run.sparsity is not None else ""
    return f"{run.started:%H:%M:%S} {run.method}{reached}" if run.started else f"{run.name} {run.method}{reached}"


def detail_text(run: RunRecord) -> str:
    """The highlighted run in a few lines: what it is, how it ended, and what its zeros buy, from its own numbers."""
    c = run.config
    status = f"{run.status}: {run.message}" if run.message else run.status
    experiment = f"{c.model} on {c.dataset}, {run.method}" if c else "settings unreadable"
    lines = [f"[b]{run.name}[/b] {status} · {experiment}"]
    saved = run.export if run.model_path is not None else None
    structured = c is not None and c.structured
    if saved is not None and structured:  # the note gives the sizes of the others
        compression = f"; {run.compression:.1f}× fewer parameters" if run.compression else ""
        lines.append(f"model.pt {sizes_text(saved)}{compression}")
    lines.append(storage_note(structured, run.sparsity, saved))
    return "\n".join(lines)


class RunsTable(DataTable[str | Text]):
    """The runs, one per row. Its cursor row stays in sight when the table shrinks (the charts and the detail
    take rows), so that `e` and `d` never act on a run the user cannot see; Home and End go to the first and
    last run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    def on_resize(self) -> None:
        self.call_after_refresh(self.move_cursor, row=self.cursor_row)

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=self.row_count - 1)


class RunsScreen(ToolScreen):
    CSS_PATH = ANALYSIS_CSS
    TOOL = "runs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle", "Select", tooltip="Add the run to the charts, or take it off"),
        Binding("e", "export", "Export", tooltip="Export the highlighted run and report sizes and speed"),
        Binding("d", "delete", "Delete", tooltip="Delete the highlighted run's directory (asks first)"),
        Binding("r", "reload", "Reload", tooltip="Read the runs directory again"),
    ]

    @dataclass
    class ExportReported(Message):
        """The export of a run in a few lines (`export_text`), or why it failed."""

        text: str
        error: str = ""

    @dataclass
    class RunsListed(Message):
        """The runs under the root, newest first, read in a worker."""

        runs: list[RunRecord]

    @dataclass
    class HistoriesLoaded(Message):
        """The metric histories of the runs to chart, as (label, rows) in the order picked, read in a worker."""

        histories: list[tuple[str, list[HistoryRow]]]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.runs: dict[str, RunRecord] = {}
        self.selected: list[str] = []  # run names, in the order they were picked

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-detail")
        with Horizontal(id="runs-charts"):
            # The axes are named in the border titles: at 80x24 the row of axis labels is a row of the plot.
            accuracy_axes = Axis("", 1, PERCENT), Axis("", 1, PERCENT)
            yield SeriesChart(*accuracy_axes, legend_in_border=False, id="runs-accuracy")
            loss_axes = Axis("", 0, POSITIVE), Axis("", 2, POSITIVE)
            yield SeriesChart(*loss_axes, legend_in_border=False, id="runs-loss")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#runs-accuracy").border_title = "Accuracy % against sparsity %"
        self.query_one("#runs-loss").border_title = "Test loss against step"
        self.query_one("#runs-detail").border_title = "Run"
        table = self.query_one(DataTable)
        table.add_column("", width=1, key="mark")  # wide enough for the mark added later
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        self._list_runs()

    @work(thread=True, exclusive=True, group="runs")
    def _list_runs(self) -> None:
        runs = list_runs(self.root)
        if not get_current_worker().is_cancelled:  # a newer reload supersedes this one
            self.post_message(self.RunsListed(runs))

    def on_runs_screen_runs_listed(self, message: RunsListed) -> None:
        self.runs = {run.name: run for run in message.runs}
        self.selected = [name for name in self.selected if name in self.runs]
        table = self.query_one(DataTable)
        table.clear()
        table.border_title = f"{len(self.runs)} runs in {self.root}"
        for run in self.runs.values():
            table.add_row(
                self._mark(run.name),
                run.name,
                run.status,
                percent(run.sparsity),
                f"{percent(run.dense_accuracy)} → {percent(run.accuracy)}",
                run.method,
                key=run.name,
            )
        if not self.runs:
            self.query_one("#runs-detail", Static).update(f"No runs in {self.root} yet: start one (ctrl+r).")
        self._charts()

    @property
    def highlighted(self) -> RunRecord | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.runs.get(str(key))

    def action_toggle(self) -> None:
        run = self.highlighted
        if run is None:
            return
        if run.name in self.selected:
            self.selected.remove(run.name)
        else:
            self.selected.append(run.name)
        table = self.query_one(DataTable)
        for name in self.runs:  # a run taken off changes the colors of those picked after it
            table.update_cell(name, "mark", self._mark(name))
        self._charts()

    def _mark(self, name: str) -> Text:
        """A selected run's mark, in the color of its lines: the charts' legend."""
        if name not in self.selected:
            return Text("")
        return Text(SELECTED, style=hex_color(self.selected.index(name)))

    @on(DataTable.RowSelected)
    def _enter(self) -> None:
        self.action_toggle()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        run = self.highlighted
        if run is not None:
            self.query_one("#runs-detail", Static).update(detail_text(run))
        if not self.selected:
            self._charts()

    def _charts(self) -> None:
        """The selected runs, or the highlighted one while none is selected."""
        shown = [self.runs[name] for name in self.selected]
        if not shown and self.highlighted is not None:
            shown = [self.highlighted]
        self._load_histories([(run_label(run), run.path) for run in shown])

    @work(thread=True, exclusive=True, group="history")
    def _load_histories(self, runs: list[tuple[str, Path]]) -> None:
        histories = [(label, load_history(path)) for label, path in runs]
        if not get_current_worker().is_cancelled:  # the cursor moved on: a newer load supersedes this one
            self.post_message(self.HistoriesLoaded(histories))

    def on_runs_screen_histories_loaded(self, message: HistoriesLoaded) -> None:
        accuracy: Series = {}
        loss: Series = {}
        for label, rows in message.histories:
            accuracy[label], loss[label] = ([], []), ([], [])  # one per run, even empty: colors follow the marks
            sparsity = 0.0
            for row in rows:
                sparsity = row.sparsity if row.sparsity is not None else sparsity
                xs, ys = accuracy[label]
                xs.append(sparsity * 100)
                ys.append(row.accuracy * 100)
                if row.test_loss is not None:
                    xs, ys = loss[label]
                    xs.append(row.step)
                    ys.append(row.test_loss)
        self.query_one("#runs-accuracy", SeriesChart).show(accuracy)
        self.query_one("#runs-loss", SeriesChart).show(loss)

    def action_export(self) -> None:
        run = self.highlighted
        if run is None:
            return
        self.query_one("#runs-detail", Static).update(f"exporting {run.name} …")
        self._export(run)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def _export(self, run: RunRecord) -> None:
        from prunetui.engine.storage.compact import export_run  # imports torch

        try:
            self.post_message(self.ExportReported(export_text(run, export_run(run.path))))
        except PrunetuiError as error:
            self.post_message(self.ExportReported("", str(error)))

    def on_runs_screen_export_reported(self, message: ExportReported) -> None:
        detail = self.query_one("#runs-detail", Static)
        detail.update(message.text if message.error == "" else f"[red]not exported: {message.error}[/]")

    def action_delete(self) -> None:
        run = self.highlighted
        if run is None:
            return
        try:
            deletable_run(run.path)  # a run still running is refused before asking
        except PrunetuiError as error:
            self.query_one("#runs-detail", Static).update(f"[red]not deleted: {error}[/]")
            return
        question = f"Delete run {run.name} ({run.method}, {run.status})? Its files in {run.path} go for good."
        self.app.push_screen(ConfirmScreen(question, yes="Delete", no="Keep"), lambda yes: self._deleted(run, yes))

    def _deleted(self, run: RunRecord, yes: bool | None) -> None:
        if not yes:
            return
        try:
            delete_run(run.path)
        except PrunetuiError as error:
            self.query_one("#runs-detail", Static).update(f"[red]not deleted: {error}[/]")
            return
        self.action_reload()
        self.notify(f"deleted {run.name}")


def export_text(run: RunRecord, report: ExportReport) -> str:
    """The export report in a few lines: sizes for every run, the smaller model and its speed-up when structured."""
    saved = report.saved
    lines = [
        f"[b]{run.name}[/b] exported: {report.nonzero:,} of {report.parameters:,} parameters "
        f"{kept_word(report.structured)}; {sizes_text(saved)}"
    ]
    compact = report.compact
    if compact is None:
        lines.append(storage_note(report.structured, report.sparsity, saved))
    else:
        t = compact.timing
        same = "same predictions" if compact.same_predictions else "[red]predictions differ[/]"
        lines.append(
            f"smaller model {compact.saved.path}: {compact.parameters:,} parameters, {same}; batch of {t.batch}: "
            f"{t.dense_ms:.2f} ms dense → {t.compact_ms:.2f} ms ({t.speedup:.1f}× faster)"
        )
    return "\n".join(lines)
