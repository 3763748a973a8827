"""One bar per prunable layer plus the global figure, with exact percentages and non-zero/total counts."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from prunetui.app.run_state import RunState
from prunetui.engine.core.events import LayerSparsity, SparsityReport


@dataclass(frozen=True)
class Bar:
    """A bar as wide as its table column, filled to `fraction` in eighths of a cell."""

    fraction: float
    style: str

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        full, part = divmod(round(self.fraction * width * 8), 8)
        partial = " ▏▎▍▌▋▊▉"[part] if part else ""
        yield Text.assemble(("█" * full + partial, self.style), ("·" * (width - full - len(partial)), "dim"))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(4, options.max_width)


class SparsityBars(Widget):
    """Shows the layers named at the start of a run, then the latest SparsityReport."""

    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._layers: tuple[str, ...] = ()
        self._report: SparsityReport | None = None

    def show(self, state: RunState) -> None:
        layers, report = (state.started.layers if state.started else ()), state.sparsity
        if (layers, report) != (self._layers, self._report):
            self._layers, self._report = layers, report
            self.refresh(layout=True)

    def render(self) -> RenderableType:
        if not self._layers and self._report is None:
            return Text("Each layer's share of pruned weights appears here once a run starts.", style="dim")
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim", expand=True)
        table.add_column("layer", no_wrap=True)
        table.add_column("pruned", ratio=1)
        table.add_column("sparsity", justify="right", no_wrap=True)
        table.add_column("non-zero/total", justify="right", no_wrap=True)
        if self._report is None:
            for name in self._layers:
                table.add_row(name, Bar(0.0, "green"), "dense", "")
            return table
        for layer in self._report.layers:
            table.add_row(*self._row(layer))
        report = self._report
        table.add_row(
            Text("global", style="bold"),
            Bar(report.global_sparsity, "bold magenta"),
            Text(f"{report.global_sparsity * 100:.2f} %", style="bold"),
            # smaller by: counting the weights, as papers do, and all parameters, biases included
            f"{report.weight_compression:.1f}× weights · {report.compression:.1f}× all",
        )
        return table

    def _row(self, layer: LayerSparsity) -> tuple[RenderableType, ...]:
        counts = f"{layer.nonzero:,}/{layer.total:,}"
        if not layer.prunable:
            return layer.name, Bar(layer.sparsity, "dim"), "kept", counts
        return layer.name, Bar(layer.sparsity, "green"), f"{layer.sparsity * 100:.2f} %", counts
