"""random: weights go at random, the baseline every other criterion has to beat."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunetui.engine.pruning.criterion import Criterion, weight_of

if TYPE_CHECKING:
    from torch import Tensor, nn


class RandomWeights(Criterion):
    name = "random"

    def ranking(self, module: nn.Module) -> Tensor:
        import torch

        return torch.rand_like(weight_of(module).detach())

    def remove(self, module: nn.Module, amount: int, scores: Tensor | None) -> None:
        from torch.nn.utils import prune

        prune.random_unstructured(module, "weight", amount=amount)

    def global_method(self) -> type:
        from torch.nn.utils import prune

        return prune.RandomUnstructured
