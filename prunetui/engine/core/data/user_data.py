"""`package.module:factory` or `path/to/file.py:factory`: the user's own data set, as `--model` takes a network.

The factory is called with no arguments and returns (train, test): two datasets (anything with `len` and indexing,
a torch Dataset included) of (image tensor C x H x W, label). Images may be uint8 (0-255) or float (0-1); they are
read once into whole tensors. Class names come from the train dataset's `classes` when it has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from prunetui.engine.core.errors import BadDataError, ConfigError
from prunetui.engine.core.networks.user_code import load_factory
from prunetui.engine.pruning.structural import one_line


def load_user_data(target: str, attribute: str) -> tuple[dict[str, Tensor], tuple[str, ...], str]:
    """The factory's images (uint8 N x C x H x W) and labels of both splits, its class names and its name."""
    spec = f"{target}:{attribute}"
    try:
        factory = load_factory(target, attribute)
    except ConfigError as error:
        why = str(error).removeprefix("--model ").removeprefix(f"{spec}: ")  # what is left names the file
        raise BadDataError(f"--dataset {spec}: {why}") from None
    try:
        made = factory()
    except Exception as error:
        raise BadDataError(f"--dataset {spec} raised {one_line(error)}") from error
    if not (isinstance(made, (tuple, list)) and len(made) == 2):
        raise BadDataError(f"--dataset {spec} returned a {type(made).__name__}, not (train, test) datasets")
    tensors = {}
    for split, dataset in zip(("train", "test"), made, strict=True):
        tensors[f"{split}_images"], tensors[f"{split}_labels"] = _gather(dataset, f"{spec} ({split})")
    labels = torch.cat([tensors["train_labels"], tensors["test_labels"]])
    named = getattr(made[0], "classes", None)
    count = len(named) if isinstance(named, Sequence) and named else int(labels.max()) + 1
    classes = (
        tuple(str(name) for name in named) if isinstance(named, Sequence) and named else tuple(map(str, range(count)))
    )
    for split in ("train", "test"):
        outside = ((tensors[f"{split}_labels"] < 0) | (tensors[f"{split}_labels"] >= count)).nonzero()
        if len(outside):
            index = int(outside[0])
            raise BadDataError(
                f"--dataset {spec} ({split}): label {int(tensors[f'{split}_labels'][index])} of item {index} is "
                f"outside the {count} classes"
            )
    untrained = sorted(set(tensors["test_labels"].tolist()) - set(tensors["train_labels"].tolist()))
    if untrained:  # as an image folder's test class without training images
        raise BadDataError(f"--dataset {spec} (test): label {untrained[0]} is a class the training items do not have")
    return tensors, classes, spec


def _gather(dataset: Any, what: str) -> tuple[Tensor, Tensor]:
    try:
        items = [dataset[i] for i in range(len(dataset))]
    except Exception as error:
        raise BadDataError(f"{what}: reading its items raised {one_line(error)}") from error
    if not items:
        raise BadDataError(f"{what} holds no items")
    images = []
    for index, item in enumerate(items):
        image = item[0] if isinstance(item, (tuple, list)) and len(item) == 2 else None
        if not isinstance(image, Tensor) or image.dim() != 3 or image.shape[1] != image.shape[2]:
            raise BadDataError(f"{what}: item {index} is not (image tensor C x S x S, label)")
        if image.shape != items[0][0].shape:
            raise BadDataError(f"{what}: item {index} is {tuple(image.shape)}, item 0 {tuple(items[0][0].shape)}")
        if image.dtype != torch.uint8:
            low, high = float(image.min()), float(image.max())
            if low < 0 or high > 1:  # normalised already, most likely: prunetui normalises, so it wants the pixels
                raise BadDataError(
                    f"{what}: item {index}'s values run from {low:.3g} to {high:.3g}; give images in [0, 1] or uint8 "
                    f"(prunetui normalises them itself)"
                )
            image = (image.float() * 255).round().to(torch.uint8)
        images.append(image)
    labels = torch.tensor([_label(item[1], what, index) for index, item in enumerate(items)], dtype=torch.long)
    return torch.stack(images), labels


def _label(value: Any, what: str, index: int) -> int:
    """A class number: an int, a numpy integer or a one-element integer tensor; one line for anything else (a
    name, a one-hot vector, None)."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point():
        return int(value)
    if hasattr(value, "__index__") and not isinstance(value, Tensor):
        return int(value.__index__())
    shown = f"a {value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else repr(value)[:40]
    raise BadDataError(f"{what}: item {index}'s label is {shown}, not a class number (0, 1, …)")
