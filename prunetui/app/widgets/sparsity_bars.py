"""One bar per prunable layer plus the global figure, with exact percentages and non-zero/total counts."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from prunetui.app.run_state import RunState
from prunetui.engine.events import LayerSparsity, SparsityReport

NUMBER_WIDTH = 26  # columns for "99.99 %" and "1,234,567/9,999,999"


def bar(fraction: float, width: int, style: str) -> Text:
    """A bar `width` cells wide, filled to `fraction` in eighths of a cell."""
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return Text.assemble(("█" * full + partial, style), ("·" * (width - full - len(partial)), "dim"))


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
        names = [layer.name for layer in self._report.layers] if self._report else list(self._layers)
        name_width = max(len(name) for name in [*names, "global"])
        width = max(self.size.width - name_width - NUMBER_WIDTH - 4, 4)
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim", show_edge=False)
        for column in ("layer", "pruned", "sparsity", "non-zero/total"):
            table.add_column(column, justify="left" if column in ("layer", "pruned") else "right")
        if self._report is None:
            for name in names:
                table.add_row(name, bar(0.0, width, "green"), "dense", "")
            return table
        for layer in self._report.layers:
            table.add_row(*self._row(layer, width))
        table.add_row(
            Text("global", style="bold"),
            bar(self._report.global_sparsity, width, "bold magenta"),
            Text(f"{self._report.global_sparsity * 100:.2f} %", style="bold"),
            f"{self._report.compression:.2f}× smaller",
        )
        return table

    def _row(self, layer: LayerSparsity, width: int) -> tuple[Text | str, ...]:
        counts = f"{layer.nonzero:,}/{layer.total:,}"
        if not layer.prunable:
            return layer.name, bar(layer.sparsity, width, "dim"), "kept", counts
        return layer.name, bar(layer.sparsity, width, "green"), f"{layer.sparsity * 100:.2f} %", counts
