"""ln-structured: whole rows (conv filters, linear neurons) of smallest L2 norm go, so the model can be made
physically smaller (`compact`). Never the output layer: removing its rows would delete classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunetui.engine.pruning.criterion import Criterion

if TYPE_CHECKING:
    from torch import Tensor, nn


class LnStructured(Criterion):
    name = "ln-structured"
    structured = True

    def remove(self, module: nn.Module, amount: int, scores: Tensor | None) -> None:
        from torch.nn.utils import prune

        prune.ln_structured(module, "weight", amount=amount, n=2, dim=0)
