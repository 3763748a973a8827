"""Sparsity and compression, counted from the effective (masked) weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunetui.describe import compression_text, describe
from prunetui.engine import ExperimentConfig, Finished, LayerSparsity, RunSummary, SparsityReport
from prunetui.engine.core.metrics import sparsity_report, weight_layers
from prunetui.engine.core.models import build_model
from prunetui.engine.storage.export import permanent_state


def toy() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(0.5)
    return model


def test_sparsity_counts_the_masked_weights_not_weight_orig() -> None:
    model = toy()
    mask = torch.ones(3, 4)
    mask[0] = 0  # 4 of 12 weights masked; weight_orig still holds 0.5 there
    prune.custom_from_mask(model[0], "weight", mask)
    with torch.no_grad():
        model[2].bias[0] = 0.0  # a zero bias counts as a zero parameter, not as a zero weight
    report = sparsity_report(model, {"0"})
    assert report.layers == (LayerSparsity("0", 4, 12, True), LayerSparsity("2", 0, 6, False))
    assert report.global_sparsity == pytest.approx(4 / 12)  # over prunable layers only
    assert (report.total_parameters, report.nonzero_parameters) == (12 + 3 + 6 + 2, 23 - 4 - 1)
    assert report.compression == pytest.approx(23 / 18)
    assert int((model[0].weight_orig == 0).sum()) == 0  # the mask, not the stored tensor, made the zeros


def test_all_parameters_are_the_networks_parameter_count_norm_layers_included() -> None:
    """resnet20's 784 batch-norm channels hold 1,568 parameters that no weight layer owns; 'all parameters' (and
    the compression over them) counts them, as the run's header and the cost line do."""
    from prunetui.engine.core.networks.registry import resolve
    from prunetui.engine.core.networks.spec import InputShape

    model = resolve("resnet20", {}, None).build(InputShape(3, 32, 10))
    parameters = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.bias.fill_(0.1)  # trained: no longer zero
    prune.l1_unstructured(model.conv1, "weight", amount=0.5)  # 216 of its 432 weights
    report = sparsity_report(model, {"conv1"})
    assert report.total_parameters == parameters == 272_474 == report.total_weights + 10 + 1_568  # fc's biases, norms
    assert report.nonzero_parameters == 272_474 - 216
    # Structural pruning masks a removed channel's norm too: counted as it computes, not as `weight_orig` holds it.
    prune.custom_from_mask(model.bn1, "weight", torch.arange(16) < 8)
    prune.custom_from_mask(model.bn1, "bias", torch.arange(16) < 8)
    assert sparsity_report(model, {"conv1"}).nonzero_parameters == 272_474 - 216 - 16


def test_global_sparsity_weights_layers_by_their_size() -> None:
    report = SparsityReport(
        (LayerSparsity("a", 90, 100), LayerSparsity("b", 0, 900), LayerSparsity("out", 5, 10, prunable=False)),
        nonzero_parameters=915,
        total_parameters=1010,
    )
    assert report.global_sparsity == pytest.approx(90 / 1000)
    assert report.layer("out").sparsity == 0.5 and report.layer("a").nonzero == 10
    assert report.compression == pytest.approx(1010 / 915)


def test_dense_model_compression_is_one_and_an_all_zero_one_does_not_divide_by_zero() -> None:
    model = build_model("lenet300")
    report = sparsity_report(model, {name for name, _ in weight_layers(model)})
    assert (report.global_sparsity, report.compression) == (0.0, 1.0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    zero = sparsity_report(model, set())
    assert zero.compression == 266_610 and zero.global_sparsity == 0.0  # no prunable layers: nothing to count
    assert LayerSparsity("empty", 0, 0).sparsity == 0.0


def test_the_permanent_state_is_what_prune_remove_leaves_with_the_same_sparsity() -> None:
    model = build_model("lenet5")
    layers = weight_layers(model)
    for _, module in layers:
        prune.l1_unstructured(module, "weight", amount=0.75)
    before = sparsity_report(model, {name for name, _ in layers})
    state = permanent_state(model)
    for _, module in layers:
        prune.remove(module, "weight")
    assert state.keys() == model.state_dict().keys() == build_model("lenet5").state_dict().keys()
    assert all(torch.equal(state[name], tensor) for name, tensor in model.state_dict().items())
    assert sparsity_report(model, {name for name, _ in layers}) == before
    assert before.global_sparsity == pytest.approx(0.75, abs=1e-4)


def test_compression_counts_weights_and_all_parameters_apart_as_han_et_al_count_weights() -> None:
    """Han et al. 2015 prune Caffe's LeNet-5 to conv1 66 %, conv2 12 %, fc1 8 %, fc2 19 % of its weights:
    431K → 36K weights, 12 times fewer. Counting its 580 biases too, all of them kept, gives 11.7."""
    model = build_model("lenet5-caffe")
    kept = {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19}
    with torch.no_grad():
        for name, module in weight_layers(model):
            flat = module.weight.view(-1)
            flat[round(flat.numel() * kept[name]) :] = 0.0
    report = sparsity_report(model, set(kept))
    assert (report.nonzero_weights, report.total_weights) == (330 + 3_000 + 32_000 + 950, 430_500)
    assert (report.nonzero_parameters, report.total_parameters) == (36_280 + 580, 431_080)
    assert report.weight_compression == pytest.approx(430_500 / 36_280)  # 11.87: the paper's 12
    assert report.compression == pytest.approx(431_080 / 36_860)  # 11.69
    assert round(report.weight_compression) == 12 and round(report.compression, 1) == 11.7
    # and the words for it say both, weights first, as in every place that shows a compression
    summary = RunSummary(ExperimentConfig(model="lenet5-caffe"), "cpu", True, 0.99, 0.1, 0.99, 0.1, report, 1.0, 1.0)
    assert "(compression 11.9× weights, 11.7× all parameters)" in str(describe(Finished(summary)))
    assert compression_text(report) == (
        "36,280 of 430,500 weights non-zero (11.9×) · all parameters, biases included: 36,860 of 431,080 (11.7×)"
    )
