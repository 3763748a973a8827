"""Networks by name: the built-ins (one line each), `torchvision:NAME`, and the user's `module:factory`.

    resolve("resnet56")                                    # built-in
    resolve("torchvision:mobilenet_v2")                    # torchvision's classification CNNs
    resolve("nets/small.py:build", {"width": 32})          # the user's own code, with --model-args

Resolving reads the name only; the network's code (torch, torchvision, the user's module) is imported when it is
built, so the app's first paint and the config's checks stay free of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.networks.spec import Builder, InputShape, NetworkSpec, initialise

if TYPE_CHECKING:
    from torch import nn

TORCHVISION_PREFIX = "torchvision:"


def _lenet(name: str) -> Builder:
    def build(shape: InputShape, init: str) -> nn.Module:
        from prunetui.engine.core.models import build_model

        # today's builder, as a run builds them: on 1x28x28 images of 10 classes the same networks and numbers
        return build_model(name, init=init, input_shape=shape)

    return build


def _cifar_resnet(depth: int) -> Builder:
    def build(shape: InputShape, init: str) -> nn.Module:
        from prunetui.engine.core.networks.cifar_resnet import CifarResNet

        return initialise(CifarResNet(depth, shape.channels, shape.classes), init)

    return build


def _cifar_vgg16_bn(shape: InputShape, init: str) -> nn.Module:
    from prunetui.engine.core.networks.vgg import CifarVGG

    return initialise(CifarVGG(shape.channels, shape.classes), init)


BUILT_INS: dict[str, Builder] = {
    "lenet5": _lenet("lenet5"),
    "lenet300": _lenet("lenet300"),
    "lenet5-caffe": _lenet("lenet5-caffe"),
    "resnet20": _cifar_resnet(20),
    "resnet32": _cifar_resnet(32),
    "resnet56": _cifar_resnet(56),
    "vgg16-bn": _cifar_vgg16_bn,
}

# The built-ins that cannot take the MNIST-like sets' 28x28 images, with the smallest size they take (vgg16-bn: five
# 2x2 poolings); known by name, before torch builds them. Other networks show theirs when a run builds them.
SMALLEST_SIZES: dict[str, int] = {"vgg16-bn": 32}


def resolve(name: str, args: Mapping[str, Any] | None = None, output_layer: str | None = None) -> NetworkSpec:
    """The spec of `--model name` (with `--model-args` and `--output-layer`); one line if the name is none of the
    three forms. Nothing is imported here."""
    args = dict(args or {})
    if name in BUILT_INS:
        if args:
            raise ConfigError(f"--model-args is for a network of your own; {name} takes none")
        return NetworkSpec(name, BUILT_INS[name], args, output_layer)
    if name.startswith(TORCHVISION_PREFIX):
        from prunetui.engine.core.networks.torchvision_models import torchvision_builder

        return NetworkSpec(name, torchvision_builder(name.removeprefix(TORCHVISION_PREFIX), args), args, output_layer)
    if ":" in name:
        from prunetui.engine.core.networks.user_code import user_builder

        return NetworkSpec(name, user_builder(name, args), args, output_layer)
    raise ConfigError(
        f"unknown model {name!r}: the built-ins are {', '.join(BUILT_INS)}; or torchvision:NAME, "
        "package.module:factory or path/to/file.py:factory"
    )
