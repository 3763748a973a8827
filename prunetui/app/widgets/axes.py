"""Axis ranges and ticks for the plotext charts: evenly spaced labels with one number of decimals (plotext's own
vary theirs and space them unevenly), and a range to sit in for a single value or a flat line."""

from __future__ import annotations

TICKS = 3  # intervals between axis ticks: four labels fit the smallest chart (80x24) on either axis
PERCENT = (0.0, 100.0)  # a percentage's axis stays inside these


def axis_range(
    values: list[float], digits: int, bounds: tuple[float, float] | None = None, min_span: float = 0.0
) -> tuple[float, float]:
    """The values' range, widened to at least one unit of the last decimal per tick so that no two labels read
    the same, and to `min_span` (a sweep of one sparsity: 70 to 90 %), and kept inside `bounds` (a percentage
    never reads -1 or 104)."""
    low, high = min(values), max(values)
    spread = max(TICKS * 10**-digits, min_span) - (high - low)
    if spread > 0:  # a single value or a flat line: give it a range to sit in
        low, high = low - spread / 2, high + spread / 2
    if bounds is not None:
        shift = max(bounds[0] - low, 0.0) - max(high - bounds[1], 0.0)
        low, high = max(low + shift, bounds[0]), min(high + shift, bounds[1])
    return low, high


def even_ticks(low: float, high: float, digits: int, rows: int | None = None) -> tuple[list[float], list[str]]:
    """TICKS + 1 evenly spaced ticks from low to high, placed where their `digits`-decimal labels say. Given the
    `rows` of text the axis spans, the ticks sit on rows, each labelled with the value of its row: plotext puts a
    tick on its nearest row, so four even ticks on 3 or 5 rows labelled rows with values they do not hold (the
    middle of 3 rows read 31.3 on an axis from 9.6 to 42.1, not 25.9)."""
    if rows is None or rows < 2:
        ticks = [round(low + (high - low) * i / TICKS, digits) for i in range(TICKS + 1)]
    else:
        places = sorted({round((rows - 1) * i / TICKS) for i in range(TICKS + 1)})
        ticks = [low + (high - low) * place / (rows - 1) for place in places]
    labels = [f"{tick:.{digits}f}" for tick in ticks]
    kept = [index for index, label in enumerate(labels) if not index or label != labels[index - 1]]  # a narrow range
    return [ticks[index] for index in kept], [labels[index] for index in kept]
