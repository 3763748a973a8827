"""Rewinding: the survivors of pruning go back to their initial values, masks stay."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def rewind(model: nn.Module, initial: dict[str, Tensor]) -> None:
    """Reset every surviving weight (and bias) to its initial value; masks stay as they are."""
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.copy_(initial[name.removesuffix("_orig")])
