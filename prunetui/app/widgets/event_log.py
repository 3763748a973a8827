"""The run's events in words, one line each, with the time into the run."""

from __future__ import annotations

from textual.widgets import RichLog

from prunetui.app.run_state import RunState
from prunetui.app.widgets.status_panel import clock


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
            self.write(f"{clock(state.elapsed):>5}  {line}")
        self._written = len(state.log)
