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
    "sgd": lambda parameters, lr: torch.optim.SGD(parameters, lr=lr, momentum=0.9),
    "adam": lambda parameters, lr: torch.optim.Adam(parameters, lr=lr),
}


def trained(model: nn.Module, optimizer: object, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> nn.Module:
    for images, labels in batches:
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()  # type: ignore[attr-defined]
        loss.backward()
        optimizer.step()  # type: ignore[attr-defined]
    return model


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_the_same_weights_as_torch_optim_bit_for_bit(name: str) -> None:
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randn(16, 1, 28, 28, generator=generator), torch.randint(0, 10, (16,))) for _ in range(6)]
    torch.manual_seed(0)
    ours = build_model("lenet5")
    theirs = build_model("lenet5")
    theirs.load_state_dict(ours.state_dict())
    trained(ours, make_optimizer(name, ours.parameters(), 0.01), batches)
    trained(theirs, REFERENCES[name](theirs.parameters(), 0.01), batches)
    for (key, mine), reference in zip(ours.state_dict().items(), theirs.state_dict().values(), strict=True):
        assert torch.equal(mine, reference), key
    assert not torch.equal(ours.state_dict()["fc3.weight"], build_model("lenet5").state_dict()["fc3.weight"])


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
