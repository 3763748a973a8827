"""A compact footer that shows only the keys that fit whole: a narrow terminal never sees `f5 Sensiti`."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

KEY_EXTRA = 2  # a compact key's cells besides its key and description: the space between them and its right margin


def key_width(key: FooterKey) -> int:
    return Text(key.key_display).cell_len + Text(key.description).cell_len + KEY_EXTRA


class FittingFooter(Footer):
    """Keys in the order of the bindings; one that would be cut is left out (the palette and Help list them all)."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self._room = 0  # the width the keys were chosen for

    def compose(self) -> ComposeResult:
        room = self._room = self.app.size.width
        for key in super().compose():
            if not isinstance(key, FooterKey):
                yield key
            elif (width := key_width(key)) <= room:
                room -= width
                yield key

    def on_resize(self, event: events.Resize) -> None:
        # A layout of the screen resizes the footer too (a log line, a new status): rebuilt at the same width, its
        # keys would cost another layout, and the UI thread's time is training's.
        if self.app.size.width != self._room:
            self.call_after_refresh(self.recompose)
