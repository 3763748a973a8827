"""The networks: parameter counts and layer shapes of the classic LeNets."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from prunetui.engine import ExperimentConfig, Finished, RunStarted
from prunetui.engine.core.config import MODEL_LAYER_WEIGHTS, MODEL_LAYERS
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.models import build_model
from prunetui.engine.pruning.registry import CRITERIA
from tests.engine_helpers import of_type, run

LENET5_SHAPES = {
    "conv1": (6, 1, 5, 5),
    "conv2": (16, 6, 5, 5),
    "fc1": (120, 400),
    "fc2": (84, 120),
    "fc3": (10, 84),
}
LENET300_SHAPES = {"fc1": (300, 784), "fc2": (100, 300), "fc3": (10, 100)}
# Han et al. 2015, Table 3 and Caffe's MNIST example (lenet.prototxt): 431K parameters.
LENET5_CAFFE_SHAPES = {"conv1": (20, 1, 5, 5), "conv2": (50, 20, 5, 5), "fc1": (500, 800), "fc2": (10, 500)}
MODEL_NAMES = ["lenet5", "lenet300", "lenet5-caffe"]


@pytest.mark.parametrize(
    ("name", "parameters", "shapes"),
    [
        ("lenet5", 61_706, LENET5_SHAPES),
        ("lenet300", 266_610, LENET300_SHAPES),
        ("lenet5-caffe", 431_080, LENET5_CAFFE_SHAPES),
    ],
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


def _calls(model: nn.Module) -> list[str]:
    """The modules a forward pass runs, in order (a module used twice, as the pool, appears twice)."""
    calls: list[str] = []
    for name, module in model.named_children():
        module.register_forward_hook(lambda *_, name=name: calls.append(name))
    model(torch.zeros(2, 1, 28, 28))
    return calls


@pytest.mark.parametrize(
    ("name", "calls"),
    [
        # Caffe's lenet.prototxt: conv1, pool1, conv2, pool2, ip1, relu1, ip2: one ReLU, none after a convolution
        ("lenet5-caffe", ["conv1", "pool", "conv2", "pool", "fc1", "relu", "fc2"]),
        ("lenet5", ["conv1", "relu", "pool", "conv2", "relu", "pool", "fc1", "relu", "fc2", "relu", "fc3"]),
        ("lenet300", ["fc1", "relu", "fc2", "relu", "fc3"]),
    ],
)
def test_each_lenet_applies_its_layers_and_relus_in_order(name: str, calls: list[str]) -> None:
    model = build_model(name)
    assert _calls(model) == calls
    # and says so to compaction, which folds a removed unit's constant output: relu(bias) only after a ReLU
    assert model.activated_layers == tuple(call for call, after in itertools.pairwise(calls) if after == "relu")


def test_lenet5_caffe_passes_negative_convolution_outputs_on_unclipped() -> None:
    model = build_model("lenet5-caffe")
    with torch.no_grad():
        for conv in (model.conv1, model.conv2):
            conv.weight.zero_()
            conv.bias.fill_(-1.0)
        features = model.pool(model.conv2(model.pool(model.conv1(torch.rand(1, 1, 28, 28)))))
    assert features.shape == (1, 50, 4, 4) and bool((features == -1.0).all())  # a ReLU would have made them 0
    assert len([m for m in model.modules() if isinstance(m, nn.ReLU)]) == 1


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_models_map_a_batch_of_images_to_ten_logits(name: str) -> None:
    assert tuple(build_model(name)(torch.zeros(3, 1, 28, 28)).shape) == (3, 10)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_configs_layer_names_and_sizes_are_the_models_weight_layers_in_order(name: str) -> None:
    layers = weight_layers(build_model(name))
    assert tuple(layer for layer, _ in layers) == MODEL_LAYERS[name]
    assert [(layer, module.weight.numel()) for layer, module in layers] == list(MODEL_LAYER_WEIGHTS[name].items())


@pytest.mark.parametrize("criterion", sorted(CRITERIA))
def test_lenet5_caffe_trains_and_prunes_with_every_criterion(criterion: str, tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(model="lenet5-caffe", criterion=criterion, sparsity=0.5)
    events, experiment = run(config)
    (started,) = of_type(events, RunStarted)
    structured = CRITERIA[criterion].structured
    prunable = ("conv1", "conv2", "fc1") if structured else ("conv1", "conv2", "fc1", "fc2")  # not the output's units
    assert started.parameters == 431_080 and started.layers == prunable
    summary = of_type(events, Finished)[0].summary
    assert experiment.model is not None
    zeros = {name: int((module.weight == 0).sum()) for name, module in weight_layers(experiment.model)}
    reported = {layer.name: layer.zeros for layer in summary.sparsity.layers}
    if structured:  # the next layer's inputs from removed units count as pruned too
        assert all(reported[name] >= zeros[name] for name in zeros) and summary.sparsity.global_sparsity > 0.5
    else:
        assert reported == zeros and summary.sparsity.global_sparsity == pytest.approx(0.5, abs=0.001)
