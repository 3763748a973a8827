"""Rewinding: the survivors of pruning go back to earlier (or, for the reinit control, fresh) values, masks stay."""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Reinit's weights come from a generator of their own, seeded seed + REINIT_SEED_OFFSET * round: fresh in every
# round, never the run's initial draw, and the same for the same seed.
REINIT_SEED_OFFSET = 1_000_003


def rewind(model: nn.Module, weights: dict[str, Tensor]) -> None:
    """Set every surviving weight (and bias) to its value in `weights`; masks stay as they are."""
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            tensor.copy_(weights[name.removesuffix("_orig")])


def reinit_seed(seed: int, round_: int) -> int:
    """The seed of round `round_`'s fresh weights under reinit (torch seeds are 64-bit)."""
    return (seed + REINIT_SEED_OFFSET * round_) % 2**64


def weights_of(model: nn.Module) -> dict[str, Tensor]:
    """A copy of the model's parameters, as `rewind` takes them (by their names before pruning)."""
    return {name.removesuffix("_orig"): tensor.detach().clone() for name, tensor in model.named_parameters()}
