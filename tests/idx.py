"""Small, learnable MNIST-format data sets written as real IDX files (by an encoder of their own, not the engine's)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

CLASS_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: magic (0, 0, dtype 0x08 = ubyte, ndim), big-endian dims, then the raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_images(n: int, seed: int, templates_seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """Each class is a fixed random stroke pattern plus noise: easy to learn, not trivial."""
    templates = np.random.default_rng(templates_seed).random((10, 28, 28)) > 0.8
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    noise = rng.normal(0, 50, (n, 28, 28))
    images = np.clip(templates[labels] * 180 + noise + 30, 0, 255)
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_dataset(root: Path, name: str = "mnist", n_train: int = 512, n_test: int = 256) -> Path:
    """Write train and test IDX files where the data directory keeps `name`; returns the raw folder."""
    raw = root / CLASS_FOLDERS[name] / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = make_images(n, seed)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return raw
