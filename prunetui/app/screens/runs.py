"""The Runs screen: every saved run (app or CLI) in a table; the selected ones' accuracy-vs-sparsity and loss
curves overlaid; the highlighted one's export sizes, said honestly, `e` to export it and `d` to delete it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from prunetui.app.screens.analysis import ANALYSIS_CSS
from prunetui.app.screens.confirm import ConfirmScreen
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.series_chart import Series, SeriesChart
from prunetui.describe import kept_word, percent, sizes_text, storage_note
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.history import HistoryRow
from prunetui.engine.storage.runs import RunRecord, deletable_run, delete_run, list_runs, load_history

if TYPE_CHECKING:
    from prunetui.engine.storage.compact import ExportReport

SELECTED = "●"
COLUMNS = ("", "date", "method", "sparsity", "accuracy dense → pruned", "status", "run")


def run_label(run: RunRecord) -> str:
    c = run.config
    target = f" {percent(c.sparsity, 0)}" if c else ""
    return f"{run.started:%H:%M:%S} {run.method}{target}" if run.started else f"{run.name} {run.method}{target}"


class RunsScreen(Screen[None]):
    CSS_PATH = ANALYSIS_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle", "Select", tooltip="Add the run to the charts, or take it off"),
        Binding("e", "export", "Export", tooltip="Export the highlighted run and report sizes and speed"),
        Binding("d", "delete", "Delete", tooltip="Delete the highlighted run's directory (asks first)"),
        Binding("r", "reload", "Reload", tooltip="Read the runs directory again"),
        Binding("escape", "back", "Back"),
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
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-detail")
        with Horizontal(id="runs-charts"):
            yield SeriesChart("sparsity (%)", "accuracy (%)", id="runs-accuracy")
            yield SeriesChart("step", "test loss", id="runs-loss")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#runs-accuracy").border_title = "Accuracy against sparsity"
        self.query_one("#runs-loss").border_title = "Test loss"
        self.query_one("#runs-detail").border_title = "Run"
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column or "mark")
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
                SELECTED if run.name in self.selected else "",
                f"{run.started:%Y-%m-%d %H:%M}" if run.started else "?",
                run.method,
                percent(run.sparsity),
                f"{percent(run.dense_accuracy)} → {percent(run.accuracy)}",
                run.status,
                run.name,
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
        self.query_one(DataTable).update_cell(run.name, "mark", SELECTED if run.name in self.selected else "")
        self._charts()

    @on(DataTable.RowSelected)
    def _enter(self) -> None:
        self.action_toggle()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        run = self.highlighted
        if run is not None:
            self.query_one("#runs-detail", Static).update(self._detail(run))
        if not self.selected:
            self._charts()

    def _detail(self, run: RunRecord) -> str:
        c = run.config
        lines = [f"[b]{run.name}[/b]  {c.model + ' on ' + c.dataset if c else '?'}  {run.status} {run.message}"]
        if run.export is not None:
            e = run.export
            compression = f", {run.compression:.1f}× fewer parameters" if run.compression else ""
            lines.append(f"model.pt: {sizes_text(e)}{compression}")
        structured = c is not None and c.structured
        lines.append(storage_note(structured, run.sparsity, run.export if run.model_path else None))
        return "\n".join(lines)

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
            sparsity = 0.0
            for row in rows:
                sparsity = row.sparsity if row.sparsity is not None else sparsity
                xs, ys = accuracy.setdefault(label, ([], []))
                xs.append(sparsity * 100)
                ys.append(row.accuracy * 100)
                if row.test_loss is not None:
                    xs, ys = loss.setdefault(label, ([], []))
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

    def action_back(self) -> None:
        self.dismiss()


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
