"""The Weights screen: a saved run's layer as a heat map (a convolution as filters x input channels, a cell per
kernel), pruned entries a dim `·`, and a histogram of the surviving weights' magnitudes before and after pruning;
n and p step through the layers. The newest run is shown first (the one just done)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Header, Label, Select, Static

from prunetui.app.screens.analysis import ANALYSIS_CSS
from prunetui.app.screens.tool_screen import ToolScreen
from prunetui.app.widgets.fitting_footer import FittingFooter
from prunetui.app.widgets.heat_map import HeatMap, drawn_as_kernels, drawn_as_tiles, kernel_norms
from prunetui.app.widgets.series_chart import POSITIVE, Axis, SeriesChart
from prunetui.describe import percent
from prunetui.engine.analyses import Lines, Series
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.runs import RunRecord, list_runs

if TYPE_CHECKING:
    from prunetui.engine.analyses.weights import LayerWeights

BINS = 24
SCALE_QUANTILE = 0.99  # |w| drawn at full color: robust to a few outliers


def magnitude_histogram(layer: LayerWeights, bins: int = BINS) -> Lines:
    """Counts of |w| per bin: every weight before pruning, the survivors after."""
    before = np.abs(layer.dense).ravel()
    after = np.abs(layer.pruned[layer.kept]).ravel()
    top = max(float(before.max()), float(after.max(initial=0.0)))  # fine-tuning can grow survivors
    edges = np.linspace(0.0, top or 1.0, bins + 1)
    centers = ((edges[:-1] + edges[1:]) / 2).tolist()
    return {
        "before": Series(centers, np.histogram(before, edges)[0].astype(float).tolist()),
        "after (survivors)": Series(centers, np.histogram(after, edges)[0].astype(float).tolist()),
    }


class WeightsScreen(ToolScreen):
    CSS_PATH = ANALYSIS_CSS
    TOOL = "weights"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "toggle_before", "Before/after", tooltip="Show the weights before pruning, or after"),
        Binding("n", "step_layer(1)", "Next layer", tooltip="Show the next layer"),
        Binding("p", "step_layer(-1)", "Previous layer", show=False),
    ]

    @dataclass
    class WeightsLoaded(Message):
        """A run's weights per layer (none when they could not be read, and `error` says why)."""

        layers: list[LayerWeights]
        error: str = ""

    @dataclass
    class RunsListed(Message):
        """The saved runs that have a model, newest first, read in a worker."""

        runs: list[RunRecord]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self._runs: dict[str, RunRecord] = {}
        self.by_layer: dict[str, LayerWeights] = {}
        self.before = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="weights-pick"):
            yield Label("run", classes="analysis-label")
            yield Select([], prompt="reading the runs …", compact=True, id="weights-run")
            yield Label("layer", classes="analysis-label switch-label")
            yield Select([], prompt="layer", compact=True, id="weights-layer")
        yield Static("", id="weights-caption")
        with Horizontal(id="weights-body"):
            yield HeatMap(id="weights-map")
            yield SeriesChart(Axis("|w|", 2, POSITIVE), Axis("count", 0, POSITIVE), id="weights-histogram")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#weights-histogram").border_title = "|w| histogram"
        self.query_one("#weights-run").focus()
        self._list_runs()

    @work(thread=True, exit_on_error=False, group="runs")
    def _list_runs(self) -> None:
        self.post_message(self.RunsListed([run for run in list_runs(self.root) if run.model_path is not None]))

    def on_weights_screen_runs_listed(self, message: RunsListed) -> None:
        self._runs = {str(run.path): run for run in message.runs}
        select = self.query_one("#weights-run", Select)
        select.set_options((f"{run.name}: {run.method}", path) for path, run in self._runs.items())
        select.prompt = "no saved runs yet"
        if self._runs:
            select.value = next(iter(self._runs))

    @on(Select.Changed, "#weights-run")
    def _run_changed(self, event: Select.Changed) -> None:
        if event.value != Select.NULL:
            self.by_layer = {}  # until the new run's weights are in
            self.query_one("#weights-caption", Static).update("loading …")
            self._load(str(event.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="weights")
    def _load(self, path: str) -> None:
        from prunetui.engine.analyses.weights import run_weights  # imports torch

        try:
            self.post_message(self.WeightsLoaded(run_weights(path)))
        except PrunetuiError as error:
            self.post_message(self.WeightsLoaded([], str(error)))

    def on_weights_screen_weights_loaded(self, message: WeightsLoaded) -> None:
        self.by_layer = {layer.name: layer for layer in message.layers}
        if message.error:
            self.query_one("#weights-caption", Static).update(f"[red]{message.error}[/]")
        select = self.query_one("#weights-layer", Select)
        select.set_options((name, name) for name in self.by_layer)
        if self.by_layer:
            select.value = next(iter(self.by_layer))

    @on(Select.Changed, "#weights-layer")
    def _layer_changed(self) -> None:
        self._show()

    def action_toggle_before(self) -> None:
        self.before = not self.before
        self._show()

    def action_step_layer(self, by: int) -> None:
        """The next or previous layer: a deep network's 56 layers one key press apart."""
        select = self.query_one("#weights-layer", Select)
        names = list(self.by_layer)
        if names and select.value in names:
            select.value = names[(names.index(str(select.value)) + by) % len(names)]

    def _show(self) -> None:
        name = self.query_one("#weights-layer", Select).value
        layer = self.by_layer.get(str(name))
        if layer is None:
            return
        weights = layer.dense if self.before else layer.pruned
        kept = np.ones_like(layer.kept) if self.before else layer.kept
        dense = layer.dense
        if drawn_as_kernels(dense):  # filters x inputs, a cell per kernel
            weights, kept = kernel_norms(weights, kept)
            dense = kernel_norms(dense, np.ones_like(layer.kept))[0]
        scale = float(np.quantile(np.abs(dense), SCALE_QUANTILE))
        heat_map = self.query_one(HeatMap)
        heat_map.show(weights, kept, scale)
        when = "before pruning" if self.before else "after pruning"
        shape = "×".join(map(str, layer.dense.shape))
        if drawn_as_kernels(layer.dense):
            out, inputs, height, width = layer.dense.shape
            shape = f"{out} filters × {inputs} inputs, {height}×{width} kernels"
        heat_map.border_title = f"{layer.name} {when}, {shape}"
        pruned = 1 - float(layer.kept.mean())
        if drawn_as_kernels(layer.dense):
            legend = "a row per filter, a column per input channel, brighter = larger kernel norm"
        else:
            legend = "[#eb4637]█[/] positive, [#3c82f0]█[/] negative, brighter = larger |w|"
        blocks = "" if drawn_as_tiles(layer.dense) else ", ░▒▓ partly pruned"
        self.query_one("#weights-caption", Static).update(
            f"{layer.name}: {percent(pruned)} pruned ({int((~layer.kept).sum()):,} of {layer.kept.size:,}). "
            f"{legend}, [grey42]·[/] pruned{blocks}; b: {'after' if self.before else 'before'}, n/p: next layer"
        )
        self.query_one(SeriesChart).show(magnitude_histogram(layer))
