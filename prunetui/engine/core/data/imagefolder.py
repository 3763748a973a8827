"""`imagefolder:PATH`: a folder with `train/` and `test/` (or `val/`), each of one folder per class, as
torchvision's ImageFolder reads it (a class's images in its subfolders too). Images are decoded with Pillow (which
comes with torchvision) once, to one mode (grey when every image is, else RGB; 16-bit grey scaled to 8 bits) and one
size, then kept decoded in the user's cache directory.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from prunetui.engine.core.data.cache import cache_path, load_cached, save_cached
from prunetui.engine.core.errors import BadDataError
from prunetui.engine.core.events import Status

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F")
SIXTEEN_BITS = ("I", "I;16", "I;16L", "I;16B")  # Pillow's modes of a 16-bit grey PNG or TIFF


def splits(root: Path) -> tuple[Path, Path]:
    """The training folder and the test folder (`test/`, else `val/`) of an image folder."""
    if not root.is_dir():
        raise BadDataError(f"imagefolder: {root} is not a folder; it needs train/ and test/ (or val/) inside")
    test = next((root / name for name in ("test", "val") if (root / name).is_dir()), None)
    if not (root / "train").is_dir() or test is None:
        raise BadDataError(f"imagefolder: {root} needs train/ and test/ (or val/), each with one folder per class")
    return root / "train", test


def class_names(train: Path) -> tuple[str, ...]:
    classes = tuple(
        sorted(entry.name for entry in train.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    )
    if not classes:
        raise BadDataError(f"imagefolder: {train} holds no class folders")
    return classes


def listing(folder: Path, classes: tuple[str, ...]) -> list[tuple[Path, int]]:
    """Every image of `folder`'s class folders with its label; one line for a class folder with none, or one that
    is not among the training classes."""
    extra = sorted(
        e.name for e in folder.iterdir() if e.is_dir() and not e.name.startswith(".") and e.name not in classes
    )
    if extra:
        raise BadDataError(
            f"imagefolder: {folder / extra[0]} is a class the training images do not have ({', '.join(classes)})"
        )
    files: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        if not (folder / name).is_dir():
            raise BadDataError(f"imagefolder: {folder} has no {name}/ folder; each training class needs test images")
        found = sorted(p for p in (folder / name).rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
        if not found:
            raise BadDataError(f"imagefolder: {folder / name} holds no images ({', '.join(EXTENSIONS)})")
        files.extend((path, label) for path in found)
    return files


def imagefolder_loading(
    root: Path, image_size: int
) -> Generator[Status, None, tuple[dict[str, Tensor], tuple[str, ...], str]]:
    """The folder's uint8 images (N x C x S x S) and labels of both splits, its class names and where it was read."""
    train, test = splits(root)
    if test.name == "test" and (root / "val").is_dir():
        yield Status(f"{root / 'val'} left out: test/ is the test split (--validation-split holds out training images)")
    classes = class_names(train)
    train_files, test_files = listing(train, classes), listing(test, classes)
    paths = tuple(path for path, _ in train_files + test_files)
    cache = cache_path(f"imagefolder-{image_size}", paths)
    tensors = load_cached(cache)
    if tensors is None:
        yield Status(f"decoding {len(paths):,} images from {root} (kept decoded for the next start) …")
        mode, size = _mode_and_size(paths, image_size)
        tensors = {}
        for split, files in (("train", train_files), ("test", test_files)):
            tensors[f"{split}_images"] = torch.from_numpy(np.stack([_decode(path, mode, size) for path, _ in files]))
            tensors[f"{split}_labels"] = torch.tensor([label for _, label in files], dtype=torch.long)
        save_cached(cache, tensors)
    return tensors, classes, str(root)


def _open(path: Path):  # type: ignore[no-untyped-def]  # PIL's Image
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except (OSError, UnidentifiedImageError) as error:
        raise BadDataError(f"imagefolder: {path} cannot be read as an image ({' '.join(str(error).split())})") from None


def _mode_and_size(paths: tuple[Path, ...], image_size: int) -> tuple[str, int]:
    """One mode for all (grey only when every image is) and the side of the square images: --image-size, else the
    images' own when all are the same square size; one line naming an image that differs."""
    colour, first = False, None
    for path in paths:
        with _open(path) as image:
            colour = colour or image.mode not in GREY_MODES
            if image_size:
                continue
            if first is None:
                first = (path, image.size)
            elif image.size != first[1]:
                (w, h), (fw, fh) = image.size, first[1]
                raise BadDataError(
                    f"imagefolder: {path} is {w}x{h}, {first[0]} is {fw}x{fh}; pass --image-size N to resize all "
                    f"to N x N (shorter side to N, centre crop)"
                )
    if not image_size and first is not None and first[1][0] != first[1][1]:
        raise BadDataError(f"imagefolder: the images are {first[1][0]}x{first[1][1]}, not square; pass --image-size N")
    return ("RGB" if colour else "L"), image_size or (first[1][0] if first else 0)


def _decode(path: Path, mode: str, size: int) -> np.ndarray:
    """One image as uint8 C x S x S: converted to `mode`, its shorter side scaled to `size`, centre-cropped."""
    from PIL import Image

    with _open(path) as image:
        try:
            if image.mode in SIXTEEN_BITS:  # Pillow's convert would clip every value above 255 to white
                levels = np.asarray(image, dtype=np.float64) / 257
                image = Image.fromarray(levels.round().clip(0, 255).astype(np.uint8))
            image = image.convert(mode)
        except (OSError, ValueError) as error:
            raise BadDataError(f"imagefolder: {path} cannot be decoded ({' '.join(str(error).split())})") from None
        w, h = image.size
        if (w, h) != (size, size):
            scale = size / min(w, h)
            w, h = max(size, round(w * scale)), max(size, round(h * scale))
            image = image.resize((w, h), Image.Resampling.BILINEAR)
            left, top = (w - size) // 2, (h - size) // 2
            image = image.crop((left, top, left + size, top + size))
        pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1).copy()
