"""The interface every pruning criterion implements: how it ranks weights, and how torch removes the lowest-ranked.

Torch is imported inside the methods, so that the registry (and the config schema built on it) loads without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import Tensor, nn

# Named layers (a model's submodules), batches of (images, labels), and a score per weight of each named layer.
Layers = list[tuple[str, "nn.Module"]]
Batches = list[tuple["Tensor", "Tensor"]]
Scores = dict[str, "Tensor"]


def weight_of(module: nn.Module) -> Tensor:
    """The layer's `weight`: a parameter, or once masked the product pruning's hook sets. Torch types a module's
    attributes as `Tensor | Module`; this says which, once, for the type checker."""
    import torch

    weight = module.weight
    assert isinstance(weight, torch.Tensor), f"{type(module).__name__}.weight is not a tensor"
    return weight


class Criterion:
    """Decides which weights go. The budget (how many per layer) is `allocation`'s."""

    name: ClassVar[str]  # the value of --criterion
    structured: ClassVar[bool] = False  # removes whole rows (conv filters, linear neurons), layer by layer
    # Training batches its scores are measured on (0: none needed), and what it measures on them for the progress
    # message; a configured criterion may set its own.
    batches: int = 0
    measures: str = ""
    # Its own settings, which only this criterion reads: a frozen dataclass of `schema.setting` fields, which the
    # config schema composes (flags, TOML keys, the form); `configured` gets their values.
    settings: ClassVar[type | None] = None

    @property
    def needs_batches(self) -> bool:
        return self.batches > 0

    def configured(self, settings: Any) -> Criterion:
        """This criterion with its own settings' values (an instance of `settings`; it never reads the config)."""
        return self

    def scores(self, model: nn.Module, layers: Layers, batches: Batches) -> Scores | None:
        """Each weight's importance (higher = kept), measured on `batches`; None when `remove` ranks the weights
        as they are."""
        return None

    def ranking(self, module: nn.Module) -> Tensor:
        """A score per weight when no `scores` were measured, to rank weights across layers under a cap."""
        return weight_of(module).detach().abs()

    def remove(self, module: nn.Module, amount: int, scores: Tensor | None) -> None:
        """Prune the `amount` lowest-ranked of the module's surviving weights (rows, when structured)."""
        from torch.nn.utils import prune

        prune.l1_unstructured(module, "weight", amount=amount, importance_scores=scores)

    def global_method(self) -> type:
        """torch's method for ranking all layers' weights together (`prune.global_unstructured`); unstructured
        criteria only, as global scope is."""
        from torch.nn.utils import prune

        return prune.L1Unstructured
