"""The Sensitivity screen: prune one layer at a time to each amount, no fine-tuning, one chart line per layer,
or (ctrl+g) a table of the numbers: per layer, validation and test accuracy at each amount.

The model is trained with the main form's settings, or taken from a saved run: its dense.pt, the trained model
just before it was pruned, or its model.pt, the pruned model, whose zeros stay. The suggestion goes by validation
accuracy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import ContentSwitcher, DataTable, Header, Input, Label, Select, Static

from prunetui.app.analysis_runner import Analysis
from prunetui.app.plan import about
from prunetui.app.run_state import eta
from prunetui.app.screens.analysis import AnalysisScreen, Kept
from prunetui.app.widgets.cut_input import CutInput
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.series_chart import ACCURACY_AXIS, PERCENT, Axis, SeriesChart
from prunetui.app.widgets.status_panel import left, share
from prunetui.describe import counted, loaded_accuracy, percent, sensitivity_table, too_sparse_warning
from prunetui.engine.analyses import (
    DEFAULT_AMOUNTS,
    AnalysisEvent,
    SensitivityEnded,
    SensitivityPoint,
    SensitivityStarted,
    chooses_by_validation,
    parse_fractions,
    sensitivity_criteria,
    sensitivity_file,
    sensitivity_series,
    suggest_amounts,
)
from prunetui.engine.core.config import ExperimentConfig, format_layer_amounts
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.runs import DENSE_MODEL_FILE, MODEL_FILE, RunRecord, list_runs

TRAIN_NOW = "train"
TOLERANCE = 0.01


class SensitivityScreen(AnalysisScreen):
    TOOL = "sensitivity"
    BINDINGS: ClassVar[list[BindingType]] = [
        *AnalysisScreen.BINDINGS,
        Binding("ctrl+g", "toggle_table", "Chart/table", tooltip="The results as a chart, or as a table of numbers"),
        Binding("ctrl+l", "use_amounts", "Use amounts", tooltip="Put the suggested per-layer amounts into the form"),
    ]

    @dataclass
    class RunsListed(Message):
        """The saved models to analyse, newest run first, read in a worker: {model file: its run}."""

        models: dict[str, RunRecord]

    @dataclass
    class AmountsChosen(Message):
        """Per-layer sparsity amounts (as `--layer-sparsity` reads them) for `model`, to put into the form."""

        model: str
        amounts: str

    def __init__(self, config: ExperimentConfig, root: Path, kept: dict[str, Kept] | None = None) -> None:
        super().__init__(config, root, kept)
        self.points: list[SensitivityPoint] = []
        self.started: SensitivityStarted | None = None
        self.evaluations = 0  # layers times amounts, in the running analysis
        self._pace: tuple[int, float] | None = None  # (0, time.monotonic()) when its evaluations began: the ETA
        self.model = config.model  # the analysed model's architecture: the form's, or a saved run's
        self._runs: dict[str, RunRecord] = {}  # saved models to analyse and their runs, read in a worker

    def compose(self) -> ComposeResult:
        criteria = sensitivity_criteria()
        criterion = self.config.criterion if self.config.criterion in criteria else criteria[0]
        yield Header()
        with Vertical(id="sensitivity-setup", classes="analysis-setup"):
            with Horizontal(classes="analysis-row"):
                yield Label("model", classes="analysis-label")
                yield Select(self._sources(), value=TRAIN_NOW, allow_blank=False, compact=True, id="sensitivity-source")
            with Horizontal(classes="analysis-row"):
                yield Label("amounts", classes="analysis-label")
                yield CutInput(",".join(f"{a:g}" for a in DEFAULT_AMOUNTS), id="sensitivity-amounts", compact=True)
                yield Label("criterion", classes="analysis-label switch-label")
                options = [(name, name) for name in criteria]
                yield Select(options, value=criterion, allow_blank=False, compact=True, id="sensitivity-criterion")
            yield from self.controls()
        with ContentSwitcher(initial="sensitivity-chart", id="sensitivity-results"):
            yield SeriesChart(Axis("layer pruned (%)", 0, PERCENT), ACCURACY_AXIS, id="sensitivity-chart")
            yield DataTable(id="sensitivity-table", cursor_type="none", zebra_stripes=True)
        yield Static("", id="sensitivity-suggestion")
        yield FittingFooter()

    def _sources(self) -> list[tuple[str, str]]:
        sources = [(f"train {self.config.model} with the form's settings", TRAIN_NOW)]
        return sources + [(_model_label(Path(path), run), path) for path, run in self._runs.items()]

    @work(thread=True, exit_on_error=False, group="runs")
    def _list_runs(self) -> None:
        models = {}
        for run in list_runs(self.root):
            if (run.path / DENSE_MODEL_FILE).is_file():
                models[str(run.path / DENSE_MODEL_FILE)] = run
            if run.sparsity and run.model_path is not None:  # pruned: its final model is worth analysing too
                models[str(run.model_path)] = run
        self.post_message(self.RunsListed(models))

    def on_sensitivity_screen_runs_listed(self, message: RunsListed) -> None:
        self._runs = message.models
        source = self.query_one("#sensitivity-source", Select)
        chosen = self.pending.pop("sensitivity-source", source.value)
        source.set_options(self._sources())
        if chosen == TRAIN_NOW or chosen in self._runs:  # a kept run may be gone
            source.value = chosen

    def on_mount(self) -> None:
        self.query_one("#sensitivity-setup").border_title = "Sensitivity: one layer pruned at a time, no fine-tuning"
        self.query_one("#sensitivity-chart").border_title = "Test accuracy per layer (the suggestion: validation)"
        self.query_one("#sensitivity-table").border_title = "Accuracy (%) with one layer pruned (ctrl+g: the chart)"
        self.query_one("#sensitivity-source").focus()
        self._list_runs()

    def plan(self) -> str:
        amounts = parse_fractions(self.query_one("#sensitivity-amounts", Input).value, "amounts")
        source = str(self.query_one("#sensitivity-source", Select).value)
        config = self.config if source == TRAIN_NOW else self._runs[source].config
        if config is None:
            raise PrunetuiError("cannot read the settings of that run")
        layers = len(config.prunable_layer_names)  # another network's are found once it is built
        images = "validation and test" if config.validation_split else "test"
        pruned = source != TRAIN_NOW and Path(source).name != DENSE_MODEL_FILE
        up_to = "up to " if pruned else ""  # amounts at or below a layer's present sparsity are left out
        if layers:
            which, count = f"each of its {layers} layers", f"{up_to}{layers * len(amounts)} {images} evaluations"
        else:
            which, count = "each of its prunable layers", f"{up_to}{len(amounts)} {images} evaluations a layer"
        points = f"prune {which} to {len(amounts)} amounts: {count}, no fine-tuning"
        if pruned:
            points += " (amounts at or below a layer's present sparsity are left out)"
        if source != TRAIN_NOW:
            return f"load {config.model} as that run {'pruned it' if pruned else 'trained it'}, {points}"
        time = about(config.epochs, config, self.paces)
        return f"train {config.model} ({counted(config.epochs, 'epoch')}, {time}), {points}"

    def prepare(self) -> Callable[[], Analysis]:
        amounts = parse_fractions(self.query_one("#sensitivity-amounts", Input).value, "amounts")
        criterion = str(self.query_one("#sensitivity-criterion", Select).value)
        source = str(self.query_one("#sensitivity-source", Select).value)
        config, model_path = self.config, None
        if source != TRAIN_NOW:
            run = self._runs[source]
            if run.config is None:
                raise PrunetuiError(f"cannot read the settings of run {run.name}")
            config, model_path = run.config.replace(data_dir=self.config.data_dir), Path(source)
        config = config.replace(criterion=criterion)
        self.model = config.model
        out = sensitivity_file(self.root, config)  # the CLI's file for the same settings

        def build() -> Analysis:
            from prunetui.engine.analyses.sensitivity import Sensitivity  # imports torch

            return Sensitivity(config, amounts, model_path=model_path, out=out)

        return build

    def results(self) -> tuple[list[SensitivityPoint], SensitivityStarted | None, str]:
        return list(self.points), self.started, self.model

    def show_results(self, results: object) -> None:
        points, self.started, self.model = cast(
            "tuple[list[SensitivityPoint], SensitivityStarted | None, str]", results
        )
        self.points = list(points)

    def show_event(self, event: AnalysisEvent) -> None:
        if isinstance(event, SensitivityStarted):
            self.points, self.started = [], event
            self.evaluations = event.evaluations
            self._pace = (0, time.monotonic())
            self._progress(f"{loaded_accuracy(event)}; pruning one layer at a time …")
            warning = too_sparse_warning(event, "amounts")
            if warning:
                self.notify(warning, title="Sensitivity", severity="warning")
        elif isinstance(event, SensitivityPoint):
            self.points.append(event)
            done = len(self.points)
            self._progress(
                f"{share(done, self.evaluations)} {done} of {self.evaluations} evaluations"
                f"{left(eta(self._pace, done, self.evaluations))} · {event.layer} pruned to "
                f"{percent(event.amount, 0)}: {percent(event.accuracy)}"
            )
        elif isinstance(event, SensitivityEnded):
            self.points = list(event.points)
            if event.results_file:
                self.notify(f"results in {event.results_file}", title="Sensitivity")
            elif event.not_saved:
                self.notify(event.not_saved, title="Results not saved", severity="error")

    def redraw(self) -> None:
        self.query_one(SeriesChart).show(sensitivity_series(self.points))
        self._table()
        text, suggestion = "", self.suggestion
        if suggestion is not None and self.started is not None:
            which = "validation" if chooses_by_validation([self.started]) else "test (no validation images)"
            so_far = "so far, of the layers measured at every amount, " if self.running else ""
            text = (
                f"{loaded_accuracy(self.started)}; {so_far}largest amount per layer within {TOLERANCE * 100:g} "
                f"point by {which} accuracy: [b]{suggestion}[/b] (ctrl+l puts it into the form)"
            )
        self.query_one("#sensitivity-suggestion", Static).update(text)
        self.refresh_bindings()

    def _table(self) -> None:
        table = self.query_one("#sensitivity-table", DataTable)
        table.clear(columns=True)
        if self.started is None or not self.points:
            return
        described = sensitivity_table(tuple(self.points), (self.started,), TOLERANCE)
        table.add_columns("layer", "images", *(Text(amount, justify="right") for amount in described.amounts))
        for row in described.rows:
            marked = zip(row.cells, row.below, strict=True)
            cells = (Text(cell, "red" if below else "", justify="right") for cell, below in marked)
            table.add_row(row.layer, row.images, *cells)
        table.border_subtitle = described.marks  # the baseline's accuracies are in the line below

    def action_toggle_table(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "sensitivity-table" if switcher.current == "sensitivity-chart" else "sensitivity-chart"
        self.query_one(f"#{switcher.current}").focus()  # the table scrolls by keyboard where its layers do not fit

    @property
    def suggestion(self) -> str | None:
        """The per-layer amounts the results so far suggest, as --layer-sparsity reads them."""
        if self.started is None or (not self.points and self.started.evaluations):
            return None  # none yet; with nothing to measure, each layer's sparsity as loaded
        amounts = suggest_amounts(self.points, [self.started], TOLERANCE)
        if self.running:  # only the layers measured at every amount: the others' would be guesses
            measured = Counter(point.layer for point in self.points)
            done = {layer for layer in amounts if measured[layer] >= len(self.started.amounts_above(layer))}
            amounts = {layer: amount for layer, amount in amounts.items() if layer in done and measured[layer]}
            if not amounts:
                return None
        return format_layer_amounts(amounts)

    def action_use_amounts(self) -> None:
        suggestion = self.suggestion
        if suggestion is not None:
            self.app.post_message(self.AmountsChosen(self.model, suggestion))
            self.action_back()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "use_amounts":  # once the analysis is over: a half-done one suggests too much
            return True if self.suggestion is not None and not self.running else None
        return super().check_action(action, parameters)


def _model_label(path: Path, run: RunRecord) -> str:
    """What tells a run's models apart first, where a narrow field cuts the rest: 'final 80.0 % · run … l1 …'."""
    which = f"final {percent(run.sparsity)}" if path.name == MODEL_FILE else "dense"
    return f"{which} · run {run.name} {run.method}"
