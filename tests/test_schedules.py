"""The schedules' plans as plain Python, without training: Frankle & Carbin's rewinding and retraining, late
rewinding, and Zhu & Gupta's AGP with s_i, t0, n and Δt, written out independently of the engine."""

from __future__ import annotations

import pytest

from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SweepSpec
from prunetui.engine.pruning.registry import SCHEDULES
from prunetui.engine.pruning.schedules import (
    AGPSettings,
    FineTune,
    PlanSettings,
    Prune,
    Rewind,
    Round,
    Train,
    agp_prune_steps,
)

AGP, ITERATIVE, ONE_SHOT = SCHEDULES["agp"], SCHEDULES["iterative"], SCHEDULES["one-shot"]


def kinds(plan: list[object]) -> list[str]:
    return [type(step).__name__ for step in plan]


def test_rewinding_retrains_the_full_budget_after_every_round() -> None:
    settings = PlanSettings(3, epochs=5, finetune_epochs=1, retrain=True)
    rounds = ITERATIVE.rounds({"fc1": 0.9}, settings)
    plan = ITERATIVE.plan(rounds, settings, steps_per_epoch=100)
    assert plan[0] == Train(5, {}, None)  # rewinding to step 0: the initial weights, kept before training
    assert plan[1:] == [
        step for r in rounds for step in (Prune(r), Rewind(r.number), FineTune(r.number, 5, retrain=True))
    ]
    assert ITERATIVE.total_epochs(settings) == 5 + 3 * 5
    # Without rewinding: prune and fine-tune for finetune_epochs, nothing rewound.
    plain = PlanSettings(3, epochs=5, finetune_epochs=1)
    assert kinds(ITERATIVE.plan(rounds, plain, 100)) == ["Train"] + ["Prune", "FineTune"] * 3
    assert ITERATIVE.plan(rounds, plain, 100)[2] == FineTune(1, 1)
    assert ITERATIVE.total_epochs(plain) == 5 + 3 * 1


def test_late_rewinding_keeps_the_weights_after_k_steps_which_must_fall_within_training() -> None:
    settings = PlanSettings(1, epochs=2, finetune_epochs=1, retrain=True, rewind_step=40)
    assert ONE_SHOT.plan(ONE_SHOT.rounds({"fc1": 0.5}, settings), settings, 100)[0] == Train(2, {}, 40)
    assert ONE_SHOT.problem(settings, steps_per_epoch=100) is None
    assert ONE_SHOT.problem(settings, steps_per_epoch=20) is None  # k = 40 = the whole budget: the trained weights
    assert ONE_SHOT.problem(settings, steps_per_epoch=19) == (
        "--rewind-step 40 is beyond the first training, which has 38 optimizer steps (2 epochs of 19 batches)"
    )
    # Not rewinding: the step is not used, so it cannot be out of range.
    assert ONE_SHOT.problem(PlanSettings(1, 2, 1, rewind_step=40), 19) is None


def agp_expected(s_f: float, s_i: float, t0: int, n: int, dt: int) -> list[tuple[int, float]]:
    """Zhu & Gupta: s_t = s_f + (s_i - s_f)(1 - (t - t0)/(nΔt))³ at t = t0 + kΔt, k = 0 … n (k = 0 prunes nothing
    when s_i = 0)."""
    points = [(t0 + k * dt, s_f + (s_i - s_f) * (1 - (k * dt) / (n * dt)) ** 3) for k in range(n + 1)]
    return points if s_i > 0 else points[1:]


@pytest.mark.parametrize(("s_i", "t0", "n", "dt"), [(0.2, 10, 4, 25), (0.0, 0, 5, 7), (0.5, 3, 1, 1)])
def test_agp_updates_masks_at_t0_plus_k_delta_t_along_the_cubic(s_i: float, t0: int, n: int, dt: int) -> None:
    own = AGPSettings(agp_initial_sparsity=s_i, agp_start_step=t0, agp_interval=dt)
    settings = PlanSettings(n, epochs=3, finetune_epochs=1, own=own)
    rounds = AGP.rounds({"conv1": 0.6, "fc1": 0.9}, settings)
    plan = AGP.plan(rounds, settings, steps_per_epoch=50)
    assert kinds(plan) == ["Train", "FineTune"]
    train = plan[0]
    assert isinstance(train, Train)
    due = [(step, round_) for step, rounds_at in train.prune_at.items() for round_ in rounds_at]
    for layer, target in (("conv1", 0.6), ("fc1", 0.9)):
        expected = agp_expected(target, s_i, t0, n, dt)
        assert [step for step, _ in due] == [step for step, _ in expected]
        assert [r.targets[layer] for _, r in due] == pytest.approx([s for _, s in expected], abs=1e-12)
        assert due[-1][1].targets[layer] == target  # exactly the target at the end
    assert [r.number for _, r in due] == list(range(1, len(due) + 1))
    assert AGP.round_count(settings) == len(due) == n + (s_i > 0)
    assert AGP.problem(settings, steps_per_epoch=50) is None


def test_agp_without_an_interval_spreads_its_updates_from_t0_to_the_end_of_training() -> None:
    assert agp_prune_steps(PlanSettings(4, 1, 1), 100) == [20, 40, 60, 80]  # as before: t0 = 0, s_i = 0
    assert agp_prune_steps(PlanSettings(4, 1, 1, own=AGPSettings(agp_start_step=50)), 100) == [60, 70, 80, 90]
    assert agp_prune_steps(PlanSettings(4, 1, 1, own=AGPSettings(0.1, agp_start_step=50)), 100) == [50, 60, 70, 80, 90]


def test_agp_updates_that_do_not_fit_in_training_are_refused_naming_its_steps() -> None:
    fits = PlanSettings(4, epochs=2, finetune_epochs=1, own=AGPSettings(agp_start_step=10, agp_interval=20))  # at 90
    assert AGP.problem(fits, steps_per_epoch=46) is None  # 92 steps
    assert AGP.problem(fits, steps_per_epoch=45) == (
        "agp's last mask update, at step t0 + nΔt = 10 + 4 × 20 = 90, is not within training: training has 90 "
        "optimizer steps (2 epochs of 45 batches); --agp-interval 0 spreads the updates over the training, or lower "
        "--agp-start-step, --agp-interval or --rounds, or train longer"
    )
    late = PlanSettings(4, epochs=1, finetune_epochs=1, own=AGPSettings(agp_start_step=100))
    assert AGP.problem(late, steps_per_epoch=100) == (
        "--agp-start-step 100 is not within training: training has 100 optimizer steps (1 epoch of 100 batches)"
    )
    assert AGP.problem(late, steps_per_epoch=101) is None


def test_agp_s_i_adds_a_first_round() -> None:
    assert ExperimentConfig(schedule="agp", rounds=4).rounds_used == 4
    config = ExperimentConfig(schedule="agp", rounds=4, agp_initial_sparsity=0.3, sparsity=0.8)
    assert config.rounds_used == 5
    assert AGP.fractions(0.8, config.plan_settings) == pytest.approx(
        [0.3 + 0.5 * (1 - (1 - k / 4) ** 3) for k in range(5)]
    )
    assert AGP.rounds({"fc1": 0.8}, config.plan_settings)[0] == Round(1, {"fc1": pytest.approx(0.3)})


def test_sweep_points_that_rewind_train_from_scratch() -> None:
    """Rewinding goes back into the training and trains its budget again, so a sweep point cannot start from the
    trained dense model with epochs=0 as the others do."""
    base = ExperimentConfig(epochs=4)
    assert SweepSpec(base).point_config("l1:layer:one-shot", 0.5).epochs == 0
    assert SweepSpec(base.replace(rewind=True)).point_config("l1:layer:iterative", 0.5).epochs == 4
    assert SweepSpec(base.replace(reinit=True)).point_config("l1:layer:one-shot", 0.5).epochs == 4
    assert SweepSpec(base.replace(rewind=True)).point_config("l1:layer:agp", 0.5).epochs == 4
