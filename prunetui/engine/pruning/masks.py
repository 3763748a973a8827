"""A model's pruning masks: which layers carry them, rewinding the survivors, and folding masks into the weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from prunetui.engine.pruning.criterion import Layers

if TYPE_CHECKING:
    from prunetui.engine.config import ExperimentConfig


def prunable_layers(model: nn.Module, config: ExperimentConfig) -> Layers:
    """The layers `config` prunes (see `ExperimentConfig.prunable_layer_names`), with their modules."""
    return [(name, model.get_submodule(name)) for name in config.prunable_layer_names]


def rewind(model: nn.Module, initial: dict[str, Tensor]) -> None:
    """Reset every surviving weight (and bias) to its initial value; masks stay as they are."""
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.copy_(initial[name.removesuffix("_orig")])


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold masks into the weights (prune.remove) so the model is a plain state dict again."""
    for module in model.modules():
        if hasattr(module, "weight_mask"):
            prune.remove(module, "weight")
    return model
