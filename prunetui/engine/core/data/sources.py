"""Where each data set's IDX files are: embedded in the package, in the data or system directory, or to download.

Torch-free, so the app's form can tell what is available without waiting for torch.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from prunetui.engine.core.config import DATASETS

EMBEDDED = "fashion-mnist-mini"  # a balanced subset of Fashion-MNIST shipped inside the package
EMBEDDED_DIR = Path(__file__).parent / EMBEDDED
SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # Debian's dataset-* packages install IDX .gz files here
# torchvision's folder for each downloadable data set: <data dir>/<folder>/raw/<IDX file>[.gz]
FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# What `availability` says of a data set
AVAILABLE_EMBEDDED = "embedded"
AVAILABLE_ON_DISK = "on disk"
AVAILABLE_TO_DOWNLOAD = "will download"
NOT_AVAILABLE = "not available"


@dataclass(frozen=True, slots=True)
class Found:
    """The four IDX files of a data set (each plain or gzipped), in IDX_FILES order, and the folder they are in."""

    folder: Path
    files: tuple[Path, ...]


def default_data_dir() -> Path:
    return Path(os.environ.get("PRUNETUI_DATA") or platformdirs.user_cache_dir("prunetui")).expanduser()


def data_root(data_dir: str | Path | None) -> Path:
    """The data directory in use: `data_dir` ("~/data" from a TOML file is expanded), else the default."""
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def raw_folder(name: str, root: Path) -> Path:
    return root / FOLDERS[name] / "raw"


def find_idx_files(folder: Path) -> Found | None:
    """The four IDX files in `folder`, each unpacked or as torchvision and Debian keep them (`.gz`); None if any
    is missing."""
    files = []
    for file in IDX_FILES:
        candidates = [path for path in (folder / file, folder / f"{file}.gz") if path.is_file()]
        if not candidates:
            return None
        files.append(candidates[0])
    return Found(folder, tuple(files))


def system_folder(name: str, system_dir: Path | None = None) -> Path:
    return (system_dir or SYSTEM_DATA_DIR) / name


def can_download() -> bool:
    """Downloads go through torchvision, an optional import that is only made to download."""
    return importlib.util.find_spec("torchvision") is not None


def availability(
    data_dir: str | Path | None, *, system_dir: Path | None = None, download: bool = True
) -> dict[str, str]:
    """Each data set's availability, without reading any file: embedded, on disk, will download, not available."""
    root = data_root(data_dir)
    downloadable = download and can_download()
    states = {}
    for name in DATASETS:
        if name == EMBEDDED:
            states[name] = AVAILABLE_EMBEDDED
        elif find_idx_files(raw_folder(name, root)) or find_idx_files(system_folder(name, system_dir)):
            states[name] = AVAILABLE_ON_DISK
        else:
            states[name] = AVAILABLE_TO_DOWNLOAD if downloadable else NOT_AVAILABLE
    return states


def describe_availability(states: dict[str, str]) -> str:
    """ "fashion-mnist-mini (embedded), mnist (will download)": the data sets a run can use now."""
    usable = [f"{name} ({state})" for name, state in states.items() if state != NOT_AVAILABLE]
    return ", ".join(usable)
