"""prunetui's SGD and Adam take exactly the steps torch.optim takes, without importing torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunetui.engine.core.models import build_model
from prunetui.engine.core.training import make_optimizer

REFERENCES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda parameters, lr, weight_decay=0.0: torch.optim.SGD(
        parameters, lr=lr, momentum=0.9, weight_decay=weight_decay
    ),
    "adam": lambda parameters, lr, weight_decay=0.0: torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay),
}


def trained(
    model: nn.Module,
    optimizer: object,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    set_lr: Callable[[int], None] = lambda step: None,
) -> nn.Module:
    for step, (images, labels) in enumerate(batches):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()  # type: ignore[attr-defined]
        loss.backward()
        set_lr(step)
        optimizer.step()  # type: ignore[attr-defined]
    return model


def random_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        (torch.randn(16, 1, 28, 28, generator=generator), torch.randint(0, 10, (16,), generator=generator))
        for _ in range(6)
    ]


def twin_models() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    ours = build_model("lenet5")
    theirs = build_model("lenet5")
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def assert_same_weights(ours: nn.Module, theirs: nn.Module) -> None:
    for (key, mine), reference in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(mine, reference), key


@pytest.mark.parametrize("name", ["sgd", "adam"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_the_same_weights_as_torch_optim_bit_for_bit(name: str, weight_decay: float) -> None:
    ours, theirs = twin_models()
    trained(ours, make_optimizer(name, ours.parameters(), 0.01, weight_decay), random_batches())
    trained(theirs, REFERENCES[name](theirs.parameters(), 0.01, weight_decay), random_batches())
    assert_same_weights(ours, theirs)
    assert not torch.equal(ours.state_dict()["fc3.weight"], build_model("lenet5").state_dict()["fc3.weight"])


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_weight_decay_shrinks_the_weights(name: str) -> None:
    decayed, plain = twin_models()
    trained(decayed, make_optimizer(name, decayed.parameters(), 0.01, weight_decay=0.5), random_batches())
    trained(plain, make_optimizer(name, plain.parameters(), 0.01), random_batches())
    assert decayed.fc1.weight.norm() < 0.99 * plain.fc1.weight.norm()


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_a_learning_rate_changed_between_steps_is_the_one_torch_optim_would_use(name: str) -> None:
    rates = [0.02, 0.015, 0.01, 0.004, 0.001, 0.0005]
    ours, theirs = twin_models()
    mine = make_optimizer(name, ours.parameters(), rates[0], weight_decay=0.01)
    reference = REFERENCES[name](theirs.parameters(), rates[0], 0.01)

    def set_mine(step: int) -> None:
        mine.lr = rates[step]

    def set_reference(step: int) -> None:
        reference.param_groups[0]["lr"] = rates[step]

    trained(ours, mine, random_batches(), set_mine)
    trained(theirs, reference, random_batches(), set_reference)
    assert_same_weights(ours, theirs)


def test_a_training_step_does_not_import_the_compiler() -> None:
    code = (
        "import sys, torch, torch.nn.functional as F\n"
        "from prunetui.engine.core.models import build_model\n"
        "from prunetui.engine.core.training import make_optimizer\n"
        "model = build_model('lenet5')\n"
        "for name in ('sgd', 'adam'):\n"
        "    optimizer = make_optimizer(name, model.parameters(), 0.01)\n"
        "    F.cross_entropy(model(torch.zeros(2, 1, 28, 28)), torch.tensor([0, 1])).backward()\n"
        "    optimizer.step()\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"  # torch.optim imports it: seconds before the first step
