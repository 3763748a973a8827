"""Asks before quitting while a run, a sweep or a sensitivity analysis is going."""

from __future__ import annotations

from prunetui.app.screens.confirm import ConfirmScreen


def listed(words: list[str]) -> str:
    """ "a run", "a run and a sweep", "a run, a sweep and a sensitivity analysis"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


class ConfirmQuitScreen(ConfirmScreen):
    """Dismisses with True to stop each and quit."""

    def __init__(self, going: list[str]) -> None:
        """`going`: what runs now, in words ("a run", "a sweep")."""
        question = (
            f"{listed(going).capitalize()} {'is' if len(going) == 1 else 'are'} going. Stop "
            f"{'it' if len(going) == 1 else 'each'} and quit? What finished is kept."
        )
        super().__init__(question, yes="Stop and quit", no="Keep running")
