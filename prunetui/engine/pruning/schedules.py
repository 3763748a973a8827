"""How the target sparsity is approached: the cumulative target after each round, and the plan of training,
pruning, rewinding and fine-tuning steps the experiment follows. Plain Python, no torch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from prunetui.engine.schema import FRACTION, STEPS, setting


@dataclass(frozen=True)
class Retraining:
    """The lottery-ticket settings, read by every schedule that prunes after training (`Schedule.retrains`)."""

    rewind: bool = setting(
        False,
        "lottery ticket (Frankle & Carbin): after each prune, survivors go back to their initial values and train "
        "--epochs again",
        roles=("plan",),
    )
    rewind_step: int = setting(
        0,
        "late rewinding: back to the weights after this many optimizer steps (0: initial)",
        interval=STEPS,
        roles=("plan",),
    )
    reinit: bool = setting(
        False, "control of --rewind: the same masks with fresh random weights, trained --epochs again", roles=("plan",)
    )


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """The settings a schedule reads, as plain numbers (the pruning package imports nothing of the config)."""

    rounds: int
    epochs: int
    finetune_epochs: int
    retrain: bool = False  # Frankle & Carbin: after each prune, survivors go back and train `epochs` again
    rewind_step: int = 0  # late rewinding: back to the weights after this many optimizer steps (0: initial)
    own: Any = None  # the schedule's own settings: an instance of its `settings` class (None: the defaults)


@dataclass(frozen=True, slots=True)
class Round:
    number: int  # from 1
    targets: dict[str, float]  # each prunable layer's cumulative sparsity after this round


@dataclass(frozen=True, slots=True)
class Train:
    """The training epochs; `prune_at` holds the rounds to prune before the optimizer step they are keyed by;
    the weights after `keep_at` optimizer steps are kept for rewinding (None: the initial weights are)."""

    epochs: int
    prune_at: Mapping[int, tuple[Round, ...]]
    keep_at: int | None = None


@dataclass(frozen=True, slots=True)
class Prune:
    round: Round


@dataclass(frozen=True, slots=True)
class Rewind:
    """Survivors go back to the kept weights (or fresh random ones, under reinit); masks stay."""

    round: int


@dataclass(frozen=True, slots=True)
class FineTune:
    round: int
    epochs: int
    retrain: bool = False  # after a rewind or reinit: training again, not fine-tuning

    @property
    def phase(self) -> str:
        """The phase of its events: "retrain" or "finetune"."""
        return "retrain" if self.retrain else "finetune"


Step = Train | Prune | Rewind | FineTune


class Schedule:
    name: ClassVar[str]  # the value of --schedule
    has_rounds: ClassVar[bool] = True  # prunes in --rounds rounds (else once)
    prunes_while_training: ClassVar[bool] = False  # prunes during the training epochs, not after them
    # Its own settings, which only this kind of schedule reads: a frozen dataclass of `schema.setting` fields, which
    # the config schema composes (flags, TOML keys, the form); the plan gets them as `PlanSettings.own`.
    settings: ClassVar[type | None] = None

    def fractions(self, sparsity: float, settings: PlanSettings) -> list[float]:
        """The cumulative sparsity after each round; the last is always `sparsity`."""
        raise NotImplementedError

    def round_count(self, settings: PlanSettings) -> int:
        return settings.rounds if self.has_rounds else 1

    def retrains(self, settings: PlanSettings) -> bool:
        """Whether survivors go back and train the full budget after each prune (not while training prunes)."""
        return settings.retrain and not self.prunes_while_training

    def fine_tunings(self, settings: PlanSettings) -> int:
        """How many times the plan fine-tunes (or retrains): after every round."""
        return self.round_count(settings)

    def recovery_epochs(self, settings: PlanSettings) -> int:
        """The epochs of each fine-tuning: under retraining, the full training budget."""
        return settings.epochs if self.retrains(settings) else settings.finetune_epochs

    def total_epochs(self, settings: PlanSettings) -> int:
        return settings.epochs + self.fine_tunings(settings) * self.recovery_epochs(settings)

    def rounds(self, layer_targets: Mapping[str, float], settings: PlanSettings) -> list[Round]:
        """Per round, the cumulative sparsity of each layer: each follows the schedule towards its own final target,
        so the last round reaches every one of them."""
        per_layer = {name: self.fractions(target, settings) for name, target in layer_targets.items()}
        count = self.round_count(settings)
        return [Round(k + 1, {name: fractions[k] for name, fractions in per_layer.items()}) for k in range(count)]

    def plan(self, rounds: list[Round], settings: PlanSettings, steps_per_epoch: int) -> list[Step]:
        """Train, then prune and fine-tune round by round; under retraining, rewind before each retraining."""
        keep_at = settings.rewind_step if self.retrains(settings) and settings.rewind_step else None
        return [Train(settings.epochs, {}, keep_at), *(s for r in rounds for s in self._after(r, settings))]

    def _after(self, round_: Round, settings: PlanSettings) -> tuple[Step, ...]:
        retrains = self.retrains(settings)
        finetune = FineTune(round_.number, self.recovery_epochs(settings), retrains)
        return (Prune(round_), Rewind(round_.number), finetune) if retrains else (Prune(round_), finetune)

    def target_problems(self, settings: PlanSettings, targets: Mapping[str, float]) -> dict[str, str]:
        """Its own settings that cannot reach these layer targets, as {setting name: why}."""
        return {}

    def problem(self, settings: PlanSettings, steps_per_epoch: int) -> str | None:
        """Why the plan cannot run on a data set of `steps_per_epoch` batches per epoch; None when it can."""
        steps = settings.epochs * steps_per_epoch
        if self.retrains(settings) and settings.rewind_step > steps:
            return (
                f"--rewind-step {settings.rewind_step:,} is beyond the first training, which has {steps:,} optimizer "
                f"steps ({_epochs_text(settings.epochs, steps_per_epoch)})"
            )
        return None


class OneShot(Schedule):
    name = "one-shot"
    has_rounds = False

    def fractions(self, sparsity: float, settings: PlanSettings) -> list[float]:
        return [sparsity]


class Iterative(Schedule):
    """The same fraction of the survivors each round (Frankle & Carbin)."""

    name = "iterative"

    def fractions(self, sparsity: float, settings: PlanSettings) -> list[float]:
        rounds = settings.rounds
        return [1 - (1 - sparsity) ** (k / rounds) for k in range(1, rounds)] + [sparsity]


@dataclass(frozen=True)
class AGPSettings:
    """AGP's own settings, in Zhu & Gupta's notation."""

    agp_initial_sparsity: float = setting(
        0.0, "agp: s_i, the sparsity of the first mask update, in [0, 1)", interval=FRACTION, roles=("plan",)
    )
    agp_start_step: int = setting(
        0, "agp: t0, the optimizer step of the first mask update", interval=STEPS, roles=("plan",)
    )
    agp_interval: int = setting(
        0, "agp: Δt, optimizer steps between mask updates (0: spread over training)", interval=STEPS, roles=("plan",)
    )


class AGP(Schedule):
    """Zhu & Gupta's cubic ramp, pruning during training: at steps t = t0 + kΔt, k = 0 … n, the sparsity is
    s_f + (s_i - s_f)(1 - k/n)³. The update at k = 0 (to s_i) is a round only when s_i > 0."""

    name = "agp"
    prunes_while_training = True
    settings = AGPSettings

    def fractions(self, sparsity: float, settings: PlanSettings) -> list[float]:
        n, initial = settings.rounds, _agp(settings).agp_initial_sparsity
        return [sparsity + (initial - sparsity) * (1 - k / n) ** 3 for k in range(_first_k(settings), n)] + [sparsity]

    def round_count(self, settings: PlanSettings) -> int:
        return settings.rounds + 1 - _first_k(settings)

    def fine_tunings(self, settings: PlanSettings) -> int:
        return 1  # once, after the training its rounds fall in

    def plan(self, rounds: list[Round], settings: PlanSettings, steps_per_epoch: int) -> list[Step]:
        """Prune at the ramp's steps during training, then fine-tune once. When several rounds fall on one step
        (more rounds than steps) all of them run, in order."""
        prune_at: dict[int, tuple[Round, ...]] = {}
        for step, round_ in zip(agp_prune_steps(settings, settings.epochs * steps_per_epoch), rounds, strict=True):
            prune_at[step] = (*prune_at.get(step, ()), round_)
        return [Train(settings.epochs, prune_at), FineTune(len(rounds), settings.finetune_epochs)]

    def target_problems(self, settings: PlanSettings, targets: Mapping[str, float]) -> dict[str, str]:
        initial, lowest = _agp(settings).agp_initial_sparsity, min(targets.values(), default=1.0)
        if initial > lowest:
            return {"agp_initial_sparsity": f"s_i {initial:g} is above the target sparsity {lowest:g}: masks only grow"}
        return {}

    def problem(self, settings: PlanSettings, steps_per_epoch: int) -> str | None:
        steps = settings.epochs * steps_per_epoch
        last = agp_prune_steps(settings, steps)[-1]
        if last < steps:
            return None
        own = _agp(settings)
        training = f"training has {steps:,} optimizer steps ({_epochs_text(settings.epochs, steps_per_epoch)})"
        if not own.agp_interval:
            return f"--agp-start-step {own.agp_start_step:,} is not within training: {training}"
        return (
            f"agp's last mask update, at step t0 + nΔt = {own.agp_start_step:,} + {settings.rounds} × "
            f"{own.agp_interval:,} = {last:,}, is not within training: {training}; --agp-interval 0 spreads the "
            "updates over the training, or lower --agp-start-step, --agp-interval or --rounds, or train longer"
        )


def agp_prune_steps(settings: PlanSettings, training_steps: int) -> list[int]:
    """The optimizer steps (0-based, before which to prune) of AGP's rounds: t0 + kΔt. With Δt = 0, Δt is
    (training steps - t0) / (n + 1): spread evenly, so the last prune leaves time to recover."""
    own = _agp(settings)
    n, t0, interval = settings.rounds, own.agp_start_step, own.agp_interval
    if interval:
        return [t0 + k * interval for k in range(_first_k(settings), n + 1)]
    return [t0 + (training_steps - t0) * k // (n + 1) for k in range(_first_k(settings), n + 1)]


def _agp(settings: PlanSettings) -> AGPSettings:
    """AGP's own settings in the plan settings; the defaults when they hold none."""
    return settings.own if isinstance(settings.own, AGPSettings) else AGPSettings()


def _first_k(settings: PlanSettings) -> int:
    """AGP's first mask update: at k = 0 to s_i, unless s_i is 0 (nothing to prune then)."""
    return 0 if _agp(settings).agp_initial_sparsity > 0 else 1


def _epochs_text(epochs: int, steps_per_epoch: int) -> str:
    return f"{epochs} epoch{'s' if epochs != 1 else ''} of {steps_per_epoch:,} batches"
