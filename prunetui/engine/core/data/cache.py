"""Decoded, normalised data sets kept on disk, so a start after the first loads tensors instead of decoding IDX.

They live in the user's cache directory (~/.cache/prunetui/decoded on Linux; $PRUNETUI_CACHE instead when set),
never in the data directory: that may be read-only, shared, or not a directory at all, and the built-in data set
has none. A cache file is named after its data set, its folder and a fingerprint of its source files (path,
size, modification time): when a source file changes, the name changes and the stale file is replaced.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import platformdirs
import torch
from torch import Tensor

from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.files import write_atomic

FORMAT = 2  # bump when the cached content changes meaning (2: image folders scale 16-bit grey images)
FINGERPRINT_LENGTH = 16
KEYS = ("train_images", "train_labels", "test_images", "test_labels")
NORMALISATION = "normalisation"  # an IDX set's: [mean, std] of its training pixels (0-1), which its images took


def cache_dir() -> Path:
    """Where decoded data sets are kept: $PRUNETUI_CACHE, else the user's cache directory's `decoded`."""
    from_env = os.environ.get("PRUNETUI_CACHE")
    return Path(from_env).expanduser() if from_env else Path(platformdirs.user_cache_dir("prunetui")) / "decoded"


def cache_path(name: str, sources: tuple[Path, ...]) -> Path:
    """The cache file of data set `name` decoded from `sources` (its IDX files): `NAME-FOLDER-FINGERPRINT.pt`,
    so the same data set in two folders keeps two caches, and a changed file a new one."""
    folder = hashlib.sha256(str(sources[0].parent.resolve()).encode()).hexdigest()[:8]
    fingerprint = hashlib.sha256(f"{FORMAT}".encode())
    for path in sources:
        stat = path.stat()
        fingerprint.update(f"\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return cache_dir() / f"{name}-{folder}-{fingerprint.hexdigest()[:FINGERPRINT_LENGTH]}.pt"


def load_cached(path: Path, keys: tuple[str, ...] = KEYS) -> dict[str, Tensor] | None:
    """The cached tensors (`keys`), or None when there are none (or they cannot be read: they are made again)."""
    if not path.is_file():
        return None
    try:
        cached = torch.load(path, weights_only=True, mmap=True)  # pages are read as they are used
    except Exception:  # a damaged cache file is no error: the source files are still there
        return None
    return cached if isinstance(cached, dict) and set(cached) == set(keys) else None


def save_cached(path: Path, tensors: dict[str, Tensor]) -> None:
    """Write atomically and drop the stale cache files of the same data set and folder. A cache that cannot be
    written (read-only, full, a file in the way) only costs the next start some time, so that is not an error."""
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    try:
        write_atomic(path, buffer.getvalue())
        same_source = path.name[: -len(f"{'?' * FINGERPRINT_LENGTH}.pt")]  # NAME-FOLDER-
        for stale in path.parent.glob(f"{same_source}{'?' * FINGERPRINT_LENGTH}.pt"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except (OSError, PrunetuiError):  # write_atomic words its OSError as an OutputError
        pass
