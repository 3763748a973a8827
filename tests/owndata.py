"""Data sets the tests write themselves: CIFAR files in the official pickle layout, image folders of PNGs."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
NEW_NAME = b"cnumpy._core.multiarray\n_reconstruct\n"
OLD_NAME = b"cnumpy.core.multiarray\n_reconstruct\n"  # what numpy 1 wrote, and the official files hold


def cifar_pickle(content: dict[bytes, object], old_numpy_name: bool = True) -> bytes:
    """`content` pickled as the official files are (protocol 2-3 opcodes, numpy's array reconstruction by name)."""
    data = pickle.dumps(content, protocol=3)
    assert NEW_NAME in data or b"data" not in content
    return data.replace(NEW_NAME, OLD_NAME) if old_numpy_name else data


def cifar10_images(seed: int, count: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8), [int(x) for x in rng.integers(0, 10, count)]


def write_cifar10(root: Path, per_batch: int = 6) -> Path:
    """A small cifar-10-batches-py under `root`: five training batches and a test batch of `per_batch` images each,
    the first three batches naming numpy's array reconstruction by its old module name, the rest by its new one."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        data, labels = cifar10_images(seed, per_batch)
        content = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [b"x.png"] * per_batch,
        }
        (folder / name).write_bytes(cifar_pickle(content, old_numpy_name=seed < 3))
    meta = {b"label_names": [c.encode() for c in CIFAR10_CLASSES], b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(cifar_pickle(meta))
    return folder


def tar_folder(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def write_imagefolder(
    root: Path, classes: tuple[str, ...] = ("cat", "dog", "eel"), per_class: int = 4, size: int = 16
) -> Path:
    """train/ and test/ with one folder per class: grey PNGs and RGB PNGs mixed, each class a colour of its own."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("test", 2)):
        for label, name in enumerate(classes):
            for i in range(count):
                base = np.full((size, size, 3), 60 * label, dtype=np.uint8)
                base[..., label % 3] = 200
                noisy = np.clip(base + rng.integers(0, 30, base.shape), 0, 255).astype(np.uint8)
                pixels = noisy if i % 2 else noisy.mean(2).astype(np.uint8)  # grey (mode L) and RGB mixed
                write_png(root / split / name / f"{i}.png", pixels)
    return root


def write_cifar100(root: Path, train: int = 200, test: int = 100) -> Path:
    """A small cifar-100-python: each of the 100 classes among the images, fine and coarse labels as the official
    files hold them."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for name, count in (("train", train), ("test", test)):
        fine = [i % 100 for i in range(count)]
        data = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
        content = {b"data": data, b"fine_labels": fine, b"coarse_labels": [f // 5 for f in fine]}
        (folder / name).write_bytes(cifar_pickle(content))
    meta = {b"fine_label_names": [f"class{i}".encode() for i in range(100)], b"coarse_label_names": [b"x"] * 20}
    (folder / "meta").write_bytes(cifar_pickle(meta))
    return folder
