"""The networks: parameter counts and layer shapes of the classic LeNets."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from prunetui.engine.core.config import MODEL_LAYER_WEIGHTS, MODEL_LAYERS
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.models import build_model

LENET5_SHAPES = {
    "conv1": (6, 1, 5, 5),
    "conv2": (16, 6, 5, 5),
    "fc1": (120, 400),
    "fc2": (84, 120),
    "fc3": (10, 84),
}
LENET300_SHAPES = {"fc1": (300, 784), "fc2": (100, 300), "fc3": (10, 100)}


@pytest.mark.parametrize(
    ("name", "parameters", "shapes"),
    [("lenet5", 61_706, LENET5_SHAPES), ("lenet300", 266_610, LENET300_SHAPES)],
)
def test_parameter_count_and_weight_shapes(name: str, parameters: int, shapes: dict[str, tuple[int, ...]]) -> None:
    model = build_model(name)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert {layer: tuple(m.weight.shape) for layer, m in weight_layers(model)} == shapes
    assert list(dict(weight_layers(model))) == list(shapes)  # forward order: the output layer is last


def test_lenet5_keeps_28x28_geometry_with_padded_conv1() -> None:
    model = build_model("lenet5")
    assert isinstance(model.conv1, nn.Conv2d)
    assert model.conv1.padding == (2, 2)
    assert model.conv2.padding == (0, 0)
    # 28x28 -> conv1 (padded) 28x28 -> pool 14x14 -> conv2 10x10 -> pool 5x5: 16*5*5 = 400 features for fc1
    features = model.pool(model.conv2(model.pool(model.conv1(torch.zeros(1, 1, 28, 28)))))
    assert tuple(features.shape) == (1, 16, 5, 5)


@pytest.mark.parametrize("name", ["lenet5", "lenet300"])
def test_models_map_a_batch_of_images_to_ten_logits(name: str) -> None:
    assert tuple(build_model(name)(torch.zeros(3, 1, 28, 28)).shape) == (3, 10)


@pytest.mark.parametrize("name", ["lenet5", "lenet300"])
def test_the_configs_layer_names_and_sizes_are_the_models_weight_layers_in_order(name: str) -> None:
    layers = weight_layers(build_model(name))
    assert tuple(layer for layer, _ in layers) == MODEL_LAYERS[name]
    assert [(layer, module.weight.numel()) for layer, module in layers] == list(MODEL_LAYER_WEIGHTS[name].items())
