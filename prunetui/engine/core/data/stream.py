"""The stream path (`memory.py`): batches gathered from images in the host's memory by a DataLoader's worker
processes, pinned on CUDA, then moved to the training device, where they are normalised and augmented as the
memory path's are. The batches are the memory path's: the same images in the same order.

The workers are forked (Linux's default), so they share the images with the training process instead of copying
them. They ignore SIGINT and SIGHUP: a terminal sends those (Ctrl+C, its closing) to the whole process group, and
the training process, which stops between batches, shuts the workers down itself when its batches are closed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

WORKERS = 2  # a gather per batch is cheap next to a training step: two keep ahead of a GPU, more only take cores
PREFETCH = 2  # batches each worker gathers ahead


class _Gather(Dataset[tuple[Tensor, Tensor]]):
    """A batch per key: the images and labels at an index tensor or a slice."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: Tensor | slice) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        images, labels = self.images[key], self.labels[key]
        # A slice is a view of the whole set's storage, which a worker would move into shared memory whole to send
        # it: a copy of the batch goes instead.
        return (images.clone(), labels.clone()) if isinstance(key, slice) else (images, labels)


def _ignore_terminal_signals(_worker: int) -> None:
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def workers() -> int:
    """Worker processes: none inside a daemonic process (a parallel sweep's job), which may not start children."""
    return 0 if multiprocessing.current_process().daemon else min(WORKERS, os.cpu_count() or 1)


def streamed(
    images: Tensor, labels: Tensor, keys: Sequence[Tensor | slice], device: torch.device
) -> Iterator[tuple[Tensor, Tensor]]:
    """The images and labels at each key, on `device`, in order. Close the iterator (or exhaust it) to end the
    workers at once: a stopped run must leave none behind."""
    count = workers()
    loader = DataLoader(
        _Gather(images, labels),
        batch_size=None,  # each key is a whole batch
        sampler=keys,
        num_workers=count,
        pin_memory=device.type == "cuda",
        worker_init_fn=_ignore_terminal_signals if count else None,
        prefetch_factor=PREFETCH if count else None,
    )
    batches = iter(loader)
    try:
        for batch_images, batch_labels in batches:
            yield batch_images.to(device, non_blocking=True), batch_labels.to(device, non_blocking=True)
    finally:
        del batches  # the DataLoader's iterator shuts its workers down when it goes: joined here, not at exit
