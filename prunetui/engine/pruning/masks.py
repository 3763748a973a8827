"""A model's pruning masks: which layers carry them, and rewinding the survivors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

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
