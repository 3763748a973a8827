"""Asks for the path of a TOML config file to save to or load from."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from prunetui.app.widgets.ordered_input import OrderedInput


class ConfigFileScreen(ModalScreen[Path | None]):
    """Dismisses with the path typed (Enter), or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, path: str) -> None:
        super().__init__()
        self._question = question
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._question, classes="dialog-question")
            yield OrderedInput(self._path, placeholder="path/to/config.toml", id="config-path")
            yield Static("Enter to confirm, Escape to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        self.dismiss(Path(path).expanduser() if path else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
