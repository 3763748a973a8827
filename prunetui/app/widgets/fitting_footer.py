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
        self._composed: tuple[object, ...] | None = None  # what they were composed from (`_keys_from`)

    def _keys_from(self) -> tuple[object, ...]:
        """What the keys depend on: the width and the bindings shown, each with whether it is enabled."""
        if not self._bindings_ready:
            return ()
        shown = [(binding, enabled, tooltip) for _, binding, enabled, tooltip in self.screen.active_bindings.values()]
        return (self.app.size.width, *(key for key in shown if key[0].show))

    async def recompose(self) -> None:
        # Textual's footer asks for a build after the next refresh: by then a screen closed (Runs after `o`) has
        # taken its footer away, and one without a screen has no bindings (as Textual's own recompose, skip it).
        if not self.is_attached:
            return
        # The screen's bindings are said to change on every focus change and check, mostly to the same keys: built
        # again, the keys would be restyled and the screen laid out anew: 3 builds as the app opens, 1 this way.
        if self._keys_from() != self._composed:
            await super().recompose()

    def compose(self) -> ComposeResult:
        self._composed = self._keys_from()
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
