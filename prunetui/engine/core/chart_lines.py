"""The points of chart lines, one type for every chart: the app's live run charts, the analyses' results and the
CLI's charts. Plain lists, no imports: the app's run state holds them before the first frame."""

from __future__ import annotations

from typing import NamedTuple


class Series(NamedTuple):
    """The points of one chart line: a run's loss or accuracy over optimizer steps (the app's live charts), a
    method's accuracy over sparsity, a layer's over the amount pruned. The one type of chart line in the CLI and
    the app; a tuple, so `xs, ys = line` reads it."""

    xs: list[float]
    ys: list[float]

    @classmethod
    def empty(cls) -> Series:
        return cls([], [])

    def add(self, x: float, y: float) -> None:
        self.xs.append(x)
        self.ys.append(y)


Lines = dict[str, Series]  # a chart's lines by label
