"""Structural pruning through Torch-Pruning: masks over whole channel groups, and a compact model that computes
what the masked one does, for built-in, torchvision and hand-written graphs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from prunetui.engine.core.networks.checks import check_network
from prunetui.engine.core.networks.cost import measure_cost
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.structural import (
    StructuralError,
    apply_masks,
    compact_model,
    plain_copy,
    plan_pruning,
    replay,
)

TOLERANCE = 1e-4

# A user's network with the couplings structural pruning must respect: a residual add, a concatenation, BatchNorm
# and a depthwise conv.
USER_NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, in_channels, num_classes, width):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.depthwise = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.pointwise = nn.Conv2d(width, width, 1)
        self.bn = nn.BatchNorm2d(width)
        self.left = nn.Conv2d(width, width, 3, padding=1)
        self.right = nn.Conv2d(width, width, 1)
        self.head = nn.Conv2d(2 * width, 2 * width, 1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.bn(self.pointwise(self.depthwise(x))) + x)  # residual add
        x = torch.cat([self.left(x), self.right(x)], dim=1)  # concatenation
        x = torch.relu(self.head(x))
        return self.fc(x.mean((2, 3)))


def build(in_channels, num_classes, width=8):
    return Net(in_channels, num_classes, width)
"""


def write_user_net(directory: Path) -> Path:
    path = directory / "net.py"
    path.write_text(USER_NET)
    return path


def masked_and_compact(model: nn.Module, example: torch.Tensor, **options: object) -> tuple[nn.Module, nn.Module]:
    pruning = plan_pruning(model, example, **options)  # type: ignore[arg-type]
    masked = plain_copy(model)
    apply_masks(masked, pruning)
    return masked.eval(), compact_model(masked, example, pruning).eval()


def largest_difference(first: nn.Module, second: nn.Module, images: torch.Tensor) -> float:
    with torch.no_grad():
        return float((first(images) - second(images)).abs().max())


def test_resnet20_to_half_its_channels_has_fewer_macs_and_the_masked_models_outputs() -> None:
    torch.manual_seed(0)
    shape = InputShape(3, 16, 10)
    spec = resolve("resnet20")
    model = spec.build(shape)
    example = spec.example_input(shape)
    masked, compact = masked_and_compact(model, example, output_layer="fc", importance="l1", fraction=0.5)
    images = torch.randn(8, 3, 16, 16)
    assert largest_difference(masked, compact, images) <= TOLERANCE
    dense_cost, compact_cost = measure_cost(model, example), measure_cost(compact, example)
    # Half the channels of every conv: about a quarter of the MACs and parameters (the stem's inputs and the
    # classifier's outputs stay).
    assert compact_cost.macs < 0.3 * dense_cost.macs
    assert compact_cost.parameters < 0.3 * dense_cost.parameters
    assert compact.fc.out_features == 10  # the output layer keeps every class
    assert compact.layer2[0].conv1.out_channels == 16


def test_masks_hold_while_the_masked_model_trains() -> None:
    torch.manual_seed(1)
    shape = InputShape(3, 8, 10)
    spec = resolve("resnet20")
    model = spec.build(shape)
    example = spec.example_input(shape)
    pruning = plan_pruning(model, example, output_layer="fc", importance="l2", fraction=0.5)
    apply_masks(model, pruning)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,))
    for _ in range(2):
        optimizer.zero_grad()
        spec.loss(model(images), labels).backward()
        optimizer.step()
    compact = compact_model(model, example, pruning).eval()
    assert largest_difference(model.eval(), compact, images) <= TOLERANCE
    assert all(
        float(module.weight.detach().abs().sum()) > 0 for module in compact.modules() if isinstance(module, nn.Conv2d)
    )


def test_a_network_in_the_users_file_prunes_to_half_its_channels(tmp_path: Path) -> None:
    torch.manual_seed(2)
    shape = InputShape(3, 12, 5)
    spec = resolve(f"{write_user_net(tmp_path)}:build", {"width": 8})
    checked = check_network(spec, shape, structural=True)
    assert checked.layers.output == "fc"
    pruning = plan_pruning(checked.model, checked.example, output_layer="fc", fraction=0.5)
    masked = plain_copy(checked.model)
    apply_masks(masked, pruning)
    compact = compact_model(checked.model, checked.example, pruning).eval()
    assert largest_difference(masked.eval(), compact, torch.randn(4, 3, 12, 12)) <= TOLERANCE
    convs = {name: module for name, module in compact.named_modules() if isinstance(module, nn.Conv2d)}
    assert {name: conv.out_channels for name, conv in convs.items()} == {
        "stem.0": 4,  # tied by the residual add to depthwise and pointwise
        "depthwise": 4,
        "pointwise": 4,
        "left": 4,
        "right": 4,
        "head": 8,
    }
    assert convs["depthwise"].groups == 4
    assert compact.fc.in_features == 8 and compact.fc.out_features == 5


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_torchvision_networks_prune_structurally_on_rgb_images(name: str) -> None:
    torch.manual_seed(3)
    shape = InputShape(3, 32, 10)
    spec = resolve(f"torchvision:{name}")
    model = spec.build(shape)
    example = spec.example_input(shape)
    output = spec.layers(model, shape).output
    masked, compact = masked_and_compact(model, example, output_layer=output, fraction=0.5)
    assert largest_difference(masked, compact, example) <= TOLERANCE
    assert measure_cost(compact, example).macs < 0.5 * measure_cost(model, example).macs


@pytest.mark.parametrize(("scope", "importance"), [("layer", "random"), ("global", "random"), ("global", "l2")])
def test_a_later_round_removes_the_earlier_rounds_channels_again_whatever_the_criterion(
    tmp_path: Path, scope: str, importance: str
) -> None:
    torch.manual_seed(4)
    spec = resolve(f"{write_user_net(tmp_path)}:build", {"width": 16})
    shape = InputShape(3, 8, 5)
    model, example = spec.build(shape), spec.example_input(shape)
    options = {"output_layer": "fc", "importance": importance, "scope": scope}
    first = plan_pruning(model, example, fraction=0.5, **options)  # type: ignore[arg-type]
    apply_masks(model, first)
    second = plan_pruning(model, example, fraction=0.75, **options)  # type: ignore[arg-type]
    assert set(first.kept) <= set(second.kept)
    for name, kept in first.kept.items():
        assert set(second.kept[name].tolist()) <= set(kept.tolist()), name
    if scope == "layer":  # every group loses half of what it kept (global scope ranks the groups together)
        assert second.channels()["left"] == (4, 16)
    kept_channels = sum(kept for kept, _ in second.channels().values())
    assert kept_channels < sum(kept for kept, _ in first.channels().values())


def test_global_scope_and_taylor_importance_with_the_output_layer_kept() -> None:
    torch.manual_seed(5)
    shape = InputShape(3, 8, 10)
    spec = resolve("resnet20")
    model, example = spec.build(shape), spec.example_input(shape)
    batches = [(torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,)))]
    masked, compact = masked_and_compact(
        model, example, output_layer="fc", importance="taylor", scope="global", fraction=0.4, score_batches=batches
    )
    assert largest_difference(masked, compact, example) <= TOLERANCE
    assert compact.fc.out_features == 10
    assert measure_cost(compact, example).parameters < measure_cost(model, example).parameters
    with pytest.raises(StructuralError, match="taylor importance needs batches"):
        plan_pruning(model, example, output_layer="fc", importance="taylor")


def test_the_history_rebuilds_the_compact_model_and_select_cuts_full_size_tensors_to_it() -> None:
    torch.manual_seed(6)
    shape = InputShape(3, 8, 10)
    spec = resolve("resnet20")
    model, example = spec.build(shape), spec.example_input(shape)
    pruning = plan_pruning(model, example, output_layer="fc", fraction=0.5, ignored=["conv1"])
    compact = compact_model(model, example, pruning)
    assert compact.conv1.out_channels == 16  # ignored: the stem's channels (tied to stage 1's adds) all stay
    fresh = spec.build(shape)  # as a checkpoint would rebuild it: a new model, the history, a plain state dict
    replay(fresh, example, pruning.history)
    fresh.load_state_dict(compact.state_dict())
    assert largest_difference(fresh.eval(), compact.eval(), example) == 0.0
    selected = pruning.select(model.state_dict())
    assert all(torch.equal(selected[key], value) for key, value in compact.state_dict().items())


def test_on_lenet5_the_root_layers_own_row_norm_removes_the_rows_ln_structured_removes_today() -> None:
    from torch.nn.utils import prune

    torch.manual_seed(7)
    spec = resolve("lenet5")
    shape = InputShape(1, 28, 10)
    model, example = spec.build(shape), spec.example_input(shape)
    pruning = plan_pruning(model, example, output_layer="fc3", importance="l2", reduction="first", fraction=0.5)
    today = plain_copy(model)
    for name in ("conv1", "conv2", "fc1", "fc2"):
        prune.ln_structured(today.get_submodule(name), "weight", amount=0.5, n=2, dim=0)
    masks = pruning.masks()
    for name in ("conv1", "conv2", "fc1", "fc2"):
        rows_kept_today = today.get_submodule(name).weight_mask.flatten(1).any(1)
        assert torch.equal(masks[f"{name}.weight"].flatten(1).any(1), rows_kept_today), name
    assert sum(value.numel() for value in compact_model(model, example, pruning).parameters()) == 15_738


def test_named_layers_take_their_own_fraction() -> None:
    torch.manual_seed(8)
    spec = resolve("resnet20")
    shape = InputShape(3, 8, 10)
    model, example = spec.build(shape), spec.example_input(shape)
    pruning = plan_pruning(model, example, output_layer="fc", fraction=0.5, layer_fractions={"layer3.0.conv1": 0.25})
    channels = pruning.channels()
    assert channels["layer3.0.conv1"] == (48, 64) and channels["layer3.1.conv1"] == (32, 64)
    with pytest.raises(StructuralError, match="layer9 is not a layer of this network"):
        plan_pruning(model, example, output_layer="fc", layer_fractions={"layer9": 0.5})
