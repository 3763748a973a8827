"""Asks before quitting while a run is going."""

from __future__ import annotations

from prunetui.app.screens.confirm import ConfirmScreen


class ConfirmQuitScreen(ConfirmScreen):
    """Dismisses with True to stop the run and quit."""

    def __init__(self) -> None:
        super().__init__("A run is going. Stop it and quit?", yes="Stop and quit", no="Keep running")
