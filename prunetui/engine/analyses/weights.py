"""A saved run's weights as numpy arrays, for pictures: each layer before pruning and after.

    layers = run_weights(run_dir)    # [LayerWeights("conv1", dense, pruned), ...] in forward order

`dense` comes from dense.pt (the trained model just before its first prune), `pruned` from model.pt (masks
folded in, so pruned entries are exactly zero). A run that never pruned has no dense.pt: both are model.pt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.pruning.criterion import weight_of
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.runs import DENSE_MODEL_FILE, MODEL_FILE


@dataclass(frozen=True, slots=True)
class LayerWeights:
    name: str
    dense: np.ndarray  # before the first prune, float32, the layer's weight shape
    pruned: np.ndarray  # after pruning; pruned entries are 0

    @property
    def kept(self) -> np.ndarray:
        """True where the weight survived pruning."""
        return self.pruned != 0


def run_weights(run_dir: str | Path) -> list[LayerWeights]:
    """Every conv and linear layer's weights of a saved run, before and after pruning."""
    run_dir = Path(run_dir)
    if not (run_dir / MODEL_FILE).is_file():
        raise PrunetuiError(f"run {run_dir.name} has no {MODEL_FILE}: it ended before its model was saved")
    pruned = load_model(run_dir / MODEL_FILE)
    dense = load_model(run_dir / DENSE_MODEL_FILE) if (run_dir / DENSE_MODEL_FILE).is_file() else pruned
    before = dict(weight_layers(dense))
    return [
        LayerWeights(name, _array(weight_of(before[name])), _array(weight_of(module)))
        for name, module in weight_layers(pruned)
        if name in before and weight_of(before[name]).shape == weight_of(module).shape
    ]


def _array(weight: torch.Tensor) -> np.ndarray:
    return weight.detach().cpu().float().numpy().copy()
