"""Data sets as whole normalised tensors on the training device, found where a user would keep them.

Loading goes through torchvision's dataset classes (which read the IDX files and download them for
users who are online); after that the training loop only slices tensors, with no per-sample work.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch
from torch import Tensor
from torchvision import datasets

from prunetui.engine.errors import DataError

DATASET_CLASSES: dict[str, type[datasets.MNIST]] = {
    "mnist": datasets.MNIST,
    "fashion-mnist": datasets.FashionMNIST,
    "kmnist": datasets.KMNIST,
}
SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # Debian's dataset-* packages install IDX .gz files here
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass(frozen=True, slots=True)
class Split:
    images: Tensor  # float32, N x 1 x 28 x 28, normalised with the training set's mean and std
    labels: Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, slots=True)
class DataSet:
    name: str
    train: Split
    test: Split
    source: str  # where the files were found, for the user


def default_data_dir() -> Path:
    return Path(os.environ.get("PRUNETUI_DATA") or platformdirs.user_cache_dir("prunetui")).expanduser()


def load_dataset(
    name: str,
    data_dir: str | Path | None,
    device: torch.device,
    *,
    train_subset: int = 0,
    download: bool = True,
    system_dir: Path | None = None,
    on_status: Callable[[str], None] = lambda message: None,
) -> DataSet:
    """Find the data set (data dir, then the system directory, then download), load it onto `device`."""
    cls = DATASET_CLASSES[name]
    root = Path(data_dir).expanduser() if data_dir else default_data_dir()  # "~/data" from a TOML file
    raw = root / cls.__name__ / "raw"
    tried = [f"{raw} (the data directory)"]
    source = str(raw)

    if not _has_idx_files(raw):
        system = (system_dir or SYSTEM_DATA_DIR) / name
        tried.append(f"{system} (system data sets)")
        if _copy_system_files(system, raw, on_status):
            source = f"{system} (copied to {raw})"
        elif download:
            on_status(f"downloading {name} into {root} …")
            try:
                cls(str(root), train=True, download=True)
                cls(str(root), train=False, download=True)
                source = f"downloaded into {raw}"
            except (OSError, RuntimeError) as error:
                tried.append(f"download ({_first_line(error)})")
    if not _has_idx_files(raw):
        raise DataError(
            f"{name} data set not found; tried: {'; '.join(tried)}. "
            f"Fix: connect to the internet so it can be downloaded, put the four IDX files in {raw}, "
            f"or pass --data-dir (or set $PRUNETUI_DATA) to where they are."
        )

    on_status(f"loading {name} from {raw} …")
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except Exception as error:  # torchvision raises assorted types for truncated or malformed IDX files
        raise DataError(
            f"{name} data set in {raw} is unreadable ({_first_line(error)}); delete the files there "
            f"and run again to fetch fresh copies"
        ) from None
    if len(train.data) != len(train.targets) or len(test.data) != len(test.targets):
        raise DataError(f"{name} data set in {raw} is corrupt: image and label counts differ")

    images = train.data[:train_subset] if train_subset else train.data
    labels = train.targets[:train_subset] if train_subset else train.targets
    scaled = images.float() / 255
    mean, std = scaled.mean().item(), scaled.std().item() or 1.0
    return DataSet(
        name,
        _to_split(scaled, labels, mean, std, device),
        _to_split(test.data.float() / 255, test.targets, mean, std, device),
        source,
    )


def _to_split(scaled: Tensor, labels: Tensor, mean: float, std: float, device: torch.device) -> Split:
    images = ((scaled - mean) / std).unsqueeze(1).contiguous()
    return Split(images.to(device), labels.long().to(device))


def _has_idx_files(raw: Path) -> bool:
    return all((raw / file).is_file() for file in IDX_FILES)


def _copy_system_files(system: Path, raw: Path, on_status: Callable[[str], None]) -> bool:
    """Decompress the system's IDX .gz files into the data directory, where torchvision looks."""
    sources = [system / f"{file}.gz" for file in IDX_FILES]
    if not all(path.is_file() for path in sources):
        return False
    on_status(f"copying {system} into {raw} …")
    try:
        raw.mkdir(parents=True, exist_ok=True)
        for path, file in zip(sources, IDX_FILES, strict=True):
            partial = raw / f"{file}.partial"
            with gzip.open(path, "rb") as compressed, open(partial, "wb") as out:
                shutil.copyfileobj(compressed, out)
            partial.replace(raw / file)  # atomic: a half-copied file never looks complete
    except (OSError, EOFError, zlib.error) as error:  # zlib.error: a damaged deflate stream inside the .gz
        raise DataError(f"cannot copy the data set from {system} to {raw}: {error}") from None
    return True


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
