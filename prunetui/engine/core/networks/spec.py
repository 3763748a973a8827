"""One object knows a network: how to build it for the data, its example input, its loss, and (found by walking
the built module) its prunable layers and its output layer.

    spec = resolve("resnet20")                        # registry.resolve: a name, torchvision:NAME or module:factory
    model = spec.build(InputShape(3, 32, 10))
    layers = spec.layers(model, InputShape(3, 32, 10))
    layers.prunable    # ("conv1", "layer1.0.conv1", ..., "fc"): every conv and linear weight, in forward order
    layers.output      # "fc": the last linear layer the forward pass reaches (overridable)

This module imports torch only inside its methods: a spec is resolved (and a name checked) before torch loads.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.networks.layer_names import said_shortly

if TYPE_CHECKING:
    from torch import Tensor, nn

EXAMPLE_BATCH = 2  # BatchNorm in training mode needs more than one value per channel
EXAMPLE_SEED = 0


@dataclass(frozen=True, slots=True)
class InputShape:
    """What the data gives a network: images of `channels` x `size` x `size`, and `classes` to tell apart."""

    channels: int
    size: int
    classes: int

    def __str__(self) -> str:
        return f"{self.channels}×{self.size}×{self.size} images of {self.classes} classes"


# Builds the network for the data, with its weights drawn by `init` ("default": each layer's own rule).
Builder = Callable[[InputShape, str], "nn.Module"]


@dataclass(frozen=True, slots=True)
class NetworkLayers:
    prunable: tuple[str, ...]  # every conv and linear layer the forward pass reaches, by module path, in that order
    output: str  # the layer whose outputs are the class scores: never loses a row under structural pruning
    weights: Mapping[str, int]  # each prunable layer's weight count


@dataclass(frozen=True)
class NetworkSpec:
    name: str  # as the user wrote it: "resnet20", "torchvision:resnet18", "nets.py:build"
    builder: Builder = field(repr=False, compare=False)
    args: Mapping[str, Any] = field(default_factory=dict)  # --model-args, for the user's factory
    output_layer: str | None = None  # --output-layer: overrides the layer found

    def build(self, shape: InputShape, init: str = "default") -> nn.Module:
        """The network for `shape`. Its weights come from torch's global generator."""
        return self.builder(shape, init)

    def example_input(self, shape: InputShape, batch: int = EXAMPLE_BATCH) -> Tensor:
        """A batch of random images of the data's shape, the same every time (its own generator)."""
        import torch

        generator = torch.Generator().manual_seed(EXAMPLE_SEED)
        return torch.randn(batch, shape.channels, shape.size, shape.size, generator=generator)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Classification: cross-entropy of the class scores."""
        import torch

        return torch.nn.functional.cross_entropy(logits, labels)

    def layers(self, model: nn.Module, shape: InputShape) -> NetworkLayers:
        """The model's conv and linear layers in the order one forward pass of the example input reaches them; the
        output layer is the last linear one reached (the last conv if there is none), unless `output_layer` says."""
        import torch

        reached: list[str] = []
        names = {module: name for name, module in model.named_modules()}
        hooks = [
            module.register_forward_hook(lambda module, inputs, output: reached.append(names[module]))
            for module in model.modules()
            if _weighted(module)
        ]
        mode = model.training
        model.eval()
        try:
            with torch.no_grad():
                model(self.example_input(shape).to(_device_of(model)))
        finally:
            model.train(mode)
            for hook in hooks:
                hook.remove()
        order = tuple(dict.fromkeys(reached))  # first call only: a layer used twice is one layer
        if not order:
            raise ConfigError(f"{self.name} has no conv or linear layer to prune")
        modules = dict(model.named_modules())
        output = self.output_layer or next(
            (name for name in reversed(order) if isinstance(modules[name], torch.nn.Linear)), order[-1]
        )
        if output not in order:
            raise ConfigError(
                f"--output-layer {output} is not a conv or linear layer the forward pass reaches; "
                f"the last ones are {', '.join(order[-3:])}"
            )
        weights = {name: modules[name].weight.numel() for name in order}  # type: ignore[union-attr]
        return NetworkLayers(order, output, weights)


def exclude(layers: Sequence[str], patterns: Sequence[str]) -> tuple[str, ...]:
    """`layers` without those matching any shell-style pattern (`layer3.*`, `fc`) of --exclude-layers; a pattern
    that matches none is one line naming the layers there are."""
    for pattern in patterns:
        if not fnmatch.filter(layers, pattern):
            raise ConfigError(f"--exclude-layers {pattern} matches no layer; the layers are {said_shortly(layers)}")
    return tuple(name for name in layers if not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns))


def initialise(model: nn.Module, init: str) -> nn.Module:
    """`models.initialise`, the LeNets' rule (every conv and linear weight drawn again by `init`, biases zero),
    imported when a network is built: the registry stays torch-free."""
    from prunetui.engine.core.models import initialise as initialise_layers

    return initialise_layers(model, init)


def _weighted(module: nn.Module) -> bool:
    from torch import nn

    return isinstance(module, (nn.modules.conv._ConvNd, nn.Linear))


def _device_of(model: nn.Module) -> Any:
    import torch

    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
