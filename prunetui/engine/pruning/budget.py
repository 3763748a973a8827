"""Budgets counted in whole weights, shared by the config's checks (without torch) and `allocation`."""

from __future__ import annotations

import math


def capped_zeros(cap: float, weights: int) -> int:
    """The most zeros a layer of `weights` weights may hold under a sparsity cap (0.29 * 100 is 28.999…: 29)."""
    return math.floor(cap * weights + 1e-9)
