"""What prunetui finds for a data spec (`prunetui data SPEC`): images, classes, size, channels, where they are read
from, and whether they fit in the training device's memory as prunetui holds them (whole float32 tensors for the
IDX sets, uint8 for the others)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import torch

from prunetui.engine.core.data.loading import dataset_loading
from prunetui.engine.core.data.memory import MEMORY_SHARE, free_memory
from prunetui.engine.core.events import Status
from prunetui.engine.core.networks.spec import InputShape


@dataclass(frozen=True, slots=True)
class DataSummary:
    spec: str
    source: str
    train: int
    test: int
    class_names: tuple[str, ...]
    shape: InputShape
    device: str
    free_bytes: int | None  # the device's free memory; None when it cannot be told
    value_bytes: int = 4  # of one pixel value as held: 4 (float32, the IDX sets) or 1 (uint8, the others)
    path: str = "memory"  # how training reads the images (`DataSet.path`)
    normalisation: str = ""  # 'mean 0.491, 0.482, 0.447; std 0.247, 0.243, 0.262' (`Normalisation.text`)

    @property
    def images(self) -> int:
        return self.train + self.test

    @property
    def uint8_bytes(self) -> int:
        """The images as decoded (one byte per value), as the cache keeps image folders."""
        return self.images * self.shape.channels * self.shape.size**2

    @property
    def held_bytes(self) -> int:
        """The images as prunetui holds them while training: normalised float32, or uint8 normalised per batch."""
        return self.value_bytes * self.uint8_bytes

    @property
    def fits(self) -> bool | None:
        """Whether the held images take at most a quarter of the free memory (None: free memory unknown)."""
        return None if self.free_bytes is None else self.held_bytes * MEMORY_SHARE <= self.free_bytes


def summary_loading(
    spec: str, data_dir: str | Path | None, device: torch.device, *, image_size: int = 0, download: bool = True
) -> Generator[Status, None, DataSummary]:
    """Load the data set as a run would (on the CPU), then describe it."""
    data = yield from dataset_loading(spec, data_dir, torch.device("cpu"), download=download, image_size=image_size)
    return DataSummary(
        spec,
        data.source,
        len(data.train),
        len(data.test),
        data.class_names,
        data.shape,
        str(device),
        free_memory(device),
        data.train.images.element_size(),
        data.path,
        data.normalisation.text() if data.normalisation else "",
    )
