"""The console the commands print to, and small wording helpers for their output."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console


def make_console() -> Console:
    """A terminal wraps lines at word boundaries. A pipe or a file gets each line whole: Rich would otherwise
    wrap it at 80 columns, cutting phrases (`423 \\nimg/s`) that scripts then cannot match."""
    console = Console(highlight=False)
    console.soft_wrap = not console.is_terminal
    return console


def and_list(words: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or 'a, b or c')."""
    return f" {conjunction} ".join(filter(None, (", ".join(words[:-1]), words[-1]))) if words else ""
