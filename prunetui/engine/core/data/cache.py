"""Decoded, normalised data sets kept on disk, so a start after the first loads tensors instead of decoding IDX.

A cache file is named after its data set and a fingerprint of its source files (path, size, modification
time): when a source file changes, the name changes and the stale file is replaced.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch
from torch import Tensor

from prunetui.engine.core.files import write_atomic

FORMAT = 1  # bump when the cached content changes meaning
FINGERPRINT_LENGTH = 16
KEYS = ("train_images", "train_labels", "test_images", "test_labels")


def cache_path(root: Path, name: str, sources: tuple[Path, ...]) -> Path:
    fingerprint = hashlib.sha256(f"{FORMAT}".encode())
    for path in sources:
        stat = path.stat()
        fingerprint.update(f"\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return root / "decoded" / f"{name}-{fingerprint.hexdigest()[:FINGERPRINT_LENGTH]}.pt"


def load_cached(path: Path) -> dict[str, Tensor] | None:
    """The cached tensors, or None when there are none (or they cannot be read: they are made again)."""
    if not path.is_file():
        return None
    try:
        cached = torch.load(path, weights_only=True, mmap=True)  # pages are read as they are used
    except Exception:  # a damaged cache file is no error: the source files are still there
        return None
    return cached if isinstance(cached, dict) and set(cached) == set(KEYS) else None


def save_cached(path: Path, name: str, tensors: dict[str, Tensor]) -> None:
    """Write atomically and drop the data set's stale cache files. A cache that cannot be written only costs
    the next start some time, so that is not an error."""
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    try:
        write_atomic(path, buffer.getvalue())
        for stale in path.parent.glob(f"{name}-{'?' * FINGERPRINT_LENGTH}.pt"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError:
        pass
