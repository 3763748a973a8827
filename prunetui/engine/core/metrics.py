"""Sparsity counted from the effective weights (after the mask), never from `weight_orig`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from prunetui.engine.core.events import LayerSparsity, SparsityReport

WeightLayer = nn.Conv2d | nn.Linear


def weight_layers(model: nn.Module) -> list[tuple[str, WeightLayer]]:
    """Conv and linear layers in forward order: the layers that have prunable weights."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, WeightLayer)]


@torch.no_grad()
def sparsity_report(model: nn.Module, prunable: set[str], *, structured: bool = False) -> SparsityReport:
    """Zeros per weight layer and non-zero parameters overall: every parameter of the model, norm layers' too, so
    the total is the network's parameter count.

    `structured` (whole filters and neurons pruned): a weight fed by a removed unit, and a removed unit's bias,
    count as zero too, since they do nothing a bias cannot (`compact.compact` cuts them out): the counts are
    those of the compacted model.
    """
    layers = weight_layers(model)
    others = _other_parameters(model)
    if structured:
        return _structured_report(layers, prunable, others)
    # `parameters()` holds weight_orig for pruned layers, so count the effective tensors instead; count_nonzero
    # makes no mask of a layer's size (a run out of memory is still counted).
    weights = [(name, int(module.weight.count_nonzero()), module.weight.numel()) for name, module in layers]
    biases = [module.bias for _, module in layers if module.bias is not None]
    report = tuple(LayerSparsity(name, total - kept, total, name in prunable) for name, kept, total in weights)
    nonzero = sum(kept for _, kept, _ in weights) + sum(int(bias.count_nonzero()) for bias in biases)
    total = sum(total for _, _, total in weights) + sum(bias.numel() for bias in biases)
    return SparsityReport(report, nonzero + others[0], total + others[1])


def _other_parameters(model: nn.Module) -> tuple[int, int]:
    """Non-zero and total parameters outside the weight layers (norm layers, a user's own parameters). Pruning
    leaves them dense, except structural pruning, whose group masks zero a removed channel's norm too."""
    tensors = [
        getattr(module, name.removesuffix("_orig"))  # a masked tensor as it computes, not its stored `_orig`
        for module in model.modules()
        if not isinstance(module, WeightLayer)
        for name, _ in module.named_parameters(recurse=False)
    ]
    return sum(int(t.count_nonzero()) for t in tensors), sum(t.numel() for t in tensors)


def _structured_report(
    layers: list[tuple[str, WeightLayer]], prunable: set[str], others: tuple[int, int]
) -> SparsityReport:
    kept = [module.weight != 0 for _, module in layers]
    kept_biases = [module.bias != 0 if module.bias is not None else None for _, module in layers]
    for i in range(len(layers) - 1):
        alive = kept[i].flatten(1).any(1)  # units with a weight left, after their own dead inputs went
        kept[i + 1] = _drop_inputs(kept[i + 1], alive)
        bias = kept_biases[i]
        if bias is not None:
            kept_biases[i] = bias & alive
    report = tuple(
        LayerSparsity(name, int((~mask).sum()), mask.numel(), name in prunable)
        for (name, _), mask in zip(layers, kept, strict=True)
    )
    nonzero = sum(int(mask.sum()) for mask in kept) + sum(int(b.sum()) for b in kept_biases if b is not None)
    total = sum(mask.numel() for mask in kept) + sum(b.numel() for b in kept_biases if b is not None)
    return SparsityReport(report, nonzero + others[0], total + others[1])


def _drop_inputs(kept: Tensor, alive_inputs: Tensor) -> Tensor:
    """`kept` (a layer's non-zero weights) without the inputs fed by dead units of the layer before: a unit
    feeds one input channel of a conv, or a run of consecutive columns of a linear layer after a flatten."""
    grouped = kept.reshape(kept.shape[0], alive_inputs.numel(), -1)
    return (grouped & alive_inputs[None, :, None]).reshape(kept.shape)
