"""The learning rate at each optimizer step of a training phase, as a factor of the phase's base rate. Plain
Python: the settings import it without torch.

torch's schedulers drive the optimizer (`scheduler`: a LambdaLR stepped after every batch), with these closed forms
as its factors. torch's own StepLR and CosineAnnealingLR compute each rate from the previous one, which differs from
the closed form in the last bits (a test shows it): the runs that used these schedules keep their numbers this way.
Each phase (the training epochs, each fine-tune or retraining) starts again from its own base rate.
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LambdaLR

LR_SCHEDULES = ("constant", "step", "multistep", "cosine")


def parse_milestones(text: str) -> tuple[int, ...]:
    """ "80, 120" -> (80, 120): epochs, each at least 1, rising; ValueError saying what is wrong."""
    milestones: list[int] = []
    for part in filter(None, (part.strip() for part in text.split(","))):
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"{part!r} is not an epoch (a whole number from 1), as in 80,120")
        if milestones and int(part) <= milestones[-1]:
            raise ValueError(f"{part} does not come after {milestones[-1]}: list the epochs in rising order")
        milestones.append(int(part))
    return tuple(milestones)


@dataclass(frozen=True, slots=True)
class LRSchedule:
    """`name` is one of LR_SCHEDULES; `step_epochs` is the step schedule's (as torch's StepLR), `milestones` the
    multistep schedule's (as torch's MultiStepLR: epochs of the phase, rising), `gamma` both's cut."""

    name: str = "constant"
    step_epochs: int = 1
    gamma: float = 0.1
    milestones: tuple[int, ...] = ()

    def factor(self, step: int, steps_per_epoch: int, total_steps: int) -> float:
        """The base rate's factor at optimizer step `step` (from 0) of a phase of `total_steps` steps.

        constant: 1 throughout. step: `gamma` for every `step_epochs` whole epochs done. multistep: `gamma` for
        every milestone at or below the whole epochs done (milestone 80 cuts the rate from epoch 81 on). cosine: half
        a cosine from 1 down towards 0, per step (torch's CosineAnnealingLR with T_max = total_steps, eta_min = 0,
        stepped every batch): 1/2 half way.
        """
        if self.name == "step":
            return self.gamma ** (step // steps_per_epoch // self.step_epochs)
        if self.name == "multistep":
            return self.gamma ** bisect.bisect_right(self.milestones, step // steps_per_epoch)
        if self.name == "cosine":
            return 0.5 * (1 + math.cos(math.pi * step / max(total_steps, 1)))
        return 1.0

    def scheduler(self, optimizer: Optimizer, steps_per_epoch: int, total_steps: int) -> LambdaLR:
        """torch's scheduler of one phase over `optimizer` (every param group from its own rate): step it after each
        optimizer step."""
        from torch.optim.lr_scheduler import LambdaLR

        return LambdaLR(
            optimizer, functools.partial(self.factor, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
        )
