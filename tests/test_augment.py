"""Augmentation checked for what it does: crops within the padding, flips left to right, the same seed the same
batches, and test images never touched."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunetui.engine.core.augment import PADDING, crop_flip, draw
from prunetui.engine.core.data.loading import Split
from prunetui.engine.core.data.specs import augmentation
from prunetui.engine.core.training import Trainer, evaluate, make_optimizer

CPU = torch.device("cpu")


def _distinct_images(count: int = 32, channels: int = 2, size: int = 8) -> torch.Tensor:
    """Every pixel a different positive number, so where each output pixel came from can be told."""
    return torch.arange(1, count * channels * size * size + 1, dtype=torch.float32).reshape(count, channels, size, size)


def test_each_image_is_its_padded_self_cropped_at_its_offset_and_flipped_where_drawn() -> None:
    images = _distinct_images()
    draws = draw(len(images), torch.Generator().manual_seed(0), CPU)
    out = crop_flip(images, draws.rows, draws.columns, draws.flips)
    assert out.shape == images.shape
    assert draws.rows.min() >= 0 and draws.rows.max() <= 2 * PADDING and draws.columns.max() <= 2 * PADDING
    assert draws.flips.any() and not draws.flips.all() and len(set(draws.rows.tolist())) > 3
    padded = F.pad(images, (PADDING,) * 4)
    for i in range(len(images)):
        r, c = int(draws.rows[i]), int(draws.columns[i])
        window = padded[i, :, r : r + 8, c : c + 8]
        assert torch.equal(out[i], window.flip(2) if draws.flips[i] else window)
        # Nothing from another image: each pixel is the image's own or padding (zero).
        own = set(images[i].flatten().tolist()) | {0.0}
        assert set(out[i].flatten().tolist()) <= own


def test_a_flip_is_left_to_right_and_keeps_rows() -> None:
    images = _distinct_images(4)
    centred = torch.full((4,), PADDING)
    flipped = crop_flip(images, centred, centred, torch.ones(4, dtype=torch.bool))
    kept = crop_flip(images, centred, centred, torch.zeros(4, dtype=torch.bool))
    assert torch.equal(flipped, images.flip(3)) and torch.equal(kept, images)


def _trainer(seed: int, data: Split, model: nn.Module) -> Trainer:
    return Trainer(model, data, 8, torch.Generator().manual_seed(seed), threading.Event(), augment=True)


def _batches_seen(seed: int, data: Split, epochs: int = 1, skip: int = 0) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 3))
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].clone()))
    trainer = _trainer(seed, data, model)
    trainer.skip_epochs(skip)
    optimizer = make_optimizer(model, "sgd", 0.01)
    for _ in range(epochs):
        list(trainer.epoch(optimizer))
    return seen


def _split() -> Split:
    images = torch.randn(32, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    return Split(images, torch.arange(32) % 3)


def test_the_same_seed_gives_the_same_augmented_batches_and_another_seed_others() -> None:
    data = _split()
    first, again, other = _batches_seen(0, data), _batches_seen(0, data), _batches_seen(1, data)
    assert len(first) == 4 and all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    # Augmented: not one batch is a plain slice of the training images.
    assert not any(torch.equal(batch, data.images[index]) for batch in first for index in torch.arange(32).split(8))


def test_a_resumed_trainer_draws_what_the_skipped_epochs_would_have() -> None:
    data = _split()
    two_epochs = _batches_seen(0, data, epochs=2)
    resumed = _batches_seen(0, data, epochs=1, skip=1)
    # Same inputs as the second epoch of an unbroken run (the weights differ, the batches do not).
    assert all(torch.equal(a, b) for a, b in zip(two_epochs[4:], resumed, strict=True))


def test_test_images_are_never_augmented_and_the_training_tensors_stay_as_they_were() -> None:
    data, test = _split(), Split(torch.randn(20, 2, 8, 8), torch.arange(20) % 3)
    before = data.images.clone()
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 8 * 8, 3))
    list(_trainer(0, data, model).epoch(make_optimizer(model, "sgd", 0.01)))
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].clone()))
    evaluate(model, test)
    assert torch.equal(torch.cat(seen), test.images) and torch.equal(data.images, before)


@pytest.mark.parametrize(
    ("augment", "dataset", "does"),
    [
        ("auto", "cifar10", "crop-flip"),
        ("auto", "cifar100", "crop-flip"),
        ("auto", "fashion-mnist-mini", "none"),  # the LeNets' numbers on the built-ins stay as they were
        ("auto", "imagefolder:pets", "none"),
        ("crop-flip", "mnist", "crop-flip"),
        ("none", "cifar10", "none"),
    ],
)
def test_auto_augments_the_cifar_sets_only(augment: str, dataset: str, does: str) -> None:
    assert augmentation(augment, dataset) == does
