"""Picks a preset, a recipe from a paper, to put into the form; shows what the highlighted one is."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from prunetui.describe_paper import preset_text
from prunetui.engine.core.presets import Preset, all_presets


class PresetScreen(ModalScreen[Preset | None]):
    """Dismisses with the preset chosen (Enter), or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "use", "Use", show=False),  # also with the description focused (Tab)
    ]

    def __init__(self) -> None:
        super().__init__()
        self._presets = {preset.name: preset for preset in all_presets()}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog presets"):
            yield Static("Fill the form with a recipe from a paper:", classes="dialog-question")
            yield OptionList(*(Option(name, id=name) for name in self._presets), id="preset-list")
            with VerticalScroll(id="preset-about-scroll"):  # Tab, then arrows or PageDown, reads the rest at 80x24
                yield Static("", id="preset-about")
            hint = "Enter uses it (data dir and device stay), Tab scrolls the text, Esc cancels"
            yield Static(hint, classes="dialog-hint")

    @property
    def highlighted(self) -> Preset | None:
        index = self.query_one(OptionList).highlighted
        return None if index is None else list(self._presets.values())[index]

    def on_option_list_option_highlighted(self) -> None:
        preset = self.highlighted
        if preset is not None:  # plain text: a description may hold [brackets]
            about = Text.assemble(
                (preset.title, "bold"), f"\n{preset.citation}\n\n{preset.description}\n\npaper: ",
                preset_text(preset),
            )  # fmt: skip
            self.query_one("#preset-about", Static).update(about)
            self.query_one("#preset-about-scroll").scroll_home(animate=False)

    def on_option_list_option_selected(self) -> None:
        self.action_use()

    def action_use(self) -> None:
        self.dismiss(self.highlighted)

    def action_cancel(self) -> None:
        self.dismiss(None)
