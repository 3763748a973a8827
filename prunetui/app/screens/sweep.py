"""The Sweep screen: several methods over a list of sparsities, each point fine-tuned (or, under --rewind or
--reinit, retrained), as a chart and a table. The chart's axis (ctrl+l steps through them) is the sparsity, the
compression of all parameters on a log scale, or the MACs kept, as with `prunetui sweep --log-compression` and
`--macs`.

The sweep directory is the CLI's (one per shared settings under the runs root), so starting again with the
same settings, here or with `prunetui sweep`, resumes without redoing finished points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Input, Label, Static

from prunetui.app.analysis_runner import Analysis
from prunetui.app.plan import about
from prunetui.app.screens.analysis import AnalysisScreen, Kept
from prunetui.app.widgets.choice import Choice
from prunetui.app.widgets.cut_input import CutInput
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.ordered_input import OrderedInput
from prunetui.app.widgets.series_chart import ACCURACY_AXIS, SPARSITY_AXIS, SeriesChart
from prunetui.describe import counted, fitted_method, percent, recovery
from prunetui.engine.analyses import (
    DEFAULT_METHODS,
    DEFAULT_SPARSITIES,
    AnalysisEvent,
    SweepEnded,
    SweepPoint,
    SweepSpec,
    SweepStarted,
    parse_fractions,
    parse_methods,
    sweep_directory,
    sweep_series,
)
from prunetui.engine.analyses.executor import Parallel, parse_jobs
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.seed_stats import parse_seeds

# The accuracy after recovery ("fine-tuned" or "retrained") comes right after the point's name.
# Compression is counted over the weights (as papers do), then over all parameters, biases included; MACs kept:
# the non-zero weights' MACs per image over the dense network's.
COLUMNS = ("target", "seed", "accuracy", "pruned", "reached", "× weights", "× all", "MACs kept")
# Where the table is narrow (80 columns, or beside the chart) these give way, in this order, until the method's name
# has room: the sparsity reached is near the target, the compression of all parameters near the weights' one, the
# seed goes only while every point has the same one (the seeds field says which), and the MACs kept stay last.
GIVE_WAY = ("reached", "× all", "seed", "pruned", "× weights")
METHOD_ROOM = len("l1:global:one-shot")
# The chart's x axis (sweep_series's axis), as the axis field names it.
AXES = [("sparsity", "sparsity"), ("compression", "compression"), ("MACs kept", "macs")]


class SweepScreen(AnalysisScreen):
    TOOL = "sweep"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "next_axis", "Axis", tooltip="Accuracy against sparsity, compression (log) or MACs kept"),
    ]

    def __init__(self, config: ExperimentConfig, root: Path, kept: dict[str, Kept] | None = None) -> None:
        super().__init__(config, root, kept)
        self.points: dict[tuple[str, float, int], SweepPoint] = {}
        self.labels: dict[str, str] = {}  # each column's header
        self.chart_title = ""

    def compose(self) -> ComposeResult:
        c = self.config
        methods = dict.fromkeys((f"{c.criterion}:{c.scope}:{c.schedule}", *DEFAULT_METHODS))
        yield Header()
        with Vertical(id="sweep-setup", classes="analysis-setup"):
            with Horizontal(classes="analysis-row"):
                yield Label("methods", classes="analysis-label")
                tooltip = "criterion:scope:schedule, …"
                yield CutInput(",".join(methods), id="sweep-methods", compact=True, tooltip=tooltip)
            with Horizontal(classes="analysis-row"):
                yield Label("sparsities", classes="analysis-label")
                yield CutInput(",".join(f"{s:g}" for s in DEFAULT_SPARSITIES), id="sweep-sparsities", compact=True)
                yield Label("", id="sweep-sparsity-count", classes="analysis-count")
                yield Label("seeds", classes="analysis-label switch-label")
                yield OrderedInput(
                    str(c.seed), id="sweep-seeds", compact=True, tooltip="each point once per seed: 0,1,2"
                )
                yield Label("jobs", classes="analysis-label switch-label")
                yield OrderedInput(
                    "1", id="sweep-jobs", compact=True, tooltip="points at once, in worker processes (auto)"
                )
                yield Label("axis", classes="analysis-label switch-label")
                yield Choice(AXES, "sparsity", id="sweep-axis")
            yield from self.controls()
        with Horizontal(classes="analysis-results"):
            yield SeriesChart(SPARSITY_AXIS, ACCURACY_AXIS, id="sweep-chart")
            yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        after = recovery(self._spec().method_configs())  # the methods it opens with; agp fine-tunes even under --rewind
        self.chart_title = f"Accuracy after {after.noun}"
        self.query_one("#sweep-chart").border_title = self.chart_title
        self.query_one("#sweep-setup").border_title = f"Sweep: {self.config.model} on {self.config.dataset}"
        self.labels = {"method": "method", **{c: after.done if c == "accuracy" else c for c in COLUMNS}}
        self.query_one(DataTable).border_title = "Points"
        self.redraw()  # the columns
        self.query_one("#sweep-methods").focus()

    def _spec(self) -> SweepSpec:
        return SweepSpec(
            self.config,
            parse_methods(self.query_one("#sweep-methods", Input).value),
            parse_fractions(self.query_one("#sweep-sparsities", Input).value, "sparsities"),
            parse_seeds(self.query_one("#sweep-seeds", Input).value),
        ).validate()

    def _parallel(self) -> tuple[Parallel, str]:
        """The jobs input, at most one worker per point and per core, and the note when that lowered it."""
        asked = Parallel(parse_jobs(self.query_one("#sweep-jobs", Input).value.strip())).validate()
        return asked.capped(len(self._spec().points()))

    def plan(self) -> str:
        spec, c, jobs = self._spec(), self.config, self._parallel()[0].jobs
        points, seeds = spec.points(), len(spec.seeds)
        configs = spec.method_configs()
        each = sorted({config.pruning_schedule.recovery_epochs(config.plan_settings) for config in configs})
        epochs = c.epochs * seeds + sum(spec.point_config(*point).total_epochs for point in points)
        dense = f"{seeds} × " if seeds > 1 else ""
        by_seeds = f" × {seeds} seeds" if seeds > 1 else ""
        at_once = f", {jobs} at once" if jobs > 1 else ""
        return (
            f"train {dense}{c.model} ({counted(c.epochs, 'epoch')}), prune {len(points)} points "
            f"({counted(len(spec.methods), 'method')} × {counted(len(spec.sparsities), 'sparsity', 'sparsities')}"
            f"{by_seeds}{at_once}), {recovery(configs).verb} each {'/'.join(counted(n, 'epoch') for n in each)}"
            f": {counted(epochs, 'epoch')}, "
            f"{about(epochs, c, self.paces)} (points done before are kept)"
        )

    def prepare(self) -> Callable[[], Analysis]:
        spec, (parallel, note) = self._spec(), self._parallel()
        if note:
            self.notify(note.removeprefix("note: "), title="Fewer workers")
        directory = sweep_directory(self.root, self.config)

        def build() -> Analysis:
            from prunetui.engine.analyses.sweep import Sweep  # imports torch

            return Sweep(spec, directory, parallel=parallel)

        return build

    def results(self) -> dict[tuple[str, float, int], SweepPoint]:
        return dict(self.points)

    def show_results(self, results: object) -> None:
        self.points = dict(cast("dict[tuple[str, float, int], SweepPoint]", results))

    def show_event(self, event: AnalysisEvent) -> None:
        if isinstance(event, SweepStarted):
            self.points = {point.key: point for point in event.done}
            resumed = f"; {len(event.done)} points done before are kept" if event.done else ""
            # In the plan's place, not a toast: a toast would cover the points at 80x24.
            directory = Path(event.directory)  # under the runs root, named from there: at 80x24 a path takes lines
            where = directory.relative_to(self.root) if directory.is_relative_to(self.root) else directory
            self.query_one("#analysis-plan", Static).update(f"[b]Sweeping[/b] into {where}{resumed}")
        elif isinstance(event, SweepPoint):
            self.points[event.key] = event
        elif isinstance(event, SweepEnded):
            self.points.update((point.key, point) for point in event.points)

    def redraw(self) -> None:
        table = self.query_one(DataTable)
        points = sorted(self.points.values(), key=lambda p: (p.method, p.sparsity, p.seed))
        rows = [cells(point) for point in points]
        pad = 2 * table.cell_padding
        widths = {c: max([len(self.labels[c]), *(len(row[c]) for row in rows)]) + pad for c in COLUMNS}
        shown, dropped = list(COLUMNS), []
        width = table.size.width - 1 if table.size.width else 1000  # - the scrollbar; not laid out yet: all
        for column in GIVE_WAY:
            if width - sum(widths[c] for c in shown) - pad >= METHOD_ROOM:
                break
            if column != "seed" or len({point.seed for point in points}) == 1:
                shown.remove(column)
                dropped.append(column)
        # The method's name gives way last, and never below METHOD_ROOM: narrower still, the last columns scroll.
        room = max(width - sum(widths[c] for c in shown) - pad, METHOD_ROOM)
        names = {method: fitted_method(method, room, sep=":") for method in {point.method for point in points}}
        table.clear(columns=True)
        table.add_column("method", width=max([len("method"), *map(len, names.values())]), key="method")
        for column in shown:
            table.add_column(self.labels[column], key=column)
        for point, row in zip(points, rows, strict=True):
            table.add_row(names[point.method], *(row[column] for column in shown))
        table.border_subtitle = f"hidden: {', '.join(dropped)}" if dropped else ""
        self._chart()

    def on_resize(self) -> None:
        self.call_after_refresh(self.redraw)  # the columns and method names fit the room there is

    def _chart(self) -> None:
        axis = self.query_one("#sweep-axis", Choice).value
        points = self.points.values()
        series, bands, x_label = sweep_series(points, axis)  # over seeds: mean, and ± std as error bars
        chart = self.query_one("#sweep-chart", SeriesChart)
        chart.show(series, log_x=axis == "compression", x_label=x_label, errors=bands)
        unknown = sum(point.macs_kept is None for point in points) if axis == "macs" else 0
        # Points of a sweep.csv written before MACs were counted: off this chart, said where the eye looks.
        note = f" · {counted(unknown, 'point')} without MACs (older sweep.csv)" if unknown else ""
        chart.border_title = self.chart_title + note

    @on(Input.Changed, "#sweep-sparsities")
    def _count_sparsities(self, event: Input.Changed) -> None:
        """How many sparsities the field holds: at 80 columns it shows only the first few."""
        try:
            count = f"({len(parse_fractions(event.value, 'sparsities'))})"
        except PrunetuiError:
            count = ""  # the plan's line says what is wrong
        self.query_one("#sweep-sparsity-count", Label).update(count)

    def action_next_axis(self) -> None:
        self.query_one("#sweep-axis", Choice).action_step(1)

    @on(Choice.Changed, "#sweep-axis")
    def _axis_changed(self) -> None:
        self._chart()


def cells(point: SweepPoint) -> dict[str, str]:
    """A point's row of the table, by column."""
    weights = "–" if point.weight_compression is None else f"{point.weight_compression:.1f}×"
    numbers = (percent(point.sparsity, 0), str(point.seed), percent(point.accuracy), percent(point.pruned_accuracy),
               percent(point.reached_sparsity), weights, f"{point.compression:.1f}×",
               percent(point.macs_kept))  # fmt: skip
    return dict(zip(COLUMNS, numbers, strict=True))
