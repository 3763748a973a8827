"""A weight tensor as colored cells: red for positive, blue for negative, brighter for larger |w|, and each
pruned entry a dim `·`, so the pattern of what was cut shows at a glance.

Single-channel convolutions (conv1) are drawn filter by filter as tiles, every entry two cells wide; other
convolutions as filters x input channels, a cell per kernel (`kernel_norms`: its surviving weights' L2 norm, and
how much of it survived); any layer as its (out, in) matrix, shrunk to fit: a cell then stands for a block,
drawn in the color of its largest surviving weight with a glyph as full as the block's share of survivors, and
`·` only when all of it was pruned, so that even a 99 % sparse layer shows where its few weights are.
"""

from __future__ import annotations

import itertools

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

PRUNED = "·"
KEPT = "█"
PARTLY_KEPT = ("░", "▒", "▓")  # a shrunk block with up to a third, two thirds, or nearly all of it kept
PRUNED_STYLE = Style(color="grey42")
ZERO_RGB = np.array([60, 60, 60])  # a tiny surviving weight: dark, but a block, unlike a pruned entry
POSITIVE_RGB = np.array([235, 70, 55])
NEGATIVE_RGB = np.array([60, 130, 240])
TILE_GAP = 2


def weight_style(value: float, scale: float) -> Style:
    strength = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    rgb = ZERO_RGB + strength * ((POSITIVE_RGB if value >= 0 else NEGATIVE_RGB) - ZERO_RGB)
    return Style(color=Color.from_rgb(*(float(c) for c in rgb)))


def shrink(values: np.ndarray, kept: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D matrix in at most rows by cols blocks: each block's largest surviving weight (by magnitude, with its
    sign) and the fraction of the block that survived."""
    row_edges = np.linspace(0, values.shape[0], min(rows, values.shape[0]) + 1).astype(int)
    col_edges = np.linspace(0, values.shape[1], min(cols, values.shape[1]) + 1).astype(int)
    survivors = np.where(kept, values, 0.0)
    out = np.zeros((len(row_edges) - 1, len(col_edges) - 1))
    share = np.zeros(out.shape)
    for i, (top, bottom) in enumerate(itertools.pairwise(row_edges)):
        for j, (left, right) in enumerate(itertools.pairwise(col_edges)):
            block = survivors[top:bottom, left:right]
            index = np.unravel_index(np.abs(block).argmax(), block.shape)
            out[i, j] = block[index]
            share[i, j] = kept[top:bottom, left:right].mean()
    return out, share


def drawn_as_tiles(weights: np.ndarray) -> bool:
    """Single-channel convolutions are drawn filter by filter, entry by entry; the rest as a shrunk matrix."""
    return weights.ndim == 4 and weights.shape[1] == 1


def drawn_as_kernels(weights: np.ndarray) -> bool:
    """Convolutions of several input channels are drawn as one cell per kernel: filters x inputs."""
    return weights.ndim == 4 and weights.shape[1] > 1


def kernel_norms(weights: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A conv's (out, in, kh, kw) weights as (out, in) matrices: each kernel's L2 norm over its surviving weights,
    and the share of its weights that survived (0: the whole kernel pruned)."""
    survivors = np.where(kept, weights, 0.0)
    return np.sqrt((survivors**2).sum(axis=(2, 3))), kept.mean(axis=(2, 3))


def glyph(share: float) -> str:
    """How full a cell is drawn for the share of its block that survived: PRUNED for none, KEPT for all."""
    if share <= 0.0:
        return PRUNED
    if share >= 1.0:
        return KEPT
    return PARTLY_KEPT[min(int(share * len(PARTLY_KEPT)), len(PARTLY_KEPT) - 1)]


class HeatMap(Widget):
    """`show(weights, kept, scale)`; scale is the |w| drawn at full color (shared by before and after)."""

    DEFAULT_CSS = "HeatMap { height: 1fr; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.weights: np.ndarray | None = None
        self.kept: np.ndarray | None = None
        self.scale = 1.0

    def show(self, weights: np.ndarray, kept: np.ndarray, scale: float) -> None:
        self.weights, self.kept, self.scale = weights, kept, scale
        self.refresh()

    def render(self) -> Text:
        if self.weights is None or self.kept is None:
            return Text("no weights loaded", style="italic")
        width, height = self.size.width, self.size.height
        w, kept = self.weights, self.kept
        if drawn_as_tiles(w):
            return self._tiles(w[:, 0], kept[:, 0], width)
        matrix, alive = w.reshape(w.shape[0], -1), kept.reshape(kept.shape[0], -1)
        cell = 2 if matrix.shape[1] * 2 <= width else 1
        values, shares = shrink(matrix, alive, max(height, 1), max(width // cell, 1))
        text = Text(no_wrap=True, overflow="crop")
        for i, row in enumerate(values):
            for value, share in zip(row, shares[i], strict=True):
                self._cell(text, float(value), float(share), cell)
            text.append("\n")
        text.rstrip()
        return text

    def _tiles(self, filters: np.ndarray, kept: np.ndarray, width: int) -> Text:
        """One kh by kw tile per filter, side by side, wrapping to the width."""
        count, rows, cols = filters.shape
        per_line = max(1, (width + TILE_GAP) // (cols * 2 + TILE_GAP))
        text = Text(no_wrap=True, overflow="crop")
        for first in range(0, count, per_line):
            group = range(first, min(first + per_line, count))
            text.append("  ".join(f"#{k + 1}".ljust(cols * 2) for k in group) + "\n", style="dim")
            for r in range(rows):
                for n, k in enumerate(group):
                    if n:
                        text.append(" " * TILE_GAP)
                    for c in range(cols):
                        self._cell(text, float(filters[k, r, c]), float(kept[k, r, c]), 2)
                text.append("\n")
        text.rstrip()
        return text

    def _cell(self, text: Text, value: float, share: float, width: int) -> None:
        """One entry (share 0 or 1) or one shrunk block."""
        mark = glyph(share)
        if mark == PRUNED:
            text.append(PRUNED.rjust(width), PRUNED_STYLE)
        else:
            text.append(mark * width, weight_style(value, self.scale))
