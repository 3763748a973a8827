"""Shown instead of a broken layout while the terminal is smaller than the app needs."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class TooSmallScreen(Screen[None]):
    """The app pops it as soon as the terminal is large enough again; ctrl+q still quits."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self.needs = (width, height)

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def on_resize(self, event: events.Resize) -> None:
        width, height = self.needs
        self.query_one("#too-small", Static).update(
            f"terminal too small (needs {width}×{height})\nnow {event.size.width}×{event.size.height}: "
            "enlarge the window or make the font smaller"
        )
