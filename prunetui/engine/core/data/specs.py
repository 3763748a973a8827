"""What `--dataset` may say, read in one place: a built-in name (the MNIST-like IDX sets, `cifar10`, `cifar100`),
`imagefolder:PATH`, or the user's `package.module:factory` / `path/to/file.py:factory`.

Torch-free, so the config checks a spec (and the app's form lists the names) before torch is loaded.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

IDX_DATASETS = ("fashion-mnist-mini", "mnist", "fashion-mnist", "kmnist")  # the first is embedded in the package
CIFAR_DATASETS = ("cifar10", "cifar100")
DATASETS = (*IDX_DATASETS, *CIFAR_DATASETS)
IMAGEFOLDER_PREFIX = "imagefolder:"
AUGMENTS = ("auto", "none", "crop-flip")  # auto: crop-flip for the CIFAR sets, none for the others

Kind = Literal["idx", "cifar", "imagefolder", "factory"]


@dataclass(frozen=True, slots=True)
class DataSpec:
    kind: Kind
    name: str  # the built-in's name; the folder of imagefolder:; the module or file of a factory
    factory: str = ""  # the factory's name, for kind "factory"


def parse_spec(spec: str) -> DataSpec | None:
    """The data set `spec` names, or None when it is none of the forms (`spec_problem` says why)."""
    if spec in IDX_DATASETS:
        return DataSpec("idx", spec)
    if spec in CIFAR_DATASETS:
        return DataSpec("cifar", spec)
    if spec.startswith(IMAGEFOLDER_PREFIX):
        path = spec.removeprefix(IMAGEFOLDER_PREFIX)
        return DataSpec("imagefolder", path) if path else None
    target, _, factory = spec.rpartition(":")
    if target and factory.isidentifier():
        return DataSpec("factory", target, factory)
    return None


def spec_problem(spec: str) -> str | None:
    """Why `spec` names no data set, with the spec it may have meant; None when it does."""
    if parse_spec(spec) is not None:
        return None
    problem = (
        f"{spec!r} names no data set: a built-in ({', '.join(DATASETS)}), imagefolder:PATH, "
        "package.module:factory or path/to/file.py:factory"
    )
    near = difflib.get_close_matches(spec, DATASETS, n=1)
    meant = f"imagefolder:{spec}" if spec and os.path.isdir(spec) else near[0] if near else ""
    return f"{problem}; did you mean {meant}?" if meant else problem


def augmentation(augment: str, spec: str) -> str:
    """What `--augment` does on data set `spec`: auto is the CIFAR recipes' random crop and flip for the CIFAR sets,
    and nothing for the others (so the LeNets on the MNIST-like sets keep every number they give)."""
    if augment != "auto":
        return augment
    return "crop-flip" if spec in CIFAR_DATASETS else "none"


class DatasetChoices:
    """The `choices` of the dataset setting: iterated, the built-in names (argparse's help, the app's list); asked
    `in`, any spec that names a data set, so `imagefolder:PATH` and `module:factory` pass the same checks."""

    def __iter__(self) -> Iterator[str]:
        return iter(DATASETS)

    def __len__(self) -> int:
        return len(DATASETS)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and parse_spec(value) is not None
