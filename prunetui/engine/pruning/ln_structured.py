"""ln-structured: whole rows (conv filters, linear neurons) of smallest norm go, so the model can be made physically
smaller (`compact`). Never the output layer: removing its rows would delete classes. The norm is L2 by default, or
L1 as Li et al. (2017) rank filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prunetui.engine.pruning.criterion import Criterion
from prunetui.engine.schema import setting

if TYPE_CHECKING:
    from torch import Tensor, nn

NORMS = {"l1": 1, "l2": 2}  # --structured-norm: the p of the p-norm each row is ranked by


@dataclass(frozen=True)
class LnStructuredSettings:
    structured_norm: str = setting(
        "l2", "ln-structured: the norm rows are ranked by (Li et al. 2017: l1)", tuple(NORMS)
    )


class LnStructured(Criterion):
    name = "ln-structured"
    structured = True
    settings = LnStructuredSettings

    def __init__(self, norm: str = "l2") -> None:
        self.norm = norm

    def configured(self, settings: LnStructuredSettings) -> LnStructured:
        return LnStructured(settings.structured_norm)

    def remove(self, module: nn.Module, amount: int, scores: Tensor | None) -> None:
        from torch.nn.utils import prune

        prune.ln_structured(module, "weight", amount=amount, n=NORMS[self.norm], dim=0)
