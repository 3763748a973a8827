"""The run's events in words, one line each, with the time into the run. A long line wraps (a path too long
for the width folds rather than being cut), and the lines wrap again when the log's width changes. Focused (Tab),
the arrows, PageUp/PageDown, Home and End scroll it, and Enter zooms it to the whole run view and back."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from prunetui.app.run_state import RunState, clock


def hanging(time: str, line: str) -> Table:
    """The time, then the line; a line that wraps goes on under its own start, not under the time."""
    grid = Table.grid(padding=(0, 0, 0, 2))
    grid.add_column(justify="right", min_width=5, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(time, Text(line))  # a line is plain text, never markup
    return grid


class EventLog(RichLog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "zoom", "Zoom log", tooltip="The log on the whole run view to read it; Enter again shrinks it")
    ]

    # A new line changes only how far the log scrolls: its box is sized by the stylesheet, never by its lines, and
    # RichLog always shows its vertical scrollbar. RichLog's virtual size asked for a layout of the whole screen on
    # each line (10-15 ms of the UI thread at 80x24, 15-50 ms at 160x48, with the form shown); here a line moves the
    # scrollbar's thumb, and only a line wider than the log (a horizontal scrollbar to show) lays the screen out.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, max_lines=1000, min_width=20)
        self._run: float | None = None
        self._lines: list[tuple[str, str]] = []  # (time, line), to wrap again at a new width
        self._width = 0

    def show(self, state: RunState) -> None:
        if state.started_at != self._run:  # a new run: start afresh
            self.clear()
            self._run, self._lines = state.started_at, []
        for line in state.log[len(self._lines) :]:
            self.note(line, clock(state.elapsed))

    def note(self, line: str, time: str = "") -> None:
        """Add a line to the log."""
        self._lines.append((time, line))
        self._write(time, line)

    def watch_virtual_size(self, size: Size) -> None:
        if size.width > self.scrollable_content_region.width:
            self.refresh(layout=True)
        elif self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = size.height

    def on_resize(self, event: events.Resize) -> None:
        if self.scrollable_content_region.width != self._width:
            self._width = self.scrollable_content_region.width
            self.clear()
            for time, line in self._lines:
                self._write(time, line)

    def action_zoom(self) -> None:
        """The log takes the room of the form and the other panels (its screen's -log-zoomed), or gives it back."""
        self.screen.toggle_class("-log-zoomed")
        self.call_after_refresh(self.scroll_end, animate=False)

    def _write(self, time: str, line: str) -> None:
        # At the log's own width: measured on the app's console, a long line would wrap at the console's width.
        self.write(hanging(time, line), width=self.scrollable_content_region.width or None)
