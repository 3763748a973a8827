"""ln-structured: whole rows (conv filters, linear neurons) go, so the model can be made physically smaller
(`compact`). Never the output layer: removing its rows would delete classes.

What ranks the rows (`--structured-importance`): their weights' norm (L2 by default, or L1 as Li et al. (2017) rank
filters), the first-order Taylor estimate of the loss change |w * dL/dw| (Molchanov et al. 2019), or chance. On
networks other than the LeNets these are Torch-Pruning's group importances (`structural.py`), summed over every
layer a channel's group ties together; on the LeNets each layer's own rows are ranked, as they always were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prunetui.engine.pruning.criterion import Batches, Criterion, Layers, Scores, weight_of
from prunetui.engine.pruning.taylor import Taylor, taylor_scores
from prunetui.engine.schema import setting

if TYPE_CHECKING:
    from torch import Tensor, nn

NORMS = {"l1": 1, "l2": 2}  # --structured-norm: the p of the p-norm each row is ranked by
IMPORTANCES = ("magnitude", "taylor", "random")  # --structured-importance
AS_IT_IS = ("magnitude", "random")  # those that rank a model as it stands, measuring no gradients (sensitivity)


@dataclass(frozen=True)
class LnStructuredSettings:
    structured_norm: str = setting(
        "l2", "ln-structured: the norm rows are ranked by (Li et al. 2017: l1)", tuple(NORMS)
    )
    structured_importance: str = setting(
        "magnitude",
        "ln-structured: rows ranked by their weights' norm, by Taylor importance |w·dL/dw| on 8 batches, or at random",
        IMPORTANCES,
    )


class LnStructured(Criterion):
    name = "ln-structured"
    structured = True
    settings = LnStructuredSettings

    def __init__(self, norm: str = "l2", importance: str = "magnitude") -> None:
        self.norm = norm
        self.importance = importance
        if importance == "taylor":  # gradients of a few training batches
            self.batches, self.measures = Taylor.batches, Taylor.measures

    def configured(self, settings: LnStructuredSettings) -> LnStructured:
        return LnStructured(settings.structured_norm, settings.structured_importance)

    @property
    def group_importance(self) -> str:
        """The name of Torch-Pruning's importance for this ranking (`structural.IMPORTANCES`)."""
        return self.norm if self.importance == "magnitude" else self.importance

    def scores(self, model: nn.Module, layers: Layers, batches: Batches) -> Scores | None:
        """A score per weight whose rows' L1 norm ranks the rows (LeNets): |w * dL/dw|, or one draw per row."""
        import torch

        if self.importance == "taylor":
            return taylor_scores(model, layers, batches)
        if self.importance == "random":
            weights = {name: weight_of(module) for name, module in layers}
            return {
                name: torch.rand(len(w), *[1] * (w.dim() - 1), device=w.device).expand(w.shape)
                for name, w in weights.items()
            }
        return None

    def remove(self, module: nn.Module, amount: int, scores: Tensor | None) -> None:
        from torch.nn.utils import prune

        norm = NORMS[self.norm] if scores is None else 1  # a measured score is summed over the row
        prune.ln_structured(module, "weight", amount=amount, n=norm, dim=0, importance_scores=scores)
