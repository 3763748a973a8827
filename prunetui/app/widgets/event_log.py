"""The run's events in words, one line each, with the time into the run."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import RichLog

from prunetui.app.run_state import RunState, clock


def hanging(time: str, line: str) -> Table:
    """The time, then the line; a line that wraps goes on under its own start, not under the time."""
    grid = Table.grid(padding=(0, 0, 0, 2))
    grid.add_column(justify="right", min_width=5, no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(time, Text(line))  # a line is plain text, never markup
    return grid


class EventLog(RichLog):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, max_lines=1000, min_width=20)
        self._run: float | None = None
        self._written = 0

    def show(self, state: RunState) -> None:
        if state.started_at != self._run:  # a new run: start afresh
            self.clear()
            self._run, self._written = state.started_at, 0
        for line in state.log[self._written :]:
            self.write(hanging(clock(state.elapsed), line))
        self._written = len(state.log)
