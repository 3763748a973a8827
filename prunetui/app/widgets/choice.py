"""A one-line choice among a few values: one widget until its list is first opened.

Textual's Select is six widgets and an option list from the start, and the form has seven of them: a third of the
app's time to its first frame. A Choice draws its current label itself and builds its list the first time it opens.
Keys as with a Select: enter or space opens the list (up/down, enter picks, escape closes); left and right step
through the choices without opening it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import OptionList


class ChoiceList(OptionList):
    """The open list; it closes when it loses focus or on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close", show=False)]

    def action_close(self) -> None:
        self.parent_choice.close(refocus=True)

    def on_blur(self) -> None:
        self.parent_choice.close(refocus=False)

    @property
    def parent_choice(self) -> Choice:
        assert isinstance(self.parent, Choice)
        return self.parent


class Choice(Widget, can_focus=True):
    """`value` is one of the values of `options`, (label, value) pairs; setting it posts `Changed`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "open", "Choose", show=False),
        Binding("right", "step(1)", "Next", show=False),
        Binding("left", "step(-1)", "Previous", show=False),
    ]

    value: reactive[str] = reactive("", init=False)

    class Changed(Message):
        """The value changed, by key, click or code (as Select.Changed)."""

        def __init__(self, choice: Choice, value: str) -> None:
            super().__init__()
            self.choice = choice
            self.value = value

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(self, options: list[tuple[str, str]], value: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._options = options
        self.set_reactive(Choice.value, value)

    @property
    def options(self) -> list[tuple[str, str]]:
        return list(self._options)

    def set_options(self, options: list[tuple[str, str]]) -> None:
        """New labels (or values); the value stays if it is still among them, else the first is chosen."""
        self._options = options
        if self.query(ChoiceList):
            self._fill(self.query_one(ChoiceList))
        values = [value for _, value in options]
        if self.value not in values:
            self.value = values[0]
        self.refresh()

    def validate_value(self, value: str) -> str:
        if value not in (choice for _, choice in self._options):
            raise ValueError(f"{value!r} is not among the choices of {self.id}")
        return value

    def watch_value(self, value: str) -> None:
        self.post_message(self.Changed(self, value))

    def render(self) -> Text:
        label = Text(next(label for label, value in self._options if value == self.value), no_wrap=True, end="")
        label.truncate(max(self.content_size.width - 2, 1), overflow="ellipsis", pad=True)  # the arrow stays
        return label.append(" ▼", "dim")

    def action_step(self, by: int) -> None:
        values = [value for _, value in self._options]
        self.value = values[(values.index(self.value) + by) % len(values)]

    def action_open(self) -> None:
        lists = self.query(ChoiceList)
        if lists:
            choices = lists.first()
        else:
            choices = ChoiceList()
            self._fill(choices)
            self.mount(choices)
        choices.highlighted = [value for _, value in self._options].index(self.value)
        self.add_class("-open")
        choices.focus(scroll_visible=False)

    def close(self, *, refocus: bool) -> None:
        self.remove_class("-open")
        if refocus:
            self.focus(scroll_visible=False)

    def _fill(self, choices: ChoiceList) -> None:
        choices.set_options(label for label, _ in self._options)

    async def _on_click(self, event: events.Click) -> None:
        if not self.has_class("-open"):
            self.action_open()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.value = self._options[event.option_index][1]
        self.close(refocus=True)

    @on(OptionList.OptionHighlighted)
    def _moved(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()  # the list's own business: the form hears of a choice only when it is made
