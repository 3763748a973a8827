"""SGD with momentum and Adam, computed as torch.optim computes them one tensor at a time, but without it.

The first use of torch.optim imports torch._dynamo (the compiler), which takes longer than importing torch
itself: a run would wait that long before its first training step. These two update rules are a few lines.
They use torch's multi-tensor (`_foreach`) ops, as torch.optim does on CUDA: one kernel launch per operation for
all parameters instead of one per parameter, which matters on a GPU for a network this small. On the CPU the
same ops loop over the tensors, so the numbers equal torch.optim's for-loop path bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import torch
from torch import Tensor, nn


class Optimizer(Protocol):
    lr: float  # read at every step: the training loop sets it to follow the learning-rate schedule

    def zero_grad(self) -> None: ...

    def step(self) -> None: ...


class _Optimizer:
    def __init__(self, parameters: Iterable[nn.Parameter], lr: float, weight_decay: float) -> None:
        self.parameters = [p for p in parameters if p.requires_grad]
        self.lr = lr
        self.weight_decay = weight_decay

    def zero_grad(self) -> None:
        """Drop the gradients (as torch.optim's default, set_to_none=True, does)."""
        for p in self.parameters:
            p.grad = None

    def _with_gradients(self) -> tuple[list[Tensor], list[Tensor]]:
        """The parameters that have a gradient, and their gradients plus weight_decay times the weights (torch.optim's
        weight decay, an L2 penalty's gradient): new tensors, as torch.optim makes, so `p.grad` stays as backward
        left it."""
        pairs = [(p, p.grad) for p in self.parameters if p.grad is not None]
        parameters: list[Tensor] = [p for p, _ in pairs]
        grads = [grad for _, grad in pairs]
        if not self.weight_decay or not parameters:
            return parameters, grads
        return parameters, list(torch._foreach_add(grads, parameters, alpha=self.weight_decay))


class SGD(_Optimizer):
    """torch.optim.SGD(parameters, lr, momentum, weight_decay) with no dampening or Nesterov."""

    def __init__(
        self, parameters: Iterable[nn.Parameter], lr: float, momentum: float = 0.9, weight_decay: float = 0.0
    ) -> None:
        super().__init__(parameters, lr, weight_decay)
        self.momentum = momentum
        self.buffers: dict[int, Tensor] = {}

    @torch.no_grad()
    def step(self) -> None:
        parameters, grads = self._with_gradients()
        if not parameters:
            return
        stepped = [(p, grad) for p, grad in zip(parameters, grads, strict=True) if id(p) in self.buffers]
        if stepped:
            buffers = [self.buffers[id(p)] for p, _ in stepped]
            torch._foreach_mul_(buffers, self.momentum)
            torch._foreach_add_(buffers, [grad for _, grad in stepped])
        for p, grad in zip(parameters, grads, strict=True):  # a first step: the buffer starts as the gradient
            if id(p) not in self.buffers:
                self.buffers[id(p)] = torch.clone(grad).detach()
        torch._foreach_add_(parameters, [self.buffers[id(p)] for p in parameters], alpha=-self.lr)


class Adam(_Optimizer):
    """torch.optim.Adam(parameters, lr, weight_decay=weight_decay) with its default betas and eps, no AMSGrad."""

    def __init__(self, parameters: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0) -> None:
        super().__init__(parameters, lr, weight_decay)
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.state: dict[int, tuple[Tensor, Tensor]] = {}
        self.step_count = 0  # one count for all: every parameter of these models gets a gradient at every step

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        parameters, grads = self._with_gradients()
        if not parameters:
            return
        for p in parameters:
            if id(p) not in self.state:
                self.state[id(p)] = (torch.zeros_like(p), torch.zeros_like(p))
        averages = [self.state[id(p)][0] for p in parameters]
        average_squares = [self.state[id(p)][1] for p in parameters]
        self.step_count += 1
        torch._foreach_lerp_(averages, grads, 1 - beta1)
        torch._foreach_mul_(average_squares, beta2)
        torch._foreach_addcmul_(average_squares, grads, grads, value=1 - beta2)
        denominators = torch._foreach_sqrt(average_squares)
        torch._foreach_div_(denominators, (1 - beta2**self.step_count) ** 0.5)
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(parameters, averages, denominators, value=-self.lr / (1 - beta1**self.step_count))
