"""What the Runs, Sweep, Sensitivity and Weights screens share: F3-F6 go from one to another (as with Escape, a
sweep or sensitivity analysis of the one left goes on), and F1 explains the screen in front with its own keys."""

from __future__ import annotations

import sys
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

TOOLS = {"runs": "F3", "sweep": "F4", "sensitivity": "F5", "weights": "F6"}


class ToolScreen(Screen[None]):
    TOOL: ClassVar[str]  # its key in TOOLS
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key.lower(), f"switch('{tool}')", tool.capitalize(), show=False) for tool, key in TOOLS.items()),
        Binding("f1", "help", "Help", tooltip="What this screen does and its keys"),
        Binding("escape", "back", "Back", tooltip="Back to the experiment"),
    ]

    def action_back(self) -> None:
        self.dismiss()

    def action_switch(self, tool: str) -> None:
        if tool != self.TOOL:
            app = self.app
            self.action_back()
            app.call_later(app.action_open, tool)  # type: ignore[attr-defined]

    def action_help(self) -> None:
        from prunetui.app.screens.help import HelpScreen

        own = [cls.__dict__.get("BINDINGS", []) for cls in type(self).__mro__ if issubclass(cls, ToolScreen)]
        keys = [binding for bindings in reversed(own) for binding in bindings if isinstance(binding, Binding)]
        keys = [binding for binding in keys if binding.show and self.check_action(binding.action, ()) is not False]
        self.app.push_screen(HelpScreen(sys.modules[type(self).__module__].__doc__ or "", keys))
