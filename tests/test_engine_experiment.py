"""The experiment as a stream of events: its shape, rewinding, reproducibility, stopping and failing."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch

from prunetui.engine import (
    EpochEnd,
    Event,
    ExperimentConfig,
    Failed,
    Finished,
    Pruned,
    Rewound,
    RunStarted,
    Status,
    StepLoss,
    Stopped,
)
from prunetui.engine.core.experiment import Experiment, at_chance
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.models import build_model
from tests.engine_helpers import of_type, run

TERMINAL = (Finished, Stopped, Failed)


@pytest.mark.parametrize(
    ("schedule", "rounds", "epochs", "finetune_epochs", "expected_epoch_ends"),
    [("one-shot", 4, 2, 1, 3), ("iterative", 3, 1, 2, 7), ("agp", 3, 2, 1, 3), ("iterative", 2, 0, 0, 0)],
)
def test_event_stream_shape(
    schedule: str,
    rounds: int,
    epochs: int,
    finetune_epochs: int,
    expected_epoch_ends: int,
    tiny_config: ExperimentConfig,
) -> None:
    config = tiny_config.replace(schedule=schedule, rounds=rounds, epochs=epochs, finetune_epochs=finetune_epochs)
    events, _ = run(config)
    started = events.index(next(e for e in events if isinstance(e, RunStarted)))
    assert all(isinstance(e, Status) for e in events[:started])  # only "loading …" messages come before it
    assert len(of_type(events, RunStarted)) == 1
    assert [isinstance(e, TERMINAL) for e in events] == [False] * (len(events) - 1) + [True]
    run_started = of_type(events, RunStarted)[0]
    sizes = (run_started.train_size, run_started.validation_size, run_started.test_size)
    assert sizes == (461, 51, 256) and run_started.steps_per_epoch == 8  # 10 % of 512 held out for validation
    assert run_started.layers == ("conv1", "conv2", "fc1", "fc2", "fc3")
    assert run_started.parameters == 61_706
    epoch_ends = of_type(events, EpochEnd)
    assert len(epoch_ends) == expected_epoch_ends == run_started.total_epochs
    assert [e.epoch for e in epoch_ends if e.phase == "train"] == list(range(1, epochs + 1))
    assert len(of_type(events, Pruned)) == config.rounds_used
    assert all(e.step == i * 8 for i, e in enumerate(epoch_ends, start=1))  # steps count across phases
    losses = of_type(events, StepLoss)
    assert len(losses) == expected_epoch_ends  # 8 batches per epoch: one report, at the end of each epoch
    assert all(e.images_per_s > 0 and e.batch == e.batches == 8 for e in losses)


def test_summary_matches_the_last_events(tiny_config: ExperimentConfig) -> None:
    events, _ = run(tiny_config.replace(sparsity=0.5))
    summary = events[-1].summary  # type: ignore[union-attr]
    last_epoch, pruned = of_type(events, EpochEnd)[-1], of_type(events, Pruned)[0]
    assert summary.complete and summary.device == "cpu"
    assert (summary.accuracy, summary.test_loss) == (last_epoch.accuracy, last_epoch.test_loss)
    assert summary.dense_accuracy == pruned.accuracy_before == of_type(events, EpochEnd)[1].accuracy
    assert summary.val_accuracy == last_epoch.val_accuracy and summary.val_accuracy is not None
    assert summary.dense_val_accuracy == of_type(events, EpochEnd)[1].val_accuracy
    assert summary.dense_accuracy >= 0.9  # the tiny data set is learnable
    assert summary.sparsity == pruned.sparsity
    assert summary.compression == pytest.approx(61_706 / summary.sparsity.nonzero_parameters)
    assert 1.8 < summary.compression < 2.1  # half the weights gone, biases kept
    assert summary.images_per_s > 0 and summary.seconds > 0


def test_rewind_resets_surviving_weights_to_their_initial_values(tiny_config: ExperimentConfig) -> None:
    config = tiny_config.replace(rewind=True, sparsity=0.6, finetune_epochs=0, seed=7)
    experiment = Experiment(config, download=False)
    torch.manual_seed(7)
    initial = build_model("lenet5")
    events: list[Event] = []
    for event in experiment.run():  # the run waits at each event: the model is as the event found it
        events.append(event)
        if isinstance(event, Rewound):
            assert experiment.model is not None
            layers = zip(weight_layers(experiment.model), weight_layers(initial), strict=True)
            for (name, module), (_, fresh) in layers:
                mask = module.weight_mask
                assert torch.equal(module.weight, fresh.weight * mask), name  # survivors exactly at init, pruned zero
                assert torch.equal(module.bias, fresh.bias), name
                assert int((module.weight == 0).sum()) == int((mask == 0).sum()) == round(0.6 * mask.numel())
    rewound = of_type(events, Rewound)
    assert [(e.round, e.step, e.to_step) for e in rewound] == [(1, 16, 0)]  # after 2 epochs of 8 steps
    assert events.index(rewound[0]) == events.index(of_type(events, Pruned)[0]) + 1
    # Then the full training budget again, not the fine-tuning epochs (0 here), which ends far from init.
    assert [(e.phase, e.epoch, e.epochs) for e in of_type(events, EpochEnd)][2:] == [
        ("retrain", 1, 2),
        ("retrain", 2, 2),
    ]
    assert of_type(events, RunStarted)[0].total_epochs == 4
    assert experiment.model is not None and not torch.equal(
        experiment.model.fc1.weight, initial.fc1.weight * experiment.model.fc1.weight_mask
    )


def test_rewind_before_each_retraining_round(tiny_config: ExperimentConfig) -> None:
    events, _ = run(tiny_config.replace(rewind=True, schedule="iterative", rounds=3))
    kinds = [type(e).__name__ for e in events if isinstance(e, Pruned | Rewound | EpochEnd)]
    assert kinds == ["EpochEnd", "EpochEnd"] + ["Pruned", "Rewound", "EpochEnd", "EpochEnd"] * 3
    assert [e.round for e in of_type(events, Rewound)] == [1, 2, 3]


def numbers(events: list[Event]) -> list[tuple[object, ...]]:
    """Everything a run measured, timings left out."""
    timings = {"images_per_s", "seconds"}

    def measured(item: object) -> tuple[object, ...]:
        return tuple(
            measured(value) if dataclasses.is_dataclass(value) and not isinstance(value, ExperimentConfig) else value
            for name, value in ((f.name, getattr(item, f.name)) for f in dataclasses.fields(item))  # type: ignore[arg-type]
            if name not in timings
        )

    return [(type(e).__name__, *measured(e)) for e in events if not isinstance(e, Status)]


@pytest.mark.parametrize("criterion", ["l1", "random", "taylor"])
def test_same_seed_gives_the_same_numbers_and_another_seed_does_not(
    criterion: str, tiny_config: ExperimentConfig
) -> None:
    config = tiny_config.replace(criterion=criterion, schedule="iterative", rounds=2, sparsity=0.7, seed=3)
    config = config.replace(train_subset=128)  # 2 batches an epoch: a seed draws its batches, weights and masks
    first = run(config)[0]
    assert numbers(first) == numbers(run(config)[0])
    other = run(config.replace(seed=4))[0]
    # Layer scope prunes the same counts whatever the seed; the losses and accuracies must differ.
    for kind, field in ((StepLoss, "loss"), (EpochEnd, "accuracy")):
        assert [getattr(e, field) for e in of_type(first, kind)] != [getattr(e, field) for e in of_type(other, kind)]


@pytest.mark.parametrize("phase", ["train", "finetune"])
def test_stop_from_another_thread_ends_between_batches(phase: str, tiny_config: ExperimentConfig) -> None:
    # 8 images a batch: 64 batches an epoch, so the loss report after batch 20 is mid-epoch.
    experiment = Experiment(tiny_config.replace(batch_size=8, sparsity=0.5), download=False)
    events: list[Event] = []
    for event in experiment.run():
        events.append(event)
        if isinstance(event, StepLoss) and event.phase == phase:
            stopper = threading.Thread(target=experiment.stop)
            stopper.start()
            stopper.join()
    last_loss = of_type(events, StepLoss)[-1]
    assert (last_loss.phase, last_loss.epoch, last_loss.batch) == (phase, 1, 20)
    assert isinstance(events[-1], Stopped) and events[-2] is last_loss  # nothing ran after the stop
    summary = events[-1].summary
    assert not summary.complete
    assert len(of_type(events, Pruned)) == (phase == "finetune")
    assert (summary.dense_accuracy is None) == (phase == "train")
    assert summary.sparsity.global_sparsity == pytest.approx(0.5 if phase == "finetune" else 0.0, abs=0.005)


def test_stop_from_a_watching_thread_while_the_run_goes_on(tiny_config: ExperimentConfig) -> None:
    """The app's shape: the run iterates in a worker thread, the UI thread asks it to stop."""
    experiment = Experiment(tiny_config.replace(epochs=50, batch_size=8), download=False)
    events: list[Event] = []
    first_loss = threading.Event()

    def work() -> None:
        for event in experiment.run():
            events.append(event)
            if isinstance(event, StepLoss):
                first_loss.set()

    worker = threading.Thread(target=work)
    worker.start()
    assert first_loss.wait(30)
    experiment.stop()
    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(events[-1], Stopped) and not events[-1].summary.complete
    assert len(of_type(events, EpochEnd)) < 50


@pytest.mark.parametrize("model", ["lenet5", "lenet300"])
def test_diverging_loss_fails_with_a_hint_about_the_learning_rate(model: str, tiny_config: ExperimentConfig) -> None:
    # On all 512 images: on the 461 after the first 51, LeNet-5 at lr 10 ends stuck at chance without diverging.
    config = tiny_config.replace(model=model, optimizer="sgd", lr=10.0, validation_split=0.0)
    events = list(Experiment(config, download=False).run())
    failed = events[-1]
    assert isinstance(failed, Failed), failed
    assert "diverged" in failed.message and "learning rate" in failed.message
    assert "\n" not in failed.message and "Traceback" not in failed.message
    assert failed.summary is not None and not failed.summary.complete
    assert not of_type(events, EpochEnd)  # it diverged in the first epoch


def test_a_sane_learning_rate_does_not_trip_the_divergence_check(tiny_config: ExperimentConfig) -> None:
    # All 512 images, none held out: 3 epochs of 8 steps each on 461 leave it at 55 %, too near the bar for a test.
    events, _ = run(tiny_config.replace(optimizer="sgd", lr=0.05, epochs=3, validation_split=0.0))
    assert of_type(events, EpochEnd)[2].accuracy >= 0.6  # and it learns


@pytest.mark.parametrize(
    ("device", "name", "available"),
    [("cuda", "CUDA", torch.cuda.is_available()), ("mps", "MPS", torch.backends.mps.is_available())],
)
def test_a_device_this_machine_lacks_fails_with_a_readable_message(
    device: str, name: str, available: bool, tiny_config: ExperimentConfig
) -> None:
    if available:
        pytest.skip(f"needs a machine without {name}")
    events = list(Experiment(tiny_config.replace(device=device), download=False).run())
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].message == f"device {device} requested but {name} is not available here; use --device cpu or auto"
    assert events[0].summary is None


def test_an_unexpected_error_is_a_failed_event_not_a_crash(
    tiny_config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr("prunetui.engine.core.experiment.prune_to", broken)
    events = list(Experiment(tiny_config, download=False).run())
    assert isinstance(events[-1], Failed)
    assert events[-1].message.startswith("unexpected ValueError: boom (")
    assert events[-1].summary is not None and events[-1].summary.sparsity.global_sparsity == 0


def test_a_model_that_learned_nothing_is_said_to_be_at_chance_and_one_that_learned_is_not(
    tiny_config: ExperimentConfig,
) -> None:
    """A learning rate too high for the batch size can leave a model at chance without a nan: its pruned numbers,
    and a sensitivity analysis of it, would mean nothing, and the run said nothing."""
    collapsed, _ = run(tiny_config.replace(optimizer="sgd", lr=0.6, batch_size=16, epochs=1, finetune_epochs=0))
    [note] = [event.message for event in of_type(collapsed, Status) if "no better than chance" in event.message]
    assert note.startswith("note: after training the model is no better than chance (") and "on 10 classes" in note
    learned, _ = run(tiny_config)
    assert not [event for event in of_type(learned, Status) if "chance" in event.message]
    untrained, _ = run(tiny_config.replace(epochs=0, finetune_epochs=0))  # pruned as loaded, as a sweep's point is
    assert not [event for event in of_type(untrained, Status) if "chance" in event.message]
    assert at_chance(0.145, 10) and not at_chance(0.146, 10) and not at_chance(0.53, 2) and at_chance(0.52, 2)
    assert not at_chance(1.0, 1) and not at_chance(0.0, 0)  # no classes to guess among: nothing to say, no error
