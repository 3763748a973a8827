"""l1: the weights of smallest magnitude go."""

from __future__ import annotations

from prunetui.engine.pruning.criterion import Criterion


class L1(Criterion):
    name = "l1"  # the base class ranks by |w|
