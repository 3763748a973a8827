"""Pruning: every criterion x scope x schedule reaches its target; schedules, caps, structure, Taylor scores."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunetui.engine import ConfigError, EpochEnd, ExperimentConfig, Pruned, SparsityReport
from prunetui.engine.core.config import SCOPES
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.pruning.registry import CRITERIA, SCHEDULES
from prunetui.engine.pruning.schedules import PlanSettings, agp_prune_steps
from prunetui.engine.pruning.taylor import taylor_scores
from tests.engine_helpers import of_type, run

TOLERANCE = 0.005  # reached global sparsity within half a percent of the target


def expected_targets(schedule: str, sparsity: float, rounds: int) -> list[float]:
    """The schedules as the issue states them, written out independently of the engine."""
    if schedule == "one-shot":
        return [sparsity]
    if schedule == "iterative":
        return [1 - (1 - sparsity) ** (k / rounds) for k in range(1, rounds + 1)]
    return [sparsity * (1 - (1 - k / rounds) ** 3) for k in range(1, rounds + 1)]


def zero_rows(model: nn.Module, layer: str) -> int:
    weight = model.get_submodule(layer).weight.flatten(1)
    zero = weight == 0
    assert torch.equal(zero.all(1), zero.any(1)), f"{layer}: a row is partly zero"  # whole rows or nothing
    return int(zero.all(1).sum())


def rows_of(model: nn.Module) -> dict[str, int]:
    return {name: module.weight.shape[0] for name, module in weight_layers(model)}


def compacted_nonzero(report: SparsityReport, targets: dict[str, float], rows: dict[str, int]) -> list[int]:
    """Per layer, the weights a compacted model keeps when each prunable layer lost round(target * rows) of its
    rows: its kept rows times the inputs still fed by a kept unit of the layer before."""
    kept, before = [], (1, 1)  # the image: one channel, kept
    for layer in report.layers:
        units = rows[layer.name] - round(targets.get(layer.name, 0.0) * rows[layer.name])
        per_input_unit = layer.total // rows[layer.name] // before[0]
        kept.append(units * per_input_unit * before[1])
        before = (rows[layer.name], units)
    return kept


def check_report(report: SparsityReport, target: float, config: ExperimentConfig, rows: dict[str, int]) -> None:
    """Global sparsity within the tolerance; per layer exact for layer scope. Structured: whole rows, and the
    next layer's inputs from them, counted as the compacted model keeps them."""
    if config.structured:
        targets = {layer.name: target for layer in report.layers if layer.prunable}
        assert [layer.nonzero for layer in report.layers] == compacted_nonzero(report, targets, rows)
        return
    assert abs(report.global_sparsity - target) <= TOLERANCE, (report.global_sparsity, target)
    for layer in report.layers:
        if not layer.prunable:
            assert layer.zeros == 0, f"{layer.name} is not prunable but has zeros"
        elif config.scope == "layer":
            assert layer.zeros == round(target * layer.total), layer.name


def check_reached(report: SparsityReport, target: float, config: ExperimentConfig, model: nn.Module) -> None:
    check_report(report, target, config, rows_of(model))
    if config.structured:
        for layer in report.layers[:-1]:
            assert zero_rows(model, layer.name) == round(target * rows_of(model)[layer.name]), layer.name


COMBINATIONS = [
    (criterion, scope, schedule)
    for criterion, scope, schedule in itertools.product(CRITERIA, SCOPES, SCHEDULES)
    if not (CRITERIA[criterion].structured and scope == "global")  # rejected by the config
]


@pytest.mark.parametrize(("criterion", "scope", "schedule"), COMBINATIONS)
def test_every_combination_reaches_its_target_sparsity(
    criterion: str, scope: str, schedule: str, tiny_config: ExperimentConfig
) -> None:
    config = tiny_config.replace(
        criterion=criterion,
        scope=scope,
        schedule=schedule,
        sparsity=0.9,
        rounds=3,
        epochs=1 if schedule == "agp" else 0,  # agp prunes during training; the others need no training here
        finetune_epochs=0,
    )
    events, experiment = run(config)
    pruned = of_type(events, Pruned)
    targets = [event.target_sparsity for event in pruned]
    assert targets == pytest.approx(expected_targets(schedule, 0.9, config.rounds_used), abs=1e-12)
    assert targets[-1] == pytest.approx(0.9, abs=1e-12)  # not a product of rounded rates
    assert [event.round for event in pruned] == list(range(1, config.rounds_used + 1))
    assert all(
        later.sparsity.global_sparsity > earlier.sparsity.global_sparsity
        for earlier, later in itertools.pairwise(pruned)
    )
    assert experiment.model is not None
    check_reached(pruned[-1].sparsity, 0.9, config, experiment.model)
    assert events[-1].summary.sparsity == pruned[-1].sparsity  # type: ignore[union-attr]


@pytest.mark.parametrize(("scope", "criterion"), [("layer", "l1"), ("global", "l1"), ("layer", "ln-structured")])
def test_iterative_rounds_each_reach_their_own_target(
    scope: str, criterion: str, tiny_config: ExperimentConfig
) -> None:
    config = tiny_config.replace(
        model="lenet300",
        scope=scope,
        criterion=criterion,
        schedule="iterative",
        sparsity=0.8,
        rounds=4,
        epochs=0,
        finetune_epochs=0,
    )
    events, experiment = run(config)
    pruned = of_type(events, Pruned)
    assert len(pruned) == 4
    for event, target in zip(pruned, expected_targets("iterative", 0.8, 4), strict=True):
        assert event.target_sparsity == pytest.approx(target, abs=1e-12)
        assert experiment.model is not None
        check_report(event.sparsity, target, config, rows_of(experiment.model))


@pytest.mark.parametrize(
    ("criterion", "schedule"), [("l1", "iterative"), ("random", "agp"), ("ln-structured", "iterative")]
)
def test_per_layer_targets_are_each_reached_on_the_schedule(
    criterion: str, schedule: str, tiny_config: ExperimentConfig
) -> None:
    config = tiny_config.replace(
        criterion=criterion,
        schedule=schedule,
        sparsity=0.6,
        layer_sparsity="conv1=0.25,fc1=0.95",
        rounds=3,
        epochs=1 if schedule == "agp" else 0,
        finetune_epochs=0,
    )
    events, experiment = run(config)
    assert experiment.model is not None
    sizes, rows = {layer: m.weight.numel() for layer, m in weight_layers(experiment.model)}, rows_of(experiment.model)
    final = {"conv1": 0.25, "conv2": 0.6, "fc1": 0.95, "fc2": 0.6}
    if not config.structured:
        final["fc3"] = 0.6
    pruned = of_type(events, Pruned)
    for k, event in enumerate(pruned):
        aims = {layer: expected_targets(schedule, target, 3)[k] for layer, target in final.items()}
        by_layer = {layer.name: layer for layer in event.sparsity.layers}
        if config.structured:  # whole rows (the row count is rounded), and the next layer's inputs from them
            nonzero = [layer.nonzero for layer in event.sparsity.layers]
            assert nonzero == compacted_nonzero(event.sparsity, aims, rows), k
        for layer, aim in aims.items():
            if not config.structured:
                assert by_layer[layer].zeros == round(aim * sizes[layer]), (k, layer)
        overall = sum(aims[layer] * sizes[layer] for layer in aims) / sum(sizes[layer] for layer in aims)
        assert event.target_sparsity == pytest.approx(overall, abs=1e-12)
    assert len(pruned) == 3
    if config.structured:
        assert {layer: zero_rows(experiment.model, layer) for layer in final} == {
            layer: round(target * rows[layer]) for layer, target in final.items()
        }


def rounds(n: int) -> PlanSettings:
    return PlanSettings(n, epochs=1, finetune_epochs=1)


def test_schedule_targets_known_values() -> None:
    assert SCHEDULES["one-shot"].fractions(0.9, rounds(1)) == [0.9]
    assert SCHEDULES["iterative"].fractions(0.9, rounds(2)) == pytest.approx([1 - math.sqrt(0.1), 0.9])
    assert SCHEDULES["iterative"].fractions(0.75, rounds(2)) == pytest.approx([0.5, 0.75])
    assert SCHEDULES["agp"].fractions(0.8, rounds(4)) == pytest.approx([0.4625, 0.7, 0.7875, 0.8])
    assert SCHEDULES["agp"].fractions(0.8, rounds(4))[-1] == 0.8


def test_agp_prune_steps_are_spread_evenly_before_the_end() -> None:
    assert agp_prune_steps(rounds(4), 100) == [20, 40, 60, 80]
    assert agp_prune_steps(rounds(3), 16) == [4, 8, 12]


def test_agp_prunes_during_training_at_its_steps(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(schedule="agp", sparsity=0.8, rounds=3, epochs=2, finetune_epochs=1)
    events, _ = run(config)
    steps_per_epoch = 512 // 64
    assert agp_prune_steps(rounds(3), 2 * steps_per_epoch) == [4, 8, 12]
    progress = [(type(e).__name__, e.step) for e in events if isinstance(e, Pruned | EpochEnd)]
    # Pruned before step 4 (mid epoch 1), at the start of epoch 2 and mid epoch 2; then one fine-tuning epoch.
    assert progress == [
        ("Pruned", 4),
        ("EpochEnd", 8),
        ("Pruned", 8),
        ("Pruned", 12),
        ("EpochEnd", 16),
        ("EpochEnd", 24),
    ]
    pruned = of_type(events, Pruned)
    assert [p.target_sparsity for p in pruned] == pytest.approx(expected_targets("agp", 0.8, 3), abs=1e-12)
    assert [abs(p.sparsity.global_sparsity - p.target_sparsity) <= TOLERANCE for p in pruned] == [True] * 3
    assert [e.phase for e in of_type(events, EpochEnd)] == ["train", "train", "finetune"]


def test_agp_with_more_rounds_than_steps_still_runs_every_round(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(schedule="agp", sparsity=0.9, rounds=10, epochs=1, finetune_epochs=0)  # 8 steps
    pruned = of_type(run(config)[0], Pruned)
    assert [p.round for p in pruned] == list(range(1, 11))
    assert [p.target_sparsity for p in pruned] == pytest.approx(expected_targets("agp", 0.9, 10), abs=1e-12)
    assert [p.step for p in pruned] == agp_prune_steps(rounds(10), 8)
    assert abs(pruned[-1].sparsity.global_sparsity - 0.9) <= TOLERANCE


@pytest.mark.parametrize("model", ["lenet5", "lenet300"])
def test_structured_pruning_zeroes_whole_rows_and_keeps_the_output_layer(
    model: str, tiny_config: ExperimentConfig
) -> None:
    config = tiny_config.replace(model=model, criterion="ln-structured", sparsity=0.5, epochs=1, finetune_epochs=1)
    events, experiment = run(config)
    assert experiment.model is not None
    report = events[-1].summary.sparsity  # type: ignore[union-attr]
    layers = [layer.name for layer in report.layers]
    assert [layer.name for layer in report.layers if not layer.prunable] == ["fc3"]
    assert report.layer("fc3").zeros == 10 * round(0.5 * report.layer("fc3").total / 10)  # fed by removed neurons
    assert not hasattr(experiment.model.fc3, "weight_mask")
    for name in layers[:-1]:  # fine-tuning kept the rows dead: half the filters / neurons are zero
        rows = experiment.model.get_submodule(name).weight.shape[0]
        assert zero_rows(experiment.model, name) == round(0.5 * rows)


def _max_layer(report: SparsityReport) -> float:
    return max(layer.sparsity for layer in report.layers if layer.prunable)


@pytest.mark.parametrize("criterion", ["l1", "taylor"])
@pytest.mark.parametrize("schedule", ["one-shot", "iterative"])
def test_global_scope_cap_keeps_every_layer_below_it_and_still_reaches_the_target(
    criterion: str, schedule: str, tiny_config: ExperimentConfig
) -> None:
    base = tiny_config.replace(
        model="lenet300",
        scope="global",
        criterion=criterion,
        schedule=schedule,
        sparsity=0.9,
        rounds=2,
        finetune_epochs=0,
    )
    uncapped = run(base)[0][-1].summary.sparsity  # type: ignore[union-attr]
    assert _max_layer(uncapped) > 0.91  # without the cap, fc1 takes more than its share
    capped = run(base.replace(max_layer_sparsity=0.91))[0][-1].summary.sparsity  # type: ignore[union-attr]
    assert _max_layer(capped) <= 0.91
    assert abs(capped.global_sparsity - 0.9) <= TOLERANCE  # feasible: 0.91 everywhere would be more than 0.9


def test_the_highest_reachable_target_prunes_each_layer_up_to_the_cap(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(model="lenet300", scope="global", max_layer_sparsity=0.5, epochs=0)
    config = config.replace(sparsity=config.reachable_sparsity())
    report = run(config)[0][-1].summary.sparsity  # type: ignore[union-attr]
    assert [layer.zeros for layer in report.layers] == [int(0.5 * layer.total) for layer in report.layers]
    with pytest.raises(ConfigError, match=r"global scope reaches at most 0\.5$"):
        Experiment(config.replace(sparsity=0.9))


@pytest.mark.parametrize("scope", SCOPES)
def test_keep_output_leaves_fc3_dense(scope: str, tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(model="lenet300", scope=scope, keep_output=True, sparsity=0.8, epochs=0)
    events, experiment = run(config)
    report = events[-1].summary.sparsity  # type: ignore[union-attr]
    assert report.layer("fc3") == report.layer("fc3").__class__("fc3", 0, 1000, prunable=False)
    assert abs(report.global_sparsity - 0.8) <= TOLERANCE  # over fc1 and fc2 only
    assert experiment.model is not None and not hasattr(experiment.model.fc3, "weight_mask")


def test_taylor_scores_are_weight_times_gradient() -> None:
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    model = nn.Sequential(layer)
    x, y = torch.tensor([[1.0, 0.5]]), torch.tensor([0])
    # logits = W x = (2, 5); dL/dlogits = softmax - onehot = (p0 - 1, p1); dL/dW = outer(dL/dlogits, x)
    p0 = math.exp(2) / (math.exp(2) + math.exp(5))
    grad = torch.tensor([[p0 - 1, (p0 - 1) * 0.5], [1 - p0, (1 - p0) * 0.5]])
    expected = (layer.weight.detach() * grad).abs()
    scores = taylor_scores(model, [("0", layer)], [(x, y), (x, y)])  # summed over the two batches
    torch.testing.assert_close(scores["0"], 2 * expected)
    # On a pruned layer the gradient is taken through weight_orig, and a pruned weight scores zero.
    prune.custom_from_mask(layer, "weight", torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    masked = taylor_scores(model, [("0", layer)], [(x, y)])
    assert masked["0"][0, 1] == 0 and masked["0"][1, 1] > 0
    assert layer.weight_orig.grad is None  # scoring leaves no gradients behind


def test_taylor_pruning_removes_the_lowest_scored_weights(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(criterion="taylor", sparsity=0.5, finetune_epochs=0)
    experiment = Experiment(config, download=False)
    captured: dict[str, torch.Tensor] = {}
    real = taylor_scores

    def capture(*args: object) -> dict[str, torch.Tensor]:
        captured.update(real(*args))  # type: ignore[arg-type]
        return captured

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("prunetui.engine.pruning.taylor.taylor_scores", capture)
        events = list(experiment.run())
    assert abs(events[-1].summary.sparsity.global_sparsity - 0.5) <= TOLERANCE  # type: ignore[union-attr]
    assert experiment.model is not None and set(captured) == {"conv1", "conv2", "fc1", "fc2", "fc3"}
    for name, scores in captured.items():
        mask = experiment.model.get_submodule(name).weight_mask.bool()
        assert scores[~mask].max() <= scores[mask].min(), name  # every pruned weight scored below every kept one
        assert not torch.equal(mask, experiment.model.get_submodule(name).weight_orig.abs() >= 0)  # something pruned
