"""How the target sparsity is approached: the cumulative target after each round, and the plan of training,
pruning and fine-tuning steps the experiment follows. Plain Python, no torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Round:
    number: int  # from 1
    targets: dict[str, float]  # each prunable layer's cumulative sparsity after this round


@dataclass(frozen=True, slots=True)
class Train:
    """The training epochs; `prune_at` holds the rounds to prune before the optimizer step they are keyed by."""

    prune_at: Mapping[int, tuple[Round, ...]]


@dataclass(frozen=True, slots=True)
class Prune:
    round: Round


@dataclass(frozen=True, slots=True)
class FineTune:
    round: int


Step = Train | Prune | FineTune


class Schedule:
    name: ClassVar[str]  # the value of --schedule
    has_rounds: ClassVar[bool] = True  # prunes in --rounds rounds (else once)
    prunes_while_training: ClassVar[bool] = False  # prunes during the training epochs, not after them

    def fractions(self, sparsity: float, rounds: int) -> list[float]:
        """The cumulative sparsity after each round; the last is always `sparsity`."""
        raise NotImplementedError

    def fine_tunings(self, rounds: int) -> int:
        """How many times the plan fine-tunes: after every round."""
        return rounds

    def rounds(self, layer_targets: Mapping[str, float], count: int) -> list[Round]:
        """Per round, the cumulative sparsity of each layer: each follows the schedule towards its own final target,
        so the last round reaches every one of them."""
        per_layer = {name: self.fractions(target, count) for name, target in layer_targets.items()}
        return [Round(k + 1, {name: fractions[k] for name, fractions in per_layer.items()}) for k in range(count)]

    def plan(self, rounds: list[Round], training_steps: int) -> list[Step]:
        """Train, then prune and fine-tune round by round."""
        return [Train({}), *(step for round_ in rounds for step in (Prune(round_), FineTune(round_.number)))]


class OneShot(Schedule):
    name = "one-shot"
    has_rounds = False

    def fractions(self, sparsity: float, rounds: int) -> list[float]:
        return [sparsity]


class Iterative(Schedule):
    """The same fraction of the survivors each round (Frankle & Carbin)."""

    name = "iterative"

    def fractions(self, sparsity: float, rounds: int) -> list[float]:
        return [1 - (1 - sparsity) ** (k / rounds) for k in range(1, rounds)] + [sparsity]


class AGP(Schedule):
    """Zhu & Gupta's cubic ramp, fast at first while there are many redundant weights, pruning during training."""

    name = "agp"
    prunes_while_training = True

    def fractions(self, sparsity: float, rounds: int) -> list[float]:
        return [sparsity * (1 - (1 - k / rounds) ** 3) for k in range(1, rounds)] + [sparsity]

    def fine_tunings(self, rounds: int) -> int:
        return 1  # once, after the training its rounds fall in

    def plan(self, rounds: list[Round], training_steps: int) -> list[Step]:
        """Prune at steps spread over training, then fine-tune once. With fewer steps than rounds several rounds
        fall on one step: all of them run, in order."""
        prune_at: dict[int, tuple[Round, ...]] = {}
        for step, round_ in zip(agp_prune_steps(training_steps, len(rounds)), rounds, strict=True):
            prune_at[step] = (*prune_at.get(step, ()), round_)
        return [Train(prune_at), FineTune(len(rounds))]


def agp_prune_steps(total_steps: int, rounds: int) -> list[int]:
    """Optimizer steps (0-based, before which to prune) spread evenly so the last prune leaves time to recover."""
    return [total_steps * k // (rounds + 1) for k in range(1, rounds + 1)]
