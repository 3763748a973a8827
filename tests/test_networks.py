"""Network specs: the built-ins, torchvision:NAME and the user's module:factory; their layers found by walking
them; the checks before training, each failing in one line; and the cost (parameters, MACs, latency)."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.models import build_model
from prunetui.engine.core.networks.checks import check_network
from prunetui.engine.core.networks.cost import measure_cost, measure_latency
from prunetui.engine.core.networks.layer_names import by_stage, stages
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape, exclude
from tests.engine_helpers import printed_by

MNIST = InputShape(1, 28, 10)
CIFAR = InputShape(3, 32, 10)


def write(directory: Path, name: str, code: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(code))
    return path


def test_lenet5_layers_are_found_by_walking_it_and_its_weights_are_todays() -> None:
    spec = resolve("lenet5")
    torch.manual_seed(0)
    model = spec.build(MNIST, init="kaiming-normal")
    layers = spec.layers(model, MNIST)
    assert layers.prunable == ("conv1", "conv2", "fc1", "fc2", "fc3")
    assert layers.output == "fc3"
    assert layers.weights == {"conv1": 150, "conv2": 2400, "fc1": 48000, "fc2": 10080, "fc3": 840}
    torch.manual_seed(0)
    today = build_model("lenet5", init="kaiming-normal")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), today.state_dict().values(), strict=True))


@pytest.mark.parametrize("name", ["lenet300", "lenet5-caffe"])
def test_the_other_lenets_end_in_their_last_linear_layer(name: str) -> None:
    spec = resolve(name)
    layers = spec.layers(spec.build(MNIST), MNIST)
    assert layers.output == layers.prunable[-1] and layers.prunable[0] in ("conv1", "fc1")


@pytest.mark.parametrize(
    ("name", "parameters"),
    [("resnet20", 272_474), ("resnet32", 466_906), ("resnet56", 855_770), ("vgg16-bn", 14_991_946)],
)
def test_the_cifar_networks_have_the_papers_sizes(name: str, parameters: int) -> None:
    # He et al. 2016: ResNet-20 0.27 M, -32 0.46 M, -56 0.85 M (option B adds its 1x1 shortcut convs);
    # Li et al. 2017: VGG-16 1.5e7.
    model = resolve(name).build(CIFAR)
    assert sum(parameter.numel() for parameter in model.parameters()) == parameters


def test_resnet20_layers_are_named_by_module_path_in_forward_order() -> None:
    spec = resolve("resnet20")
    layers = spec.layers(spec.build(CIFAR), CIFAR)
    assert len(layers.prunable) == 22  # 19 convs, 2 shortcut convs, the classifier
    assert layers.prunable[:3] == ("conv1", "layer1.0.conv1", "layer1.0.conv2")
    assert "layer2.0.shortcut.0" in layers.prunable and layers.output == "fc"
    assert exclude(layers.prunable, ["layer3.*", "fc"]) == layers.prunable[:14]


def test_stages_group_resnet56_by_its_stages_and_torchvisions_features_by_block() -> None:
    def names(model: str) -> tuple[str, ...]:
        spec = resolve(model)
        return spec.layers(spec.build(CIFAR), CIFAR).prunable

    resnet = names("resnet56")  # the first part of each path: as it always was
    assert [(stage, len(members)) for stage, members in by_stage(resnet)] == [
        ("conv1", 1), ("layer1", 18), ("layer2", 19), ("layer3", 19), ("fc", 1)
    ]  # fmt: skip
    mobilenet = names("torchvision:mobilenet_v2")  # 52 of 53 under `features`: one level deeper, a row per block
    groups = by_stage(mobilenet)
    assert [stage for stage, _ in groups] == [*(f"features.{block}" for block in range(19)), "classifier"]
    assert [len(members) for _, members in groups] == [1, 2, *[3] * 16, 1, 1]
    for stage, members in groups:
        assert all(mobilenet[i] == stage or mobilenet[i].startswith(f"{stage}.") for i in members)
    assert stages(mobilenet)[1:3] == ["features.1", "features.1"]  # features.1.conv.0.0, features.1.conv.1
    vgg = names("vgg16-bn")  # 13 of 15 under `features`: each conv its own row, the classifier's two together
    assert [stage for stage, _ in by_stage(vgg)] == [*vgg[:13], "classifier"]
    assert stages(["conv1", "fc"]) == ["conv1", "fc"]  # a LeNet: a stage per layer


def test_a_users_factory_gets_model_args_and_the_datas_channels_and_classes(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tiny.py",
        """
        from torch import nn

        def build(in_channels, num_classes, width):
            return nn.Sequential(nn.Conv2d(in_channels, width, 3), nn.Flatten(), nn.LazyLinear(num_classes))
        """,
    )
    checked = check_network(resolve(f"{tmp_path / 'tiny.py'}:build", {"width": 5}), InputShape(2, 6, 3))
    assert checked.model[0].in_channels == 2 and checked.model[0].out_channels == 5
    assert checked.layers.prunable == ("0", "2") and checked.layers.output == "2"


def test_a_package_module_factory_is_imported_only_when_built(tmp_path: Path) -> None:
    package = tmp_path / "mynets"
    package.mkdir()
    write(package, "__init__.py", "")
    write(
        package,
        "small.py",
        """
        from pathlib import Path
        from torch import nn

        Path(__file__).with_name("imported").touch()

        class Small(nn.Module):
            def __init__(self, num_classes):
                super().__init__()
                self.fc = nn.Linear(4, num_classes)

            def forward(self, x):
                return self.fc(x.flatten(1))
        """,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        spec = resolve("mynets.small:Small")
        assert not (package / "imported").exists()
        checked = check_network(spec, InputShape(1, 2, 7))
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("mynets", "mynets.small"):
            sys.modules.pop(name, None)
    assert (package / "imported").exists() and checked.layers.output == "fc"


def test_resolving_a_network_imports_no_torch() -> None:
    code = (
        "import sys; from prunetui.engine.core.networks.registry import resolve; "
        "resolve('resnet56'); resolve('nets.py:build'); resolve('torchvision:resnet18'); "
        "print('torch' in sys.modules, 'torchvision' in sys.modules)"
    )
    assert printed_by(code) == ["False", "False"]


def test_torchvision_networks_fit_the_datas_channels_and_classes() -> None:
    checked = check_network(resolve("torchvision:resnet18"), InputShape(1, 32, 7))
    assert checked.model.conv1.in_channels == 1 and checked.model.fc.out_features == 7
    assert checked.layers.output == "fc"


def test_a_weights_file_is_loaded_safely(tmp_path: Path) -> None:
    spec = resolve("resnet20")
    trained = spec.build(InputShape(3, 8, 10))
    torch.save(trained.state_dict(), tmp_path / "trained.pt")
    checked = check_network(spec, InputShape(3, 8, 10), weights=tmp_path / "trained.pt")
    assert torch.equal(checked.model.conv1.weight, trained.conv1.weight)


BAD_NETWORKS = {
    "raises.py": "def build():\n    raise ValueError('width must be even')\n",
    "not_module.py": "def build():\n    return [1, 2]\n",
    "wrong_shape.py": "import torch.nn as nn\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.LazyLinear(7))\n",
    "fixed_size.py": "import torch.nn as nn\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(48, 10))\n",
    # Autograd cannot follow numpy: Torch-Pruning's trace fails (the plain forward pass, without gradients, works).
    "numpy.py": """
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)
                self.fc = nn.Linear(8, 10)

            def forward(self, x):
                x = torch.from_numpy(self.conv(x).numpy())
                return self.fc(x.mean((2, 3)))

        def build():
            return Net()
        """,
    # The "option A" shortcut of the original CIFAR ResNets: zero padding by sizes fixed at construction.
    "option_a.py": """
        import torch.nn.functional as F
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Conv2d(3, 16, 3, padding=1)
                self.conv = nn.Conv2d(16, 32, 3, 2, 1)
                self.bn = nn.BatchNorm2d(32)
                self.fc = nn.Linear(32, 10)

            def forward(self, x):
                x = self.stem(x)
                shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 8, 8))
                return self.fc((self.bn(self.conv(x)) + shortcut).mean((2, 3)))

        def build():
            return Net()
        """,
}


@pytest.mark.parametrize(
    ("file", "shape", "structural", "message"),
    [
        ("raises.py", CIFAR, False, "raised ValueError: width must be even"),
        ("not_module.py", CIFAR, False, "returned a list, not a torch.nn.Module"),
        ("wrong_shape.py", CIFAR, False, "returns 2×7 for a batch of 2; class scores are 2×10"),
        ("fixed_size.py", CIFAR, False, "fails on a batch of 3×32×32 images of 10 classes: RuntimeError"),
        ("numpy.py", InputShape(3, 8, 10), True, "cannot be pruned structurally: Torch-Pruning cannot trace"),
        ("option_a.py", InputShape(3, 8, 10), True, "breaks once channels go"),
    ],
)
def test_a_bad_network_is_one_line_naming_the_cause(
    tmp_path: Path, file: str, shape: InputShape, structural: bool, message: str
) -> None:
    spec = resolve(f"{write(tmp_path, file, BAD_NETWORKS[file])}:build")
    with pytest.raises(ConfigError) as error:
        check_network(spec, shape, structural=structural)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("model", "shape", "message"),
    [
        ("resnet21", CIFAR, "unknown model 'resnet21': the built-ins are lenet5"),
        ("no_such_package_x.nets:build", CIFAR, "no module named no_such_package_x"),
        ("missing/net.py:build", CIFAR, "missing/net.py: no such file"),
        ("json:nothing_here", CIFAR, "json has no nothing_here"),
        ("torchvision:vit_b_16", CIFAR, "is a transformer"),
        ("torchvision:resnet_nine", CIFAR, "torchvision has no classification model resnet_nine"),
        ("vgg16-bn", MNIST, "vgg16-bn cannot take 28×28 images: the smallest it takes is 32×32"),
    ],
)
def test_a_bad_model_name_is_one_line(model: str, shape: InputShape, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_network(resolve(model), shape)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_lenets_are_built_for_the_data_as_a_run_builds_them() -> None:
    for name in ("lenet5", "lenet300", "lenet5-caffe"):
        checked = check_network(resolve(name), CIFAR)
        assert checked.model(checked.example).shape == (len(checked.example), CIFAR.classes)
        torch.manual_seed(0)
        built = resolve(name).build(MNIST, "default")
        torch.manual_seed(0)
        assert all(torch.equal(a, b) for a, b in zip(built.parameters(), build_model(name).parameters(), strict=True))


def test_a_weights_file_that_does_not_fit_is_one_line(tmp_path: Path) -> None:
    spec = resolve("resnet20")
    torch.save(resolve("resnet20").build(InputShape(3, 8, 100)).state_dict(), tmp_path / "other.pt")
    torch.save({"fc.weight": torch.zeros(10, 64)}, tmp_path / "partial.pt")  # 1 of the 128 entries
    torch.save(nn.Linear(2, 2), tmp_path / "pickled.pt")  # a whole module: weights_only loading refuses it
    expected = {
        "other.pt": "fc.weight is 100×64 in the file, 10×64 in the network",
        "partial.pt": "does not fit resnet20: 127 missing (conv1.weight, bn1.weight, bn1.bias, …)",
        "pickled.pt": "is not a state dict torch loads safely",
        "absent.pt": "no such file",
    }
    for file, message in expected.items():
        with pytest.raises(ConfigError) as error:
            check_network(spec, InputShape(3, 8, 10), weights=tmp_path / file)
        assert message in str(error.value) and "\n" not in str(error.value), file


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"output_layer": "classifier"}, "--output-layer classifier is not a conv or linear layer"),
        (
            {"excluded": ["layer9.*"]},
            "--exclude-layers layer9.* matches no layer; the layers are conv1, layer[1-3].[0-2].conv[12] (18), "
            "layer[23].0.shortcut.0 (2), fc",
        ),
    ],
)
def test_layer_options_that_name_no_layer_are_one_line(options: dict[str, object], message: str) -> None:
    spec = resolve("resnet20", output_layer=options.get("output_layer"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_network(spec, InputShape(3, 8, 10), excluded=options.get("excluded", ()))  # type: ignore[arg-type]


def test_unstructured_zeros_count_in_nonzero_macs_not_in_dense_macs() -> None:
    spec = resolve("lenet5")
    model = spec.build(MNIST)
    example = spec.example_input(MNIST)
    dense = measure_cost(model, example)
    with torch.no_grad():
        model.fc1.weight[:, :100] = 0  # 120 x 100 weights, each used once per image
        model.conv2.weight[0] = 0  # 6 x 5 x 5 weights, each used at 10 x 10 output positions
    sparse = measure_cost(model, example)
    assert sparse.macs == dense.macs and sparse.parameters == dense.parameters == 61_706
    assert dense.macs - sparse.nonzero_macs == 120 * 100 + 150 * 100
    assert dense.parameters - sparse.nonzero_parameters == 12_000 + 150


def test_latency_is_measured_for_each_model_and_batch() -> None:
    spec = resolve("lenet5")
    dense, small = spec.build(MNIST), nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    results = measure_latency([dense, small], spec.example_input(MNIST)[0], batches=(1, 16), repeats=3)
    assert [result.batch for result in results] == [1, 16]
    assert all(len(result.milliseconds) == 2 and min(result.milliseconds) > 0 for result in results)
    assert results[1].speedup() == results[1].milliseconds[0] / results[1].milliseconds[1]
