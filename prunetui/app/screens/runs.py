"""The Runs screen: every saved run (app or CLI) in a table; the selected ones' accuracy-vs-sparsity and loss
curves overlaid; the highlighted one's export sizes, said honestly, `e` to export it and `d` to delete it.
Home and End go to the first and last run; a selected run's mark has the color of its lines. A seed group
(`prunetui run --seeds`) has a row of its own above its runs, with mean ± std (n); selected, it is charted as
its mean with error bars of ± one standard deviation. `o` opens the highlighted run in the main screen as if it
had started there: a run another process still writes (`prunetui run` under nohup or tmux) is followed live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Header, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import get_current_worker

from prunetui.app.screens.analysis import ANALYSIS_CSS
from prunetui.app.screens.confirm import ConfirmScreen
from prunetui.app.screens.tool_screen import ToolScreen
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.series_chart import (
    PERCENT,
    POSITIVE,
    Axis,
    SeriesChart,
    color_of,
    hex_color,
)
from prunetui.describe import (
    before_pruning,
    compressions,
    counted,
    cut_name,
    fitted_method,
    group_accuracies,
    kept_word,
    mean_percent,
    percent,
    percent_spread,
    seeds_text,
    sizes_text,
    storage_note,
    times_spread,
)
from prunetui.engine.analyses import Lines, Series
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.seed_stats import MeanStd
from prunetui.engine.storage.groups import RUN_NAME_WIDTH, RunGroup, accuracy_points, band, grouped, loss_points
from prunetui.engine.storage.history import HistoryRow
from prunetui.engine.storage.runs import (
    EVENTS_FILE,
    RunRecord,
    deletable_run,
    delete_run,
    list_runs,
    load_history,
)

if TYPE_CHECKING:
    from prunetui.engine.storage.compact import ExportReport

SELECTED = "●"
# The run and its outcome first: at 80 columns the method, last, is what gets cut (the detail shows it whole).
COLUMNS = ("run", "status", "sparsity", "accuracy", "method")
# The accuracy column's label, with both accuracies or, where the method would lose its schedule, the pruned one.
ACCURACY_LABELS = ("dense → pruned", "accuracy")
METHOD_ROOM = len("…iterative")  # the longest schedule, whole


def run_label(run: RunRecord) -> str:
    """The run's time, method and the sparsity it reached (a stopped run may be far from its target)."""
    reached = f" {percent(run.sparsity)}" if run.sparsity is not None else ""
    return f"{run.started:%H:%M:%S} {run.method}{reached}" if run.started else f"{run.name} {run.method}{reached}"


def group_label(group: RunGroup) -> str:
    """The group's method, mean sparsity reached and how many seeds the mean is over."""
    reached = f" {percent(stat.mean)}" if (stat := group.stat("sparsity")) else ""
    start = f"{group.started:%H:%M:%S} " if group.started else ""
    return f"{start}{group.method}{reached} mean of {len(group.averaged)}"


def group_detail_text(group: RunGroup) -> str:
    """The highlighted seed group: what it repeats, and its numbers as mean ± std over the runs that finished."""
    c = group.config
    experiment = f"{c.model} on {c.dataset}, {group.method}" if c else "settings unreadable"
    n = len(group.averaged)
    numbers = (
        f"accuracy {percent_spread(group.stat('dense_accuracy'))} {before_pruning(c)} → "
        f"{percent_spread(group.stat('accuracy'))}, sparsity {percent_spread(group.stat('sparsity'))}, "
        f"compression {times_spread(group.stat('weight_compression'))} weights, "
        f"{times_spread(group.stat('compression'))} all parameters"
        if c and n
        else "no run of it finished, so it has no mean"
    )
    return (
        f"[b]{group.name}[/b] {seeds_text(group.seeds)} · {experiment}\n"
        f"mean{' ± std' if n > 1 else ''} over the {n} of {len(group.runs)} runs that finished: {numbers}\n"
        "Its runs are the rows below it: highlight one to export it; d here deletes them all."
    )


def detail_text(run: RunRecord) -> str:
    """The highlighted run in a few lines: what it is, how it ended, and what its zeros buy, from its own numbers."""
    c = run.config
    status = f"{run.status}: {run.message}" if run.message else run.status
    experiment = f"{c.model} on {c.dataset}, {run.method}" if c else "settings unreadable"
    lines = [f"[b]{run.name}[/b] {status} · {experiment}"]
    saved = run.export if run.model_path is not None else None
    structured = c is not None and c.structured
    if run.status == "running":  # its model is saved when it ends, not missing
        lines.append("It is still running: its model is saved when it ends; o opens it and follows it live.")
        return "\n".join(lines)
    if saved is None and run.model_path is not None:  # summary.json damaged: the model is there all the same
        lines.append("model.pt is saved, but its summary.json is unreadable: e exports it and measures its sizes.")
        return "\n".join(lines)
    if saved is not None and structured:  # the note gives the sizes of the others
        compression = f"; {compressions(run.weight_compression, run.compression)}" if run.compression else ""
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
        Binding("space", "toggle_run", "Select", tooltip="Add the run to the charts, or take it off"),
        Binding("o", "follow", "Open", tooltip="Show the run in the main screen; live while another process runs it"),
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
        """The metric histories to chart, in the order picked, read in a worker: (label, histories), one history
        for a run and one per finished run for a seed group."""

        histories: list[tuple[str, list[list[HistoryRow]]]]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.runs: dict[str, RunRecord] = {}
        self.groups: dict[str, RunGroup] = {}
        self.selected: list[str] = []  # names of runs and groups, in the order they were picked
        self.accuracies: dict[str, tuple[str, str]] = {}  # name -> both accuracies, the pruned one alone
        self.fitted_keys = (ColumnKey("accuracy"), ColumnKey("method"))  # the columns sized to the room left
        self.charted: dict[str, str] = {}  # chart id -> the series it shows, so error bars are drawn once

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
            table.add_column(ACCURACY_LABELS[0] if column == "accuracy" else column, key=column)
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
        items = grouped(message.runs)
        self.groups = {item.name: item for item in items if isinstance(item, RunGroup)}
        self.selected = [name for name in self.selected if name in self.runs or name in self.groups]
        table = self.query_one(DataTable)
        table.clear()
        table.border_title = f"{counted(len(self.runs), 'run')} in {self.root}"
        self.accuracies = {item.name: _accuracies(item) for item in items}
        for item in items:
            cells = _group_cells(item) if isinstance(item, RunGroup) else _run_cells(item)
            table.add_row(self._mark(item.name), *cells, self.accuracies[item.name][0], item.method, key=item.name)
        self._fit_columns()
        if not self.runs:
            self.query_one("#runs-detail", Static).update(f"No runs in {self.root} yet: start one (ctrl+r).")
        self._charts()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_columns)

    def _fit_columns(self) -> None:
        """The method column takes the room the other columns leave, its schedule kept (`fitted_method`); where
        that room is too small for a schedule (a seed group's name at 80 columns), the accuracy column gives up
        the dense accuracy, which the detail still says."""
        table = self.query_one(DataTable)
        if not table.size.width or not self.runs:
            return
        fixed = sum(
            column.get_render_width(table) for key, column in table.columns.items() if key not in self.fitted_keys
        )
        for short, label in enumerate(ACCURACY_LABELS):
            accuracies = {name: pair[short] for name, pair in self.accuracies.items()}
            width = max(len(label), *map(len, accuracies.values()))
            room = table.scrollable_content_region.width - fixed - width - 4 * table.cell_padding  # both paddings
            if room >= METHOD_ROOM:
                break
        accuracy = table.columns[ColumnKey("accuracy")]
        for name, text in accuracies.items():
            table.update_cell(name, "accuracy", text)
        accuracy.label, accuracy.auto_width, accuracy.width = Text(label), False, width
        column = table.columns[ColumnKey("method")]
        methods = {name: run.method for name, run in self.runs.items()}
        methods.update((name, group.method) for name, group in self.groups.items())
        fitted = {name: fitted_method(method, room) for name, method in methods.items()}
        for name, text in fitted.items():
            if name in table.rows:
                table.update_cell(name, "method", text)
        column.auto_width = False
        column.width = max((len(text) for text in fitted.values()), default=len("method"))

    @property
    def highlighted_item(self) -> RunRecord | RunGroup | None:
        """The run or seed group under the cursor."""
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0:
            return None
        key = str(table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value)
        return self.runs.get(key) or self.groups.get(key)

    def _export_run(self) -> RunRecord | None:
        """The run `e` exports; on a seed group's row, none, and the detail says to pick one of its runs."""
        item = self.highlighted_item
        if isinstance(item, RunGroup):
            self.query_one("#runs-detail", Static).update(
                f"[yellow]{item.name} is a seed group: highlight one of its runs to export it.[/]"
            )
            return None
        return item

    def action_toggle_run(self) -> None:
        item = self.highlighted_item
        if item is None:
            return
        if item.name in self.selected:
            self.selected.remove(item.name)
        else:
            self.selected.append(item.name)
        table = self.query_one(DataTable)
        for name in [*self.runs, *self.groups]:  # a run taken off changes the colors of those picked after it
            table.update_cell(name, "mark", self._mark(name))
        self._charts()

    def _mark(self, name: str) -> Text:
        """A selected run's or group's mark, in the color of its lines: the charts' legend."""
        if name not in self.selected:
            return Text("")
        return Text(SELECTED, style=hex_color(self.selected.index(name)))

    @on(DataTable.RowSelected)
    def _enter(self) -> None:
        self.action_toggle_run()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        item = self.highlighted_item
        if item is not None:
            text = group_detail_text(item) if isinstance(item, RunGroup) else detail_text(item)
            self.query_one("#runs-detail", Static).update(text)
        if not self.selected:
            self._charts()

    def _charts(self) -> None:
        """The selected runs and groups, or the highlighted one while none is selected."""
        shown = [self.runs.get(name) or self.groups[name] for name in self.selected]
        if not shown and (item := self.highlighted_item) is not None:
            shown = [item]
        self._load_histories(
            [
                (group_label(item), [run.path for run in item.averaged])
                if isinstance(item, RunGroup)
                else (run_label(item), [item.path])
                for item in shown
            ]
        )

    @work(thread=True, exclusive=True, group="history")
    def _load_histories(self, shown: list[tuple[str, list[Path]]]) -> None:
        histories = [(label, [load_history(path) for path in paths]) for label, paths in shown]
        if not get_current_worker().is_cancelled:  # the cursor moved on: a newer load supersedes this one
            self.post_message(self.HistoriesLoaded(histories))

    def on_runs_screen_histories_loaded(self, message: HistoriesLoaded) -> None:
        """A run's own curves; a group's mean curves, with ± one standard deviation as error bars."""
        accuracy: dict[str, list[tuple[float, MeanStd]]] = {}
        loss: dict[str, list[tuple[float, MeanStd]]] = {}
        for label, histories in message.histories:  # one per item, even empty: colors follow the marks
            accuracy[label] = [(x * 100, _scaled(y, 100)) for x, y in band(list(map(accuracy_points, histories)))]
            loss[label] = band(list(map(loss_points, histories)))
        self._chart("#runs-accuracy", accuracy)
        self._chart("#runs-loss", loss)

    def _chart(self, chart_id: str, bands: dict[str, list[tuple[float, MeanStd]]]) -> None:
        """Each series' mean line and, where it averages several runs, error bars of ± one standard deviation,
        which the y axis reaches."""
        series: Lines = {
            label: Series([x for x, _ in points], [y.mean for _, y in points]) for label, points in bands.items()
        }
        if self.charted.get(chart_id) == repr(series):  # drawn already, error bars included
            return
        self.charted[chart_id] = repr(series)
        chart = self.query_one(chart_id, SeriesChart)
        chart.show(series)
        ends: list[float] = []
        for index, points in enumerate(bands.values()):
            spread = [(x, y.mean, y.std) for x, y in points if y.std is not None]
            if spread:
                means, stds = [mean for _, mean, _ in spread], [std for _, _, std in spread]
                bars = [2 * std for std in stds]  # plotext's yerr is the whole bar, centred on the point
                chart.plt.error([x for x, _, _ in spread], means, yerr=bars, color=color_of(index))
                ends += [mean + sign * std for mean, std in zip(means, stds, strict=True) for sign in (-1, 1)]
        if ends:
            chart.set_y([y for _, ys in series.values() for y in ys] + ends)

    def action_follow(self) -> None:
        item = self.highlighted_item
        if isinstance(item, RunGroup):
            self.query_one("#runs-detail", Static).update(
                f"[yellow]{item.name} is a seed group: highlight one of its runs to open it.[/]"
            )
            return
        if item is None:
            return
        if not (item.path / EVENTS_FILE).is_file():
            self.query_one("#runs-detail", Static).update(
                f"[yellow]{item.name} has no {EVENTS_FILE}: it was saved before runs recorded their events as they "
                "went. Its curves are on this screen (space).[/]"
            )
            return
        if self.app.main_screen.follow(item):  # type: ignore[attr-defined]
            self.dismiss()

    def action_export(self) -> None:
        run = self._export_run()
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
        """The highlighted run, or a seed group's runs all together (as `prunetui runs --delete seeds-…`), after
        asking; a run still running is refused before asking, and keeps its whole group."""
        item = self.highlighted_item
        if item is None:
            return
        try:
            runs = item.deletable() if isinstance(item, RunGroup) else [deletable_run(item.path)]
        except PrunetuiError as error:
            self.query_one("#runs-detail", Static).update(f"[red]not deleted: {error}[/]")
            return
        if isinstance(item, RunGroup):
            question = (
                f"Delete seed group {item.name}: its {len(runs)} runs ({seeds_text(item.seeds)}, {item.method})? "
                f"Their files in {self.root} go for good."
            )
        else:
            question = f"Delete run {item.name} ({item.method}, {item.status})? Its files in {item.path} go for good."
        self.app.push_screen(
            ConfirmScreen(question, yes="Delete", no="Keep"), lambda yes: self._deleted(item.name, runs, yes)
        )

    def _deleted(self, name: str, runs: list[RunRecord], yes: bool | None) -> None:
        if not yes:
            return
        try:
            for run in runs:
                delete_run(run.path)
        except PrunetuiError as error:
            self.query_one("#runs-detail", Static).update(f"[red]not deleted: {error}[/]")
        else:
            self.notify(f"deleted {name}")
        self.action_reload()  # what was deleted before an error is gone too


def _run_cells(run: RunRecord) -> tuple[str, ...]:
    """A run of a seed group is told by its seed, under the group's row (the detail names it)."""
    return (
        f"  seed {run.config.seed}" if run.group and run.config else cut_name(run.name, RUN_NAME_WIDTH),
        run.status,
        percent(run.sparsity),
    )


def _group_cells(group: RunGroup) -> tuple[str | Text, ...]:
    """Tight numbers; its seeds are the rows below it."""
    return (
        Text(group.name, style="bold"),  # whole: the name `prunetui runs --delete` takes
        f"n = {len(group.averaged)}",
        mean_percent(group.stat("sparsity")),
    )


def _accuracies(item: RunRecord | RunGroup) -> tuple[str, str]:
    """'96.1 → 88.9 %' (a group's with its spread, '96.1 → 88.9±0.7 %'), and the pruned accuracy alone."""
    if isinstance(item, RunGroup):
        dense, pruned = item.stat("dense_accuracy"), item.stat("accuracy")
    else:  # one run: a mean with no spread
        dense, pruned = (None if x is None else MeanStd(x, None, 1) for x in (item.dense_accuracy, item.accuracy))
    return group_accuracies(dense, pruned), percent_spread(pruned, pm="±")


def _scaled(stat: MeanStd, factor: float) -> MeanStd:
    return MeanStd(stat.mean * factor, None if stat.std is None else stat.std * factor, stat.n)


def export_text(run: RunRecord, report: ExportReport) -> str:
    """The export report in a few lines: sizes for every run, the smaller model and its speed-up when structured."""
    saved = report.saved
    lines = [
        f"[b]{run.name}[/b] exported: {report.nonzero:,} of {report.parameters:,} parameters "
        f"{kept_word(report.structured)} ({compressions(report.weight_compression, report.compression)}); "
        f"{sizes_text(saved)}"
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
