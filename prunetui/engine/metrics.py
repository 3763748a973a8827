"""Sparsity counted from the effective weights (after the mask), never from `weight_orig`."""

from __future__ import annotations

import torch
from torch import nn

from prunetui.engine.events import LayerSparsity, SparsityReport


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv and linear layers in forward order: the layers that have prunable weights."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


@torch.no_grad()
def sparsity_report(model: nn.Module, prunable: set[str]) -> SparsityReport:
    layers = tuple(
        LayerSparsity(name, int((m.weight == 0).sum()), m.weight.numel(), name in prunable)
        for name, m in weight_layers(model)
    )
    # `parameters()` holds weight_orig for pruned layers, so count the effective tensors instead.
    nonzero = total = 0
    for _, module in weight_layers(model):
        for tensor in (module.weight, module.bias):
            if tensor is not None:
                nonzero += int(tensor.count_nonzero())
                total += tensor.numel()
    return SparsityReport(layers, nonzero, total)
