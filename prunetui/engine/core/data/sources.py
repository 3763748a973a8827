"""Where each data set's IDX files are: embedded in the package, in the data or system directory, or to download.

Torch-free, so the app's form can tell what is available without waiting for torch.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from prunetui.engine.core.data.specs import CIFAR_DATASETS, DATASETS

EMBEDDED = "fashion-mnist-mini"  # a balanced subset of Fashion-MNIST shipped inside the package
EMBEDDED_DIR = Path(__file__).parent / EMBEDDED
EMBEDDED_SIZE = 28  # its images are 1x28x28, as Fashion-MNIST's
SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # Debian's dataset-* packages install IDX .gz files here
# torchvision's folder for each downloadable data set: <data dir>/<folder>/raw/<IDX file>[.gz]
FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# The hosts of torchvision's mirrors for these data sets (`torchvision.datasets.MNIST.mirrors` …), named here so that
# telling whether a download could be tried needs no torchvision import (it took 30 s on a cold, busy machine).
MIRROR_HOSTS: tuple[tuple[str, int], ...] = (
    ("ossci-datasets.s3.amazonaws.com", 443),
    ("yann.lecun.com", 80),
    ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
    ("codh.rois.ac.jp", 80),
)
# The CIFAR sets as their official archives hold them: the archive's name, the folder it unpacks to, its md5 (as
# torchvision checks it), and the pickles inside with theirs.
CIFAR_ARCHIVES = {
    "cifar10": ("cifar-10-python.tar.gz", "cifar-10-batches-py", "c58f30108f718f92721af3b95e74349a"),
    "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python", "eb9058c3a382ffc7106e4002c42a8d85"),
}
CIFAR_FILES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "cifar10": {
        "train": (
            ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
            ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
            ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
            ("data_batch_4", "634d18415352ddfa80567beed471001a"),
            ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ),
        "test": (("test_batch", "40351d587109b95175f43aff81a1287e"),),
        "meta": (("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),),
    },
    "cifar100": {
        "train": (("train", "16019d7e3df5f24257cddd939b257f8d"),),
        "test": (("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),),
        "meta": (("meta", "7973b15100ade9c7d40fb424638fde48"),),
    },
}

# What `availability` says of a data set
AVAILABLE_EMBEDDED = "embedded"
AVAILABLE_ON_DISK = "on disk"
AVAILABLE_TO_DOWNLOAD = "will download"
NOT_AVAILABLE = "not on this machine"  # and no download could be tried


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


def data_dir_folders(name: str, root: Path) -> tuple[Path, Path]:
    """Where a data directory may hold a data set's files: torchvision's layout (`<root>/MNIST/raw/`, where
    downloads go), or the directory itself holding the four files (`<root>/train-images-idx3-ubyte.gz` …)."""
    return raw_folder(name, root), root


def find_in_data_dir(name: str, root: Path) -> Found | None:
    """The data set's four IDX files in the data directory, in either layout of `data_dir_folders`."""
    return next(filter(None, (find_idx_files(folder) for folder in data_dir_folders(name, root))), None)


def places_looked(name: str, data_dir: str | Path | None, system_dir: Path | None = None) -> list[Path]:
    """Every folder where prunetui looks for a data set's files, in the order it looks (for a CIFAR set, its
    unpacked folder and its archive under the data directory, as `cifar_on_disk`)."""
    root = data_root(data_dir)
    if name in CIFAR_DATASETS:
        archive, folder, _ = CIFAR_ARCHIVES[name]
        return [root / folder, root / archive]
    return [*data_dir_folders(name, root), system_folder(name, system_dir)]


def layouts_text(name: str, root: Path) -> str:
    """The two layouts a data directory may have, in words, for the messages that say where to put the files."""
    return (
        f"the four IDX files (train-images-idx3-ubyte.gz …, or unpacked) either in {raw_folder(name, root)} "
        f"(torchvision's layout, where downloads go) or in the data directory {root} itself"
    )


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


def download_reachable(timeout: float = 1.0) -> bool:
    """Whether a download could be tried now: torchvision is installed and one of its mirrors' hosts accepts a
    connection (no request is made). It may wait `timeout` per host: call it off the UI thread, and only where a
    data set is missing."""
    if not can_download():
        return False
    for host, port in MIRROR_HOSTS:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:  # refused, unreachable, no name resolution: offline for this host
            continue
    return False


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
        elif name in CIFAR_DATASETS:
            states[name] = AVAILABLE_ON_DISK if cifar_on_disk(name, root) else _to_download(downloadable)
        elif find_in_data_dir(name, root) or find_idx_files(system_folder(name, system_dir)):
            states[name] = AVAILABLE_ON_DISK
        else:
            states[name] = AVAILABLE_TO_DOWNLOAD if downloadable else NOT_AVAILABLE
    return states


def missing_text(name: str, data_dir: str | Path | None, system_dir: Path | None = None) -> str:
    """Why a data set cannot be used now, and where prunetui looked: for the form and the CLI before a start."""
    looked = ", ".join(str(folder) for folder in places_looked(name, data_dir, system_dir))
    return f"{name} is not on this machine and cannot be downloaded now (offline?); looked in {looked}"


def _to_download(downloadable: bool) -> str:
    return AVAILABLE_TO_DOWNLOAD if downloadable else NOT_AVAILABLE


def cifar_on_disk(name: str, root: Path) -> bool:
    """Whether the unpacked folder or the archive of CIFAR set `name` is under `root`."""
    archive, folder, _ = CIFAR_ARCHIVES[name]
    return (root / folder).is_dir() or (root / archive).is_file()


def describe_availability(states: dict[str, str]) -> str:
    """ "fashion-mnist-mini (embedded), mnist (will download)": the data sets a run can use now."""
    usable = [f"{name} ({state})" for name, state in states.items() if state != NOT_AVAILABLE]
    return ", ".join(usable)


def embedded_misfit(model: str) -> str | None:
    """Why the built-in data set cannot stand in for a missing one under network `model` (a built-in that takes
    larger images); None when it can, or when that shows only once a run builds the network."""
    from prunetui.engine.core.networks.registry import SMALLEST_SIZES

    smallest = SMALLEST_SIZES.get(model, 0)
    if smallest <= EMBEDDED_SIZE:
        return None
    return (
        f"the built-in {EMBEDDED} cannot stand in: its images are {EMBEDDED_SIZE}×{EMBEDDED_SIZE}, and {model} "
        f"takes {smallest}×{smallest} and larger"
    )
