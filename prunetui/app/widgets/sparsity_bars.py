"""One bar per prunable layer plus the global figure, with exact percentages and non-zero/total counts.

A deep network (BY_STAGE_FROM layers or more; ResNet-56 has 56) is shown by stage: one summary row per stage
(`layer1`, `layer2`, ... the first part of the module path, or `features.3` where `features` would hold most layers:
`layer_names.stages`), which Enter opens to its layers. The arrows move a cursor over the rows, the rows scroll to
keep it in view, and the bottom border names the layer under it in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.widget import Widget

from prunetui.app.run_state import RunState
from prunetui.engine.core.events import LayerSparsity, SparsityReport
from prunetui.engine.core.networks.layer_names import BY_STAGE_FROM, by_stage, stages

TABLE_LINES = 2  # the header and the global row
SHOWN_ROWS = 5  # a deep network's rows shown at once where the bars take only the room they need


@dataclass(frozen=True)
class Row:
    """A line of the bars: a layer, or a stage's summary (`layers` > 0: how many it holds)."""

    sparsity: LayerSparsity
    layers: int = 0
    open: bool = False
    stage: str = ""  # of a layer shown under its stage's row: that stage

    @property
    def inside(self) -> bool:
        return bool(self.stage)

    @property
    def key(self) -> str:
        return f"{self.sparsity.name}/" if self.layers else self.sparsity.name


def stage_rows(layers: tuple[LayerSparsity, ...], opened: set[str]) -> list[Row]:
    """The rows of a deep network: consecutive layers of a stage as one summary row, with its layers under it when
    the stage is in `opened`; a stage of one layer (conv1, fc) is that layer's row."""
    rows = []
    for name, indexes in by_stage([layer.name for layer in layers]):
        run = layers[indexes.start : indexes.stop]
        if len(run) == 1:
            rows.append(Row(run[0]))
            continue
        zeros, total = sum(layer.zeros for layer in run), sum(layer.total for layer in run)
        rows.append(
            Row(LayerSparsity(name, zeros, total, any(layer.prunable for layer in run)), len(run), name in opened)
        )
        if name in opened:
            rows.extend(Row(layer, stage=name) for layer in run)
    return rows


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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "toggle_stage", "Open stage", tooltip="Show a stage's layers under its row, or fold them"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-8)", "Page up", show=False),
        Binding("pagedown", "move(8)", "Page down", show=False),
        Binding("home", "move(-10000)", "First", show=False),
        Binding("end", "move(10000)", "Last", show=False),
    ]
    can_focus = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._layers: tuple[str, ...] = ()
        self._report: SparsityReport | None = None
        self.opened: set[str] = set()  # the stages shown with their layers
        self.cursor = ""  # the key of the row under the cursor (a stage's ends in "/")
        self._top = 0  # the first row shown
        self._shape: tuple[int, bool] | None = None  # how many rows were laid out, and whether by stage

    def show(self, state: RunState) -> None:
        layers, report = (state.started.layers if state.started else ()), state.sparsity
        if (layers, report) != (self._layers, self._report):
            self._layers, self._report = layers, report
            self._changed()

    @property
    def counted(self) -> tuple[LayerSparsity, ...]:
        """The latest report's layers, or before the first one the layers named at the start, dense."""
        if self._report is not None:
            return self._report.layers
        return tuple(LayerSparsity(name, 0, 0) for name in self._layers)

    @property
    def grouped(self) -> bool:
        return len(self.counted) >= BY_STAGE_FROM

    def rows(self) -> list[Row]:
        layers = self.counted
        return stage_rows(layers, self.opened) if self.grouped else [Row(layer) for layer in layers]

    def _cursor_index(self, rows: list[Row]) -> int:
        keys = [row.key for row in rows]
        if self.cursor in keys:
            return keys.index(self.cursor)
        names = [layer.name for layer in self.counted]  # a layer of a stage just folded: its stage's row
        folded = f"{dict(zip(names, stages(names), strict=True)).get(self.cursor, self.cursor)}/"
        return keys.index(folded) if folded in keys else 0

    def action_move(self, by: int) -> None:
        rows = self.rows()
        if rows:
            self.cursor = rows[max(0, min(self._cursor_index(rows) + by, len(rows) - 1))].key
            self._changed()

    def action_toggle_stage(self) -> None:
        """Open the stage under the cursor, or fold the one the cursor is in."""
        rows = self.rows()
        if not rows or not self.grouped:
            return
        row = rows[self._cursor_index(rows)]
        name = row.stage or row.sparsity.name  # a layer under its stage's row, or the stage's row
        if row.layers or row.inside:
            self.opened ^= {name}
            self.cursor = f"{name}/"
            self._changed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The cursor and the stages are a deep network's: for a LeNet the keys and the footer's entry go."""
        return self.grouped if action in ("move", "toggle_stage") else True

    def on_focus(self) -> None:
        self.refresh()  # the row under the cursor is highlighted only while the bars have focus

    def on_blur(self) -> None:
        self.refresh()

    def _changed(self) -> None:
        """Repaint, and name the row under the cursor in the bottom border (a deep network's rows only)."""
        rows = self.rows()
        self.border_subtitle = self.under_cursor(rows) if self.grouped and rows else ""
        # A new report of the same rows only repaints them: a layout of the screen, and the footer rebuilt for
        # keys that did not change, would cost the UI thread (and so training) many times more.
        shape = (len(rows), self.grouped)
        self.refresh(layout=shape != self._shape)
        if self._shape is None or shape[1] != self._shape[1]:
            self.refresh_bindings()
        self._shape = shape

    def under_cursor(self, rows: list[Row]) -> str:
        """The row under the cursor in full, and where it is: 'layer3.8.conv2 · 44/58 ↑↓'."""
        at = self._cursor_index(rows)
        row = rows[at]
        if row.layers:
            what = f"{row.sparsity.name}: {row.layers} layers, Enter {'folds' if row.open else 'opens'}"
        else:
            what = row.sparsity.name
        return f"▸ [b]{escape(what)}[/b] · {at + 1}/{len(rows)} ↑↓"

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Where the height follows the content (a narrow terminal), a deep network's rows scroll in a few lines."""
        if self.grouped:
            return TABLE_LINES + min(len(self.rows()), SHOWN_ROWS)
        return super().get_content_height(container, viewport, width)

    def render(self) -> RenderableType:
        if not self._layers and self._report is None:
            return Text("Each layer's share of pruned weights appears here once a run starts.", style="dim")
        table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="dim", expand=True)
        table.add_column("layer", no_wrap=True)
        table.add_column("pruned", ratio=1)
        table.add_column("sparsity", justify="right", no_wrap=True)
        table.add_column("non-zero/total", justify="right", no_wrap=True)
        rows = self.rows()
        if not self.grouped:
            for row in rows:
                table.add_row(*self._cells(row))
            self._add_global(table)
            return table
        at = self._cursor_index(rows)
        room = max(1, self.size.height - TABLE_LINES)
        self._top = min(max(self._top, at - room + 1), at, max(0, len(rows) - room))  # the cursor's row in view
        for index in range(self._top, min(self._top + room, len(rows))):
            highlight = "reverse" if index == at and self.has_focus else ""
            table.add_row(*self._cells(rows[index]), style=highlight)
        self._add_global(table)
        return table

    def _add_global(self, table: Table) -> None:
        report = self._report
        if report is None:
            return
        zeros, total = report.prunable_counts
        table.add_row(
            Text("all", style="bold"),  # the prunable layers, whose sparsity the target is, whatever the scope
            Bar(report.global_sparsity, "bold magenta"),
            Text(f"{report.global_sparsity * 100:.2f} %", style="bold"),
            # The counts of the prunable layers, whose sparsity the row's is: the status panel says the compressions,
            # which (two of them, "10.0x weights") widened the last column until the bars were one cell wide.
            f"{total - zeros:,}/{total:,}",
        )

    def _cells(self, row: Row) -> tuple[RenderableType, ...]:
        layer = row.sparsity
        if row.layers:
            name: RenderableType = Text(f"{'▾' if row.open else '▸'} {layer.name} ×{row.layers}", style="bold")
        elif row.inside:
            name = Text.assemble(("│ ", "dim"), layer.name.removeprefix(row.stage + "."))
        else:
            name = layer.name
        if not layer.total:  # named at the start, not counted yet
            return name, Bar(0.0, "green"), "dense", ""
        counts = f"{layer.nonzero:,}/{layer.total:,}"
        if not layer.prunable:  # kept out of pruning: its zeros are inputs cut with the layer before (structured)
            return (
                name,
                Bar(layer.sparsity, "dim"),
                Text(f"{layer.sparsity * 100:.2f} %" if layer.zeros else "kept", "dim"),
                counts,
            )
        return name, Bar(layer.sparsity, "green"), f"{layer.sparsity * 100:.2f} %", counts
