"""taylor: the weights whose removal changes the loss least, to first order, go."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prunetui.engine.pruning.criterion import Batches, Criterion, Layers, Scores, weight_of

if TYPE_CHECKING:
    from torch import Tensor, nn


class Taylor(Criterion):
    name = "taylor"
    batches = 8
    measures = "Taylor importance"

    def scores(self, model: nn.Module, layers: Layers, batches: Batches) -> Scores:
        return taylor_scores(model, layers, batches)


def taylor_scores(model: nn.Module, layers: Layers, batches: Batches) -> dict[str, Tensor]:
    """|w * dL/dw| summed over a few batches: the first-order estimate of the loss change if w is removed."""
    import torch

    scores = {name: torch.zeros_like(weight_of(module)) for name, module in layers}
    model.eval()
    for images, labels in batches:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        for name, module in layers:
            grad = _weight_param(module).grad
            assert grad is not None, f"{name} got no gradient"  # every layer of these models is on the loss's path
            scores[name] += (weight_of(module).detach() * grad).abs()
    model.zero_grad(set_to_none=True)
    return scores


def _weight_param(module: nn.Module) -> Tensor:
    """The trainable tensor behind `weight`: `weight_orig` once the layer carries a pruning mask."""
    return getattr(module, "weight_orig", weight_of(module))
