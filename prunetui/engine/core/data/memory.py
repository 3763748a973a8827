"""`--data-path memory|stream`: whether a data set is held whole on the training device or streamed to it.

Held whole, batches are slices of tensors already there (the fastest path). Streamed, the images stay in the host's
memory (a decoded cache file is memory-mapped: its pages are read as they are used) and batches reach the device
through a DataLoader's worker processes, pinned on CUDA. auto holds a data set whose uint8 images take at most a
quarter of the training device's free memory: training needs the rest (activations, gradients, the optimizer).
Torch is imported only to ask a GPU, so the config can name the choices without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DATA_PATHS = ("auto", "memory", "stream")
MEMORY_SHARE = 4  # the images may take at most a quarter of the device's free memory: training needs the rest


def free_memory(device: torch.device) -> int | None:
    """Free memory of `device` in bytes: the GPU's own, else the machine's available memory (Linux's MemAvailable,
    else the free pages); None where neither can be read."""
    if device.type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def choose_path(setting: str, uint8_bytes: int, device: torch.device) -> tuple[str, str]:
    """The path a data set of `uint8_bytes` (its images at one byte a value) takes to `device` under `--data-path
    setting`, and why, for the log."""
    size = f"{uint8_bytes / 2**20:,.1f} MiB of uint8 images"
    if setting != "auto":
        return setting, f"{size}, --data-path {setting}"
    free = free_memory(device)
    if free is None:
        return "memory", f"{size}; {device}'s free memory is unknown, so held whole"
    room = f"{device}'s free {free / 2**30:,.1f} GiB"
    if uint8_bytes * MEMORY_SHARE <= free:
        return "memory", f"{size}, at most a quarter of {room}"
    return "stream", f"{size}, more than a quarter of {room}"
