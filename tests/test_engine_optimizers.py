"""Training with torch.optim's optimizers: the steps they take, their param groups and state dicts, the settings
that choose them, and label smoothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunetui.cli import main
from prunetui.cli.main import build_parser
from prunetui.cli.options import config_from_args
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.data.loading import Split
from prunetui.engine.core.training import LossReport, Trainer, make_optimizer
from tests.engine_helpers import printed_by


def tiny_net() -> nn.Module:
    """A conv, a BatchNorm and a linear layer with a bias: every kind of parameter the groups tell apart."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))


def batches(count: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(8, 1, 6, 6, generator=generator), torch.randint(0, 3, (8,), generator=generator))
        for _ in range(count)
    ]


def train(model: nn.Module, optimizer: torch.optim.Optimizer, data: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    for images, labels in data:
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()


def twins() -> tuple[nn.Module, nn.Module]:
    model = tiny_net()
    twin = tiny_net()
    twin.load_state_dict(model.state_dict())
    return model, twin


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_takes_the_steps_computed_by_hand(nesterov: bool) -> None:
    """torch.optim.SGD's rule, written out: g + λw into the momentum buffer b ← μb + g (b = g at the first step),
    then w ← w - η(g + μb) with Nesterov, w ← w - ηb without. Bit for bit on the CPU (its for-loop path)."""
    lr, momentum, decay = 0.1, 0.9, 0.01
    model, by_hand = twins()
    optimizer = make_optimizer(model, "sgd", lr, momentum=momentum, nesterov=nesterov, weight_decay=decay)
    buffers: dict[str, torch.Tensor] = {}
    for images, labels in batches():
        train(model, optimizer, [(images, labels)])
        by_hand.zero_grad()
        F.cross_entropy(by_hand(images), labels).backward()
        with torch.no_grad():
            for name, p in by_hand.named_parameters():
                assert p.grad is not None
                grad = p.grad.add(p, alpha=decay)
                buffers[name] = buffers[name].mul_(momentum).add_(grad) if name in buffers else grad.clone()
                p.add_(grad.add(buffers[name], alpha=momentum) if nesterov else buffers[name], alpha=-lr)
    for (name, ours), theirs in zip(model.state_dict().items(), by_hand.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs), name
    assert not optimizer.param_groups[0]["foreach"]  # the CPU's loop: the numbers of the baseline


def test_nesterov_changes_the_trajectory() -> None:
    plain, nesterov = twins()
    train(plain, make_optimizer(plain, "sgd", 0.1), batches())
    train(nesterov, make_optimizer(nesterov, "sgd", 0.1, nesterov=True), batches())
    difference = (plain[4].weight - nesterov[4].weight).abs().max().item()
    assert difference > 1e-3


@pytest.mark.parametrize(
    ("name", "kind"), [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)]
)
def test_each_name_is_torch_optims_optimizer_with_the_settings(name: str, kind: type) -> None:
    model = tiny_net()
    optimizer = make_optimizer(model, name, 0.02, momentum=0.5, weight_decay=0.001)
    assert type(optimizer) is kind
    (group,) = optimizer.param_groups
    assert (group["lr"], group["weight_decay"]) == (0.02, 0.001)
    assert [id(p) for p in group["params"]] == [id(p) for p in model.parameters()]
    assert group.get("momentum") == (0.5 if name == "sgd" else None)


def test_weight_decay_spares_biases_and_batchnorm_when_asked() -> None:
    model = tiny_net()
    optimizer = make_optimizer(model, "sgd", 0.1, momentum=0.0, weight_decay=0.5, decay_norm_bias=False)
    decayed, spared = optimizer.param_groups
    assert [id(p) for p in decayed["params"]] == [id(model[0].weight), id(model[4].weight)]
    assert [id(p) for p in spared["params"]] == [id(model[1].weight), id(model[1].bias), id(model[4].bias)]
    assert (decayed["weight_decay"], spared["weight_decay"]) == (0.5, 0.0)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # the step is then the decay alone: w ← w - ηλw on the decayed group
    optimizer.step()
    for name, p in model.named_parameters():
        expected = before[name] * (1 - 0.1 * 0.5) if name in ("0.weight", "4.weight") else before[name]
        assert torch.allclose(p, expected, rtol=1e-6, atol=0), name
    assert len(make_optimizer(model, "sgd", 0.1, weight_decay=0.5).param_groups) == 1  # the default: all decayed


def test_adamw_decays_the_weights_apart_from_the_gradient() -> None:
    """With zero gradients, AdamW shrinks each weight by exactly ηλ of itself (decoupled weight decay, Loshchilov &
    Hutter); Adam's L2 penalty goes through its moments instead, which move every weight by about η."""
    lr, decay = 0.01, 0.1
    moved = {}
    for name in ("adam", "adamw"):
        model = tiny_net()
        weight = model[4].weight.detach().clone()
        optimizer = make_optimizer(model, name, lr, weight_decay=decay)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()
        moved[name] = (weight - model[4].weight).detach()
        if name == "adamw":
            assert torch.equal(model[4].weight, weight * (1 - lr * decay))
    assert torch.allclose(moved["adam"].abs(), torch.full_like(moved["adam"], lr), rtol=1e-3)


def test_an_optimizers_state_dict_saved_to_a_file_resumes_the_same_steps(tmp_path: Path) -> None:
    whole, resumed = twins()
    data = batches(6)
    train(whole, make_optimizer(whole, "sgd", 0.1, nesterov=True, weight_decay=0.01), data)
    first = make_optimizer(resumed, "sgd", 0.1, nesterov=True, weight_decay=0.01)
    train(resumed, first, data[:3])
    torch.save({"model": resumed.state_dict(), "optimizer": first.state_dict()}, tmp_path / "checkpoint.pt")
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    again = tiny_net()
    again.load_state_dict(checkpoint["model"])
    optimizer = make_optimizer(again, "sgd", 0.1, nesterov=True, weight_decay=0.01)
    optimizer.load_state_dict(checkpoint["optimizer"])
    assert len(optimizer.state) == len(list(again.parameters()))  # a momentum buffer per parameter
    train(again, optimizer, data[3:])
    for (name, ours), theirs in zip(again.state_dict().items(), whole.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs), name


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_label_smoothing_trains_on_the_loss_cross_entropy_gives(smoothing: float) -> None:
    model = tiny_net()
    images, labels = batches(1)[0]
    before = tiny_net()
    before.load_state_dict(model.state_dict())
    before.train()
    trainer = Trainer(
        model, Split(images, labels), 8, torch.Generator().manual_seed(0), threading.Event(), label_smoothing=smoothing
    )
    (report,) = [item for item in trainer.epoch(make_optimizer(model, "sgd", 0.1)) if isinstance(item, LossReport)]
    index = torch.randperm(8, generator=torch.Generator().manual_seed(0))  # the epoch's one batch, shuffled
    logits = before(images[index])
    expected = F.cross_entropy(logits, labels[index], label_smoothing=smoothing).item()
    assert report.loss == pytest.approx(expected, rel=1e-6)
    plain = F.cross_entropy(logits, labels[index]).item()
    assert (report.loss == pytest.approx(plain, rel=1e-6)) == (smoothing == 0.0)


@pytest.mark.parametrize(
    ("flags", "note"),
    [
        (
            ["--optimizer", "adam", "--nesterov"],
            "--nesterov has no effect: sgd only; adam keeps its own running averages",
        ),
        (["--optimizer", "adamw", "--momentum", "0.5"], "--momentum has no effect: sgd only; adamw keeps its own"),
        (["--no-decay-norm-bias"], "--decay-norm-bias has no effect: no --weight-decay"),
    ],
)
def test_settings_the_optimizer_does_not_read_are_noted(
    flags: list[str], note: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config_from_args(build_parser().parse_args(["run", *flags]))
    assert capsys.readouterr().err.startswith(f"note: {note}")


def test_nesterov_without_momentum_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--momentum", "0", "--nesterov"]) == 2
    assert capsys.readouterr().err == (
        "prunetui: error: invalid --nesterov: Nesterov momentum needs --momentum above 0\n"
    )
    assert "nesterov" not in ExperimentConfig(momentum=0.0).problems()


def test_the_preloaded_torch_optim_is_loaded_once_and_waited_for() -> None:
    """The app's and a run's loading of torch's compiler: one thread per process, which code that is not prunetui's
    waits for before it is imported (preload.py)."""
    code = (
        "import sys\n"
        "from prunetui.engine.core.preload import before_foreign_code, load_torch_optim\n"
        "before_foreign_code()  # nothing started: nothing to wait for, nothing loaded\n"
        "print('torch' in sys.modules)\n"
        "thread = load_torch_optim()\n"
        "assert load_torch_optim() is thread and thread.daemon\n"
        "before_foreign_code()\n"
        "print(thread.is_alive(), 'torch._dynamo' in sys.modules)\n"
    )
    assert printed_by(code) == ["False", "False", "True"]
