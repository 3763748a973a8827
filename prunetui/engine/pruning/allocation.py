"""Where the zeros go: each layer to its own target, or the lowest-ranked weights across all layers (global), with
an optional cap per layer.

Amounts are passed to torch as whole counts of weights (or rows) still alive, computed from the cumulative target,
so the final sparsity is the target exactly rather than a product of rounded rates.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from prunetui.engine.pruning.budget import capped_zeros
from prunetui.engine.pruning.criterion import Criterion, Layers, Scores, weight_of


def prune_to(
    layers: Layers,
    criterion: Criterion,
    targets: Mapping[str, float],
    scores: Scores | None = None,
    global_cap: float | None = None,
) -> None:
    """Prune each of `layers` until the fraction `targets[name]` of its weights is zero; with a `global_cap`,
    rank weights across layers instead, to the same number of zeros in all, no layer beyond the cap.

    `scores` are the criterion's measured importance (higher = keep), when it measures any.
    """
    if criterion.structured:
        for name, module in layers:
            rows = weight_of(module).shape[0]
            amount = max(round(targets[name] * rows) - (rows - _alive_rows(module)), 0)
            criterion.remove(module, amount, None if scores is None else scores[name])
        return
    to_prune = {name: _pruned_count_to(module, targets[name]) for name, module in layers}
    if global_cap is not None:
        wanted = round(sum(targets[name] * weight_of(module).numel() for name, module in layers))
        extra = max(wanted - sum(_zeros(module) for _, module in layers), 0)
        if global_cap >= 1.0:
            prune.global_unstructured(
                [(module, "weight") for _, module in layers],
                pruning_method=criterion.global_method(),
                importance_scores=None if scores is None else {(m, "weight"): scores[name] for name, m in layers},
                amount=extra,
            )
            return
        ranking = scores if scores is not None else {name: criterion.ranking(module) for name, module in layers}
        to_prune = _capped_counts(layers, ranking, extra, global_cap)
    for name, module in layers:
        criterion.remove(module, to_prune[name], None if scores is None else scores[name])


def _capped_counts(layers: Layers, scores: Scores, extra: int, cap: float) -> dict[str, int]:
    """How many weights each layer loses when the `extra` lowest-scored survivors go, no layer past `cap`.

    Walks all surviving weights from the lowest score up, skipping those of a layer that is full.
    """
    values, owners, quotas = [], [], []
    for index, (name, module) in enumerate(layers):
        alive = _mask(module).flatten() != 0
        values.append(scores[name].flatten()[alive].cpu())  # ranked on the CPU, where owners and quotas are
        owners.append(torch.full((int(alive.sum()),), index))
        quotas.append(max(capped_zeros(cap, weight_of(module).numel()) - _zeros(module), 0))
    owner = torch.cat(owners)[torch.cat(values).argsort(stable=True)]
    rank_in_layer = torch.zeros_like(owner)
    for index in range(len(layers)):
        mine = owner == index
        rank_in_layer[mine] = torch.arange(1, int(mine.sum()) + 1)
    allowed = rank_in_layer <= torch.tensor(quotas)[owner]
    chosen = allowed & (allowed.cumsum(0) <= extra)
    counts = torch.bincount(owner[chosen], minlength=len(layers))
    return {name: int(counts[index]) for index, (name, _) in enumerate(layers)}


def overall_target(layers: Layers, targets: Mapping[str, float]) -> float:
    """The sparsity over all of `layers` when each is at its target."""
    sizes = {name: weight_of(module).numel() for name, module in layers}
    return sum(targets[name] * size for name, size in sizes.items()) / sum(sizes.values())


def _pruned_count_to(module: nn.Module, target: float) -> int:
    return max(round(target * weight_of(module).numel()) - _zeros(module), 0)


def _mask(module: nn.Module) -> Tensor:
    return getattr(module, "weight_mask", torch.ones_like(weight_of(module)))


def _zeros(module: nn.Module) -> int:
    return int((_mask(module) == 0).sum())


def _alive_rows(module: nn.Module) -> int:
    return int((_mask(module).flatten(1).sum(1) != 0).sum())
