"""Pruning with torch.nn.utils.prune: which weights go (criterion), where the budget is set (scope),
and how the target is approached over rounds (schedule).

Amounts are passed to torch as whole counts of weights (or rows) still alive, computed from the
cumulative target, so the final sparsity is the target exactly rather than a product of rounded rates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from prunetui.engine.config import ExperimentConfig, capped_zeros

Layers = list[tuple[str, nn.Module]]
TAYLOR_BATCHES = 8


def prunable_layers(model: nn.Module, config: ExperimentConfig) -> Layers:
    """The layers `config` prunes (see `ExperimentConfig.prunable_layer_names`), with their modules."""
    return [(name, model.get_submodule(name)) for name in config.prunable_layer_names]


def schedule_targets(schedule: str, sparsity: float, rounds: int) -> list[float]:
    """The cumulative sparsity after each round; the last is always the target."""
    if schedule == "one-shot":
        return [sparsity]
    if schedule == "iterative":  # the same fraction of the survivors each round (Frankle & Carbin)
        return [1 - (1 - sparsity) ** (k / rounds) for k in range(1, rounds)] + [sparsity]
    # agp: Zhu & Gupta's cubic ramp, fast at first while there are many redundant weights
    return [sparsity * (1 - (1 - k / rounds) ** 3) for k in range(1, rounds)] + [sparsity]


def round_targets(config: ExperimentConfig) -> list[dict[str, float]]:
    """Per round, the cumulative sparsity of each prunable layer: each layer follows the schedule towards its
    own target (`ExperimentConfig.layer_targets`), so the last round reaches every one of them."""
    per_layer = {
        name: schedule_targets(config.schedule, target, config.rounds_used)
        for name, target in config.layer_targets().items()
    }
    return [{name: targets[k] for name, targets in per_layer.items()} for k in range(config.rounds_used)]


def overall_target(layers: Layers, targets: Mapping[str, float]) -> float:
    """The sparsity over all of `layers` when each is at its target."""
    sizes = {name: module.weight.numel() for name, module in layers}
    return sum(targets[name] * size for name, size in sizes.items()) / sum(sizes.values())


def agp_prune_steps(total_steps: int, rounds: int) -> list[int]:
    """Optimizer steps (0-based, before which to prune) spread evenly so the last prune leaves time to recover."""
    return [total_steps * k // (rounds + 1) for k in range(1, rounds + 1)]


def taylor_scores(model: nn.Module, layers: Layers, batches: list[tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
    """|w * dL/dw| summed over a few batches: the first-order estimate of the loss change if w is removed."""
    scores = {name: torch.zeros_like(module.weight) for name, module in layers}
    model.eval()
    for images, labels in batches:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(images), labels).backward()
        for name, module in layers:
            grad = _weight_param(module).grad
            scores[name] += (module.weight.detach() * grad).abs()
    model.zero_grad(set_to_none=True)
    return scores


def prune_to(
    layers: Layers,
    config: ExperimentConfig,
    targets: Mapping[str, float],
    scores: dict[str, Tensor] | None = None,
) -> None:
    """Prune each of `layers` until the fraction `targets[name]` of its weights is zero; global scope instead
    ranks weights across layers, to the same number of zeros in all.

    `scores` are importance scores (higher = keep) for the taylor criterion; l1 uses |w|.
    """
    if config.structured:
        for name, module in layers:
            rows = module.weight.shape[0]
            alive = _alive_rows(module)
            amount = max(round(targets[name] * rows) - (rows - alive), 0)
            prune.ln_structured(module, "weight", amount=amount, n=2, dim=0)
        return
    to_prune = {name: _pruned_count_to(module, targets[name]) for name, module in layers}
    if config.scope == "global":
        wanted = round(sum(targets[name] * module.weight.numel() for name, module in layers))
        extra = max(wanted - sum(_zeros(module) for _, module in layers), 0)
        if config.max_layer_sparsity >= 1.0:
            prune.global_unstructured(
                [(module, "weight") for _, module in layers],
                pruning_method=prune.RandomUnstructured if config.criterion == "random" else prune.L1Unstructured,
                importance_scores=_score_map(layers, scores),
                amount=extra,
            )
            return
        if scores is None:  # rank by the criterion: magnitude, or random for `random`
            make = torch.rand_like if config.criterion == "random" else torch.abs
            scores = {name: make(module.weight.detach()) for name, module in layers}
        to_prune = _capped_counts(layers, scores, extra, config.max_layer_sparsity)
    method = _layer_method(config.criterion)
    for name, module in layers:
        method(module, to_prune[name], None if scores is None or config.criterion == "random" else scores[name])


def _layer_method(criterion: str) -> Callable[[nn.Module, int, Tensor | None], None]:
    if criterion == "random":
        return lambda module, amount, _scores: prune.random_unstructured(module, "weight", amount=amount)
    return lambda module, amount, scores: prune.l1_unstructured(
        module, "weight", amount=amount, importance_scores=scores
    )


def _score_map(layers: Layers, scores: dict[str, Tensor] | None) -> dict[tuple[nn.Module, str], Tensor] | None:
    return None if scores is None else {(module, "weight"): scores[name] for name, module in layers}


def _capped_counts(layers: Layers, scores: dict[str, Tensor], extra: int, cap: float) -> dict[str, int]:
    """How many weights each layer loses when the `extra` lowest-scored survivors go, no layer past `cap`.

    Walks all surviving weights from the lowest score up, skipping those of a layer that is full.
    """
    values, owners, quotas = [], [], []
    for index, (name, module) in enumerate(layers):
        alive = _mask(module).flatten() != 0
        values.append(scores[name].flatten()[alive].cpu())  # ranked on the CPU, where owners and quotas are
        owners.append(torch.full((int(alive.sum()),), index))
        quotas.append(max(capped_zeros(cap, module.weight.numel()) - _zeros(module), 0))
    owner = torch.cat(owners)[torch.cat(values).argsort(stable=True)]
    rank_in_layer = torch.zeros_like(owner)
    for index in range(len(layers)):
        mine = owner == index
        rank_in_layer[mine] = torch.arange(1, int(mine.sum()) + 1)
    allowed = rank_in_layer <= torch.tensor(quotas)[owner]
    chosen = allowed & (allowed.cumsum(0) <= extra)
    counts = torch.bincount(owner[chosen], minlength=len(layers))
    return {name: int(counts[index]) for index, (name, _) in enumerate(layers)}


def _pruned_count_to(module: nn.Module, target: float) -> int:
    return max(round(target * module.weight.numel()) - _zeros(module), 0)


def _mask(module: nn.Module) -> Tensor:
    return getattr(module, "weight_mask", torch.ones_like(module.weight))


def _zeros(module: nn.Module) -> int:
    return int((_mask(module) == 0).sum())


def _alive_rows(module: nn.Module) -> int:
    return int((_mask(module).flatten(1).sum(1) != 0).sum())


def _weight_param(module: nn.Module) -> nn.Parameter:
    """The trainable tensor behind `weight`: `weight_orig` once the layer carries a pruning mask."""
    return getattr(module, "weight_orig", module.weight)


def rewind(model: nn.Module, initial: dict[str, Tensor]) -> None:
    """Reset every surviving weight (and bias) to its initial value; masks stay as they are."""
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.copy_(initial[name.removesuffix("_orig")])
