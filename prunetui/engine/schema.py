"""What a setting is: its default, help text, allowed choices or interval, what an empty value means, and its roles
in the analyses. The config's own settings and each criterion's and schedule's settings (a small dataclass beside
the strategy's class) are made of these fields, and the config schema composes them, so the CLI flags, the TOML
keys, the app's form and the help come from where a setting lives. Plain Python: the lowest layer of the engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Interval:
    """The values a number setting may take; each end included unless marked open."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below  # False for NaN

    def __str__(self) -> str:
        if isinstance(self.low, int) and isinstance(self.high, int):
            return f"between {self.low:,} and {self.high:,}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


FRACTION = Interval(0.0, 1.0, high_open=True)
STEPS = Interval(0, 1_000_000_000)  # a count of optimizer steps


# What a setting is to the analyses, which use some settings differently from a single run:
# "place" says where, not what (a sweep may resume with it changed); "point" is set per sweep point (the method and
# its target); "plan" says how far and in which rounds to prune (a sensitivity analysis, which prunes each layer once
# to amounts of its own without fine-tuning, has no use for it).
Role = Literal["place", "point", "plan"]


def setting(
    default: Any,
    help: str,
    choices: Collection[str] = (),
    empty: str = "",
    interval: Interval | None = None,
    roles: tuple[Role, ...] = (),
) -> Any:
    """A field with its help text, its allowed choices or interval, for text what an empty value means, and its
    roles in the analyses."""
    metadata = {"help": help, "choices": choices, "empty": empty, "interval": interval, "roles": roles}
    return field(default=default, metadata=metadata)


def setting_names(settings: type | None) -> tuple[str, ...]:
    """The names of the settings in a strategy's settings dataclass (none for None)."""
    return tuple(f.name for f in dataclasses.fields(settings)) if settings else ()
