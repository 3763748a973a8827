"""SGD with momentum and Adam, computed as torch.optim computes them one tensor at a time, but without it.

The first use of torch.optim imports torch._dynamo (the compiler), which takes longer than importing torch
itself: a run would wait that long before its first training step. These two update rules are a few lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import torch
from torch import Tensor, nn


class Optimizer(Protocol):
    def zero_grad(self) -> None: ...

    def step(self) -> None: ...


class _Optimizer:
    def __init__(self, parameters: Iterable[nn.Parameter], lr: float) -> None:
        self.parameters = [p for p in parameters if p.requires_grad]
        self.lr = lr

    def zero_grad(self) -> None:
        """Drop the gradients (as torch.optim's default, set_to_none=True, does)."""
        for p in self.parameters:
            p.grad = None


class SGD(_Optimizer):
    """torch.optim.SGD(parameters, lr, momentum) with no dampening, weight decay or Nesterov."""

    def __init__(self, parameters: Iterable[nn.Parameter], lr: float, momentum: float = 0.9) -> None:
        super().__init__(parameters, lr)
        self.momentum = momentum
        self.buffers: dict[int, Tensor] = {}

    @torch.no_grad()
    def step(self) -> None:
        for p in self.parameters:
            if p.grad is None:
                continue
            buffer = self.buffers.get(id(p))
            if buffer is None:
                buffer = self.buffers[id(p)] = torch.clone(p.grad).detach()
            else:
                buffer.mul_(self.momentum).add_(p.grad)
            p.add_(buffer, alpha=-self.lr)


class Adam(_Optimizer):
    """torch.optim.Adam(parameters, lr) with its default betas and eps, no weight decay or AMSGrad."""

    def __init__(self, parameters: Iterable[nn.Parameter], lr: float) -> None:
        super().__init__(parameters, lr)
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.state: dict[int, tuple[Tensor, Tensor]] = {}
        self.steps: dict[int, int] = {}

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for p in self.parameters:
            if p.grad is None:
                continue
            if id(p) not in self.state:
                self.state[id(p)] = (torch.zeros_like(p), torch.zeros_like(p))
            average, average_square = self.state[id(p)]
            step = self.steps[id(p)] = self.steps.get(id(p), 0) + 1
            average.lerp_(p.grad, 1 - beta1)
            average_square.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denominator = (average_square.sqrt() / (1 - beta2**step) ** 0.5).add_(self.eps)
            p.addcdiv_(average, denominator, value=-self.lr / (1 - beta1**step))
