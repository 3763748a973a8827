"""The console the commands print to, and small wording helpers for their output."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

# Through a pipe a table takes its natural width, however wide: each row stays one whole line.
PIPE_WIDTH = 10_000


def make_console(*, stderr: bool = False) -> Console:
    """A terminal wraps lines at word boundaries. A pipe or a file gets each line whole: Rich would otherwise
    wrap it at 80 columns (or $COLUMNS), cutting phrases (`423 \\nimg/s`) and table rows that scripts then cannot
    match."""
    console = Console(highlight=False, stderr=stderr)
    if console.is_terminal:
        return console
    return Console(highlight=False, stderr=stderr, soft_wrap=True, width=PIPE_WIDTH)


def and_list(words: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or 'a, b or c')."""
    return f" {conjunction} ".join(filter(None, (", ".join(words[:-1]), words[-1]))) if words else ""
