"""The schedules in real runs on the tiny data set (8 optimizer steps an epoch): late rewinding and reinit with a
fresh optimizer per retraining, AGP's mask updates at t0 + kΔt along the cubic, and ln-structured's norm.
The run waits at each event it yields, so a test looks at the model as the event found it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from prunetui.describe import describe
from prunetui.engine import EpochEnd, Event, ExperimentConfig, Failed, Pruned, Rewound, RunStarted
from prunetui.engine.analyses import Progress, SweepEnded, SweepSpec
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.core import experiment as experiment_module
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.models import build_model
from prunetui.engine.pruning.allocation import prune_to
from prunetui.engine.pruning.masks import reinit_seed
from tests.engine_helpers import of_type, run


class RecordingOptimizers:
    """Wraps make_optimizer: every optimizer made, and each parameter's value after the `keep`-th step of the
    first one (the first training)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, keep: int) -> None:
        self.made: list[object] = []
        self.kept: dict[nn.Parameter, torch.Tensor] = {}
        real = experiment_module.make_optimizer

        def make(*args: Any, **kwargs: Any) -> torch.optim.Optimizer:
            optimizer = real(*args, **kwargs)
            self.made.append(optimizer)
            if len(self.made) == 1:
                steps = [0]

                def counted(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
                    steps[0] += 1
                    if steps[0] == keep:
                        parameters = [p for group in optimizer.param_groups for p in group["params"]]
                        self.kept = {p: p.detach().clone() for p in parameters}

                optimizer.register_step_post_hook(counted)
            return optimizer

        monkeypatch.setattr(experiment_module, "make_optimizer", make)


def test_late_rewinding_goes_back_to_the_weights_after_k_steps_and_retrains_with_a_fresh_optimizer(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimizers = RecordingOptimizers(monkeypatch, keep=5)
    config = tiny_config.replace(schedule="iterative", rounds=2, sparsity=0.75, rewind=True, rewind_step=5)
    experiment = Experiment(config, download=False)
    events: list[Event] = []
    for event in experiment.run():
        events.append(event)
        if isinstance(event, Rewound):
            assert optimizers.kept and all(torch.equal(p, value) for p, value in optimizers.kept.items())
    rewound = of_type(events, Rewound)
    assert [(e.round, e.to_step) for e in rewound] == [(1, 5), (2, 5)]
    assert describe(rewound[0]).startswith("round 1: survivors rewound to step 5, accuracy ")
    initial = build_model("lenet5")  # seed 0, as the run's
    assert not torch.equal(next(iter(optimizers.kept.values())), next(initial.parameters()))  # step 5 is not init
    # Each round retrains the full 2 epochs, each phase with an optimizer of its own (no momentum carried over).
    epoch_ends = of_type(events, EpochEnd)
    assert [(e.phase, e.round, e.epochs) for e in epoch_ends if e.epoch == 1] == [
        ("train", 0, 2), ("retrain", 1, 2), ("retrain", 2, 2)
    ]  # fmt: skip
    assert len(epoch_ends) == of_type(events, RunStarted)[0].total_epochs == 6
    assert len(optimizers.made) == len({id(o) for o in optimizers.made}) == 3


def test_rewinding_to_the_end_of_training_is_allowed_and_beyond_it_fails_saying_how_many_steps_there_are(
    tiny_config: ExperimentConfig,
) -> None:
    config = tiny_config.replace(rewind=True, rewind_step=16, sparsity=0.5)  # 2 epochs of 8 steps
    events, experiment = run(config)
    assert of_type(events, Rewound)[0].to_step == 16
    events, experiment = run(config.replace(rewind_step=17), finished=False)
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.summary is None and experiment.model is None  # before the model
    assert failed.message == (
        "--rewind-step 17 is beyond the first training, which has 16 optimizer steps (2 epochs of 8 batches)"
    )


def test_reinit_keeps_the_masks_and_draws_fresh_weights(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(sparsity=0.7, seed=3, finetune_epochs=0)
    at_rewind: dict[bool, tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = {}
    for reinit in (False, True):
        experiment = Experiment(config.replace(rewind=not reinit, reinit=reinit), download=False)
        for event in experiment.run():
            if isinstance(event, Rewound):
                assert experiment.model is not None
                layers = weight_layers(experiment.model)
                at_rewind[reinit] = (
                    {name: m.weight_mask.clone() for name, m in layers},
                    {name: m.weight.detach().clone() for name, m in layers},
                )
                assert event.to_step == (None if reinit else 0)
    (rewind_masks, rewound), (reinit_masks, reinitialised) = at_rewind[False], at_rewind[True]
    assert rewind_masks.keys() == reinit_masks.keys()
    assert all(torch.equal(rewind_masks[name], reinit_masks[name]) for name in rewind_masks)  # one-shot: same masks
    torch.manual_seed(reinit_seed(3, 1))
    fresh = dict(weight_layers(build_model("lenet5")))
    for name, weight in reinitialised.items():
        assert torch.equal(weight, fresh[name].weight * reinit_masks[name]), name
        assert not torch.equal(weight, rewound[name]), name  # not the rewound (initial) weights


def zeros(model: nn.Module, layers: tuple[str, ...]) -> dict[str, int]:
    return {name: int((model.get_submodule(name).weight == 0).sum()) for name in layers}


def test_agp_updates_the_masks_at_t0_plus_k_delta_t_along_the_cubic(tiny_config: ExperimentConfig) -> None:
    s_i, s_f, t0, n, dt = 0.2, 0.8, 2, 4, 3  # updates at steps 2, 5, 8, 11, 14 of 16
    config = tiny_config.replace(
        schedule="agp", sparsity=s_f, rounds=n, agp_initial_sparsity=s_i, agp_start_step=t0, agp_interval=dt
    )
    experiment = Experiment(config, download=False)
    seen: list[tuple[int, dict[str, int]]] = []
    layers = config.prunable_layer_names
    for event in experiment.run():
        if isinstance(event, Pruned):
            assert experiment.model is not None
            seen.append((event.step, zeros(experiment.model, layers)))
    assert [step for step, _ in seen] == [t0 + k * dt for k in range(n + 1)]
    sizes = {name: build_model("lenet5").get_submodule(name).weight.numel() for name in layers}
    for (step, counted), k in zip(seen, range(n + 1), strict=True):
        expected = s_f + (s_i - s_f) * (1 - (step - t0) / (n * dt)) ** 3
        assert counted == {name: round(expected * sizes[name]) for name in layers}, k
    events = of_type(list(Experiment(config.replace(agp_interval=4), download=False).run()), Failed)
    assert events[0].message.startswith("agp's last mask update, at step t0 + nΔt = 2 + 4 × 4 = 18, is not within")


def test_ln_structured_ranks_rows_by_the_norm_the_config_names() -> None:
    # Row 0: L1 4, L2 2. Row 1: L1 3, L2 3. L1 removes row 1, L2 row 0.
    rows = torch.tensor([[1.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]])
    removed = {}
    for norm in ("l1", "l2"):
        layer = nn.Linear(4, 2)
        with torch.no_grad():
            layer.weight.copy_(rows)
        criterion = ExperimentConfig(criterion="ln-structured", structured_norm=norm).pruning_criterion
        prune_to([("fc", layer)], criterion, {"fc": 0.5})
        removed[norm] = [i for i in range(2) if bool((layer.weight[i] == 0).all())]
    assert removed == {"l1": [1], "l2": [0]}


def test_an_l1_structured_run_removes_the_rows_of_smallest_l1_norm(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(criterion="ln-structured", structured_norm="l1", sparsity=0.5, finetune_epochs=0)
    experiment = Experiment(config, download=False)
    before: dict[str, torch.Tensor] = {}
    differs = []
    for event in experiment.run():
        if isinstance(event, EpochEnd) and experiment.model is not None:
            before = {name: m.weight.detach().flatten(1).clone() for name, m in weight_layers(experiment.model)}
        if isinstance(event, Pruned):
            assert experiment.model is not None
            for name in config.prunable_layer_names:
                gone = (experiment.model.get_submodule(name).weight.flatten(1) == 0).all(1)
                l1, l2 = before[name].abs().sum(1), before[name].norm(dim=1)
                count = int(gone.sum())
                assert set(gone.nonzero().flatten().tolist()) == set(l1.argsort()[:count].tolist()), name
                differs.append(set(l1.argsort()[:count].tolist()) != set(l2.argsort()[:count].tolist()))
    assert any(differs)  # on these weights L2 would have removed other rows: the norm made a difference


def test_a_sweep_point_that_rewinds_trains_from_scratch(
    tiny_config: ExperimentConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[ExperimentConfig, object]] = []

    class Recorded(Experiment):
        def __init__(self, config: ExperimentConfig, **kwargs: Any) -> None:
            started.append((config, kwargs.get("start_from")))
            super().__init__(config, **kwargs)

    monkeypatch.setattr("prunetui.engine.analyses.sweep_jobs.Experiment", Recorded)
    spec = SweepSpec(tiny_config.replace(rewind=True), ("l1:layer:one-shot",), (0.5,))
    events = list(Sweep(spec, tmp_path / "sweep", download=False).run())
    assert isinstance(events[-1], SweepEnded)
    (dense, _), (point, start_from) = started
    assert not dense.rewind
    # Not pruned from the dense model with epochs=0 (it would retrain 0 epochs): its own 2, then 2 more.
    assert (point.epochs, point.rewind, start_from, point.total_epochs) == (2, True, None, 4)
    rewound = [e.event for e in events if isinstance(e, Progress) and isinstance(e.event, Rewound)]
    assert [e.to_step for e in rewound] == [0]
