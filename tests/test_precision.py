"""--precision: bf16 and fp16 forward passes under autocast; fp16's loss scaling skips overflowing steps."""

from __future__ import annotations

import threading
import warnings

import pytest
import torch
from torch import nn

from prunetui.describe import describe
from prunetui.engine import Experiment, ExperimentConfig, Finished, RunStarted
from prunetui.engine.core.data.loading import Split
from prunetui.engine.core.lr_schedule import LRSchedule
from prunetui.engine.core.precision import INITIAL_SCALE, LossScale
from prunetui.engine.core.training import Trainer, make_optimizer


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_a_run_in_16_bits_learns_as_one_in_32(precision: str, tiny_config: ExperimentConfig) -> None:
    results, starts = {}, {}
    for each in ("fp32", precision):
        events = list(Experiment(tiny_config.replace(precision=each, validation_split=0.0)).run())
        assert isinstance(events[-1], Finished), events[-1]
        results[each] = events[-1].summary.dense_accuracy
        starts[each] = describe(next(event for event in events if isinstance(event, RunStarted))) or ""
    assert results["fp32"] > 0.9 and abs(results[precision] - results["fp32"]) < 0.05
    assert f"device cpu in {precision}: " in starts[precision] and "device cpu: " in starts["fp32"]  # the log says


def test_the_loss_scale_unscales_finite_gradients_and_skips_overflowing_ones() -> None:
    weight = nn.Parameter(torch.ones(3))
    weight.grad = torch.tensor([2.0, 4.0, 8.0]) * INITIAL_SCALE
    scale = LossScale()
    assert scale.unscale([weight]) and torch.equal(weight.grad, torch.tensor([2.0, 4.0, 8.0]))
    weight.grad = torch.tensor([1.0, float("inf"), 0.0])
    assert not scale.unscale([weight]) and (scale.scale, scale.skipped, scale.good_steps) == (INITIAL_SCALE / 2, 1, 0)


def test_fp16_training_recovers_from_a_scale_that_overflows() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    data = Split(torch.randn(256, 1, 4, 4), torch.arange(256) % 4)
    trainer = Trainer(model, data, 8, torch.Generator().manual_seed(0), threading.Event(), precision="fp16")
    trainer.loss_scale = LossScale(scale=2.0**30)  # fp16 tops out near 2**16: the first steps overflow
    before = model[1].weight.detach().clone()
    optimizer = make_optimizer(model, "sgd", 0.1)
    scheduler = LRSchedule("cosine").scheduler(optimizer, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not torch's warning that the schedule stepped before the optimizer did
        list(trainer.epoch(optimizer, scheduler))
    assert trainer.loss_scale.skipped > 0 and trainer.loss_scale.scale < 2.0**30
    assert model[1].weight.isfinite().all() and not torch.equal(model[1].weight, before)  # the later steps went
    assert scheduler.last_epoch == 32  # every batch moved the schedule on, the skipped ones too
