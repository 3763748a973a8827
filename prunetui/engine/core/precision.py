"""`--precision`: the arithmetic of training's forward passes. fp32 is PyTorch's default; bf16 and fp16 run them
under autocast (matrix products and convolutions in 16 bits, reductions and the loss in 32), which tensor cores
run several times faster. fp16's narrow range needs the loss scaled (`LossScale`); bf16 has fp32's range.
The weights, gradients and optimizer state stay fp32 either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
GROWTH_INTERVAL = 2000  # torch.amp.GradScaler's defaults
INITIAL_SCALE = 2.0**16


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[object]:
    """The forward pass's context: autocast to bf16 or fp16, nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


@dataclass(slots=True)
class LossScale:
    """fp16's dynamic loss scaling, as torch.amp.GradScaler does it (that one wants a torch.optim optimizer): the
    loss is multiplied by `scale` before backward, so small gradients do not flush to zero in fp16; the gradients are
    divided by it before the step. A step whose gradients overflowed (inf or NaN) is skipped and the scale halved;
    after GROWTH_INTERVAL good steps in a row it doubles."""

    scale: float = INITIAL_SCALE
    good_steps: int = 0
    skipped: int = 0

    def unscale(self, parameters: Iterable[nn.Parameter]) -> bool:
        """Divide the gradients by the scale; whether they are all finite (else the step must be skipped)."""
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return True
        torch._foreach_mul_(grads, 1.0 / self.scale)
        finite = bool(torch.stack([g.isfinite().all() for g in grads]).all())
        if finite:
            self.good_steps += 1
            if self.good_steps == GROWTH_INTERVAL:
                self.scale, self.good_steps = self.scale * 2, 0
        else:
            self.scale, self.good_steps, self.skipped = self.scale / 2, 0, self.skipped + 1
        return finite
