"""The learning rate at each optimizer step of a training phase. Plain Python, no torch.

torch.optim.lr_scheduler drives torch.optim's optimizers only (and importing it imports torch._dynamo), so the
training loop sets the rate itself, before every batch. Each phase (the training epochs, each fine-tune or
retraining) starts again from its own base rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LR_SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True, slots=True)
class LRSchedule:
    """`name` is one of LR_SCHEDULES; `step_epochs` and `gamma` are the step schedule's (as torch's StepLR)."""

    name: str = "constant"
    step_epochs: int = 1
    gamma: float = 0.1

    def lr_at(self, base: float, step: int, steps_per_epoch: int, total_steps: int) -> float:
        """The rate of optimizer step `step` (from 0) of a phase of `total_steps` steps.

        constant: `base` throughout. step: `base` times `gamma` for every `step_epochs` whole epochs done.
        cosine: half a cosine from `base` down towards 0, per step (torch's CosineAnnealingLR with
        T_max = total_steps, eta_min = 0, stepped every batch): `base` / 2 half way.
        """
        if self.name == "step":
            return base * self.gamma ** (step // steps_per_epoch // self.step_epochs)
        if self.name == "cosine":
            return base * 0.5 * (1 + math.cos(math.pi * step / max(total_steps, 1)))
        return base
