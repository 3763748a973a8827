"""The networks, by name. Adding one is one class and one registry line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from prunetui.engine.core.networks.spec import InputShape

# The data the LeNets are written for; other data (its channels, square size, classes) changes only the first layer's
# input channels, the first linear layer's inputs and the output layer's units.
LENET_INPUT = InputShape(1, 28, 10)


class LeNet5(nn.Module):
    """The classic LeNet-5 for 28x28 input: conv1 is padded so the 32x32 arithmetic of the paper holds."""

    # The weight layers whose outputs pass through a ReLU: a unit pruned whole then outputs relu(bias), a constant
    # that compaction folds into the next layer (the others output their bias).
    activated_layers = ("conv1", "conv2", "fc1", "fc2")

    def __init__(
        self,
        channels: tuple[int, int] = (6, 16),
        hidden: tuple[int, int] = (120, 84),
        input_shape: InputShape = LENET_INPUT,
    ) -> None:
        super().__init__()
        c1, c2 = channels
        h1, h2 = hidden
        side = (input_shape.size // 2 - 4) // 2  # 28 → conv 28 → pool 14 → conv 10 → pool 5
        self.conv1 = nn.Conv2d(input_shape.channels, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(c2 * side * side, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, input_shape.classes)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class LeNet300(nn.Module):
    """LeNet-300-100, the fully connected network of the pruning literature (Han et al. 2015)."""

    activated_layers = ("fc1", "fc2")

    def __init__(self, hidden: tuple[int, int] = (300, 100), input_shape: InputShape = LENET_INPUT) -> None:
        super().__init__()
        h1, h2 = hidden
        self.fc1 = nn.Linear(input_shape.channels * input_shape.size**2, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, input_shape.classes)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class LeNet5Caffe(nn.Module):
    """The LeNet-5 of Caffe's MNIST example (examples/mnist/lenet.prototxt) and of Han et al. 2015 (431,080
    parameters): conv1 1→20 5x5, max-pool, conv2 20→50 5x5, max-pool, ip1 800→500, ReLU, ip2 500→10. No padding,
    and, as in Caffe's network, no ReLU after the convolutions: the only one follows ip1 (fc1 here)."""

    activated_layers = ("fc1",)

    def __init__(
        self, channels: tuple[int, int] = (20, 50), hidden: tuple[int] = (500,), input_shape: InputShape = LENET_INPUT
    ) -> None:
        super().__init__()
        c1, c2 = channels
        (h1,) = hidden
        side = ((input_shape.size - 4) // 2 - 4) // 2  # 28 → conv 24 → pool 12 → conv 8 → pool 4
        self.conv1 = nn.Conv2d(input_shape.channels, c1, 5)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(c2 * side * side, h1)
        self.fc2 = nn.Linear(h1, input_shape.classes)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.conv1(x))
        x = self.pool(self.conv2(x))
        x = self.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


MODELS: dict[str, type[nn.Module]] = {"lenet5": LeNet5, "lenet300": LeNet300, "lenet5-caffe": LeNet5Caffe}
# The weight draws of `--init` (config.INITS) other than "default", the layers' own. Kaiming's gain is ReLU's, √2.
INITIALISERS: dict[str, Callable[[Tensor], Tensor]] = {
    "kaiming-normal": lambda weight: nn.init.kaiming_normal_(weight, nonlinearity="relu"),
    "xavier-normal": nn.init.xavier_normal_,
}


def build_model(name: str, *, init: str = "default", input_shape: InputShape = LENET_INPUT, **shape: Any) -> nn.Module:
    """The network `name` for `input_shape`'s data, with its layer sizes changed by `shape` (channels=, hidden=) for
    compacted models.

    Its weights are drawn from torch's global generator: by each layer's own rule, then, unless `init` is
    "default", again by INITIALISERS[init] for every conv and linear weight, with the biases zero.
    """
    return initialise(MODELS[name](input_shape=input_shape, **shape), init)


def initialise(model: nn.Module, init: str) -> nn.Module:
    """Draw every conv and linear weight of `model` again by INITIALISERS[init], biases zero, in module order;
    "default" keeps each layer's own draw."""
    if init != "default":
        draw = INITIALISERS[init]
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                draw(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return model
