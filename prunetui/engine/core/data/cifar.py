"""CIFAR-10 and CIFAR-100 from their official files: the folder the archive unpacks to, or the `.tar.gz` itself.

The files are Python pickles, and unpickling can call any function a file names. `SafeUnpickler` admits only what
the official files hold (numpy's array reconstruction, under numpy 1's and numpy 2's module names, and a few plain
types), and `_codecs.encode`, by which Python 3 writes bytes into a pickle of protocol 0 to 2 (it only encodes
text); a file naming anything else is refused before anything in it runs.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import pickle
import tarfile
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from prunetui.engine.core.data.sources import CIFAR_ARCHIVES, CIFAR_FILES
from prunetui.engine.core.errors import BadDataError, DataError
from prunetui.engine.core.events import Status
from prunetui.engine.core.preload import before_foreign_code

URL = "https://www.cs.toronto.edu/~kriz/"
PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
LABEL_KEYS = {"cifar10": ("labels", "label_names"), "cifar100": ("fine_labels", "fine_label_names")}
SIZE = 32


def _reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
    **{
        (module, kind.__name__): kind
        for module in ("builtins", "__builtin__")
        for kind in (list, dict, bytes, str, int)
    },
}


class Refused(pickle.UnpicklingError):
    """A pickle naming a global that no CIFAR file holds (a damaged pickle is another UnpicklingError)."""


class SafeUnpickler(pickle.Unpickler):
    """Finds only the globals an official CIFAR file names; any other is refused, naming it."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise Refused(f"it names {module}.{name}, which no CIFAR file holds")
        return allowed


def load_pickle(data: bytes, name: str) -> dict[str, Any]:
    """The dict a CIFAR pickle holds, its keys as text (the official files were written by Python 2)."""
    try:
        loaded = SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Refused as error:
        raise BadDataError(
            f"{name} refused: {error} (a pickle can run code, so only CIFAR's own types are read)"
        ) from None
    except Exception as error:  # truncated or not a pickle at all: EOFError, ValueError, ...
        raise BadDataError(f"{name} is not a CIFAR pickle ({type(error).__name__}: {error})") from None
    if not isinstance(loaded, dict):
        raise BadDataError(f"{name} holds a {type(loaded).__name__}, not the dict of a CIFAR file")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in loaded.items()}


def cifar_loading(
    name: str, root: Path, download: bool
) -> Generator[Status, None, tuple[dict[str, Tensor], tuple[str, ...], str]]:
    """CIFAR set `name` under `root` (unpacked folder first, then the archive, then a download): its uint8
    images (N x 3 x 32 x 32) and labels, its class names, and where it was read from."""
    archive, folder, _ = CIFAR_ARCHIVES[name]
    if (root / folder).is_dir():
        files, source = _folder_files(name, root / folder), str(root / folder)
    else:
        if not (root / archive).is_file():
            if not download:
                raise DataError(_missing(name, root, "downloads are off"))
            yield Status(f"downloading {archive} into {root} …")
            _download(name, root)
        yield Status(f"reading {name} from {root / archive} …")
        files, source = _archive_files(name, root / archive), str(root / archive)
    mismatched = [
        file for part in CIFAR_FILES[name].values() for file, md5 in part if hashlib.md5(files[file]).hexdigest() != md5
    ]
    if mismatched:
        yield Status(f"note: {', '.join(mismatched)} in {source} differ from the official {name} files; read anyway")
    tensors, classes = _decode(name, files)
    return tensors, classes, source


def _missing(name: str, root: Path, why: str) -> str:
    archive, folder, _ = CIFAR_ARCHIVES[name]
    return (
        f"{name} not found ({why}): put {archive} (from {PAGE}) or the {folder} folder it unpacks to in {root}, "
        f"or pass --data-dir (or set $PRUNETUI_DATA) to where it is"
    )


def _folder_files(name: str, folder: Path) -> dict[str, bytes]:
    files = {}
    for part in CIFAR_FILES[name].values():
        for file, _ in part:
            try:
                files[file] = (folder / file).read_bytes()
            except OSError as error:
                raise DataError(
                    f"{folder / file} cannot be read ({error.strerror or error}); the {name} folder "
                    f"needs {', '.join(f for p in CIFAR_FILES[name].values() for f, _ in p)}"
                ) from None
    return files


def _archive_files(name: str, path: Path) -> dict[str, bytes]:
    _, folder, _ = CIFAR_ARCHIVES[name]
    files = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for part in CIFAR_FILES[name].values():
                for file, _ in part:
                    try:
                        member = archive.extractfile(f"{folder}/{file}")
                    except KeyError:
                        member = None
                    if member is None:
                        raise DataError(f"{path} holds no {folder}/{file}; is it the official {name} archive?")
                    files[file] = member.read()
    except (OSError, EOFError, tarfile.TarError, zlib.error) as error:
        raise DataError(
            f"{path} cannot be read ({error}); delete it and run again, or put a fresh copy there"
        ) from None
    return files


def _download(name: str, root: Path) -> None:
    archive, _, md5 = CIFAR_ARCHIVES[name]
    before_foreign_code()  # torchvision imports torch's compiler too
    from torchvision.datasets.utils import download_url  # torchvision only to download: it takes seconds to import

    try:
        root.mkdir(parents=True, exist_ok=True)
        download_url(f"{URL}{archive}", str(root), archive, md5)
    except (OSError, RuntimeError) as error:  # URLError is an OSError; a bad checksum a RuntimeError
        (root / archive).unlink(missing_ok=True)
        raise DataError(_missing(name, root, f"download failed: {' '.join(str(error).split())}")) from None


def _decode(name: str, files: dict[str, bytes]) -> tuple[dict[str, Tensor], tuple[str, ...]]:
    label_key, names_key = LABEL_KEYS[name]
    meta_file = CIFAR_FILES[name]["meta"][0][0]
    classes = tuple(
        c.decode() if isinstance(c, bytes) else str(c)
        for c in load_pickle(files[meta_file], meta_file).get(names_key, ())
    )
    if not classes:
        raise BadDataError(f"{meta_file} holds no {names_key}")
    tensors = {}
    for split in ("train", "test"):
        images, labels = [], []
        for file, _ in CIFAR_FILES[name][split]:
            batch = load_pickle(files[file], file)
            data, batch_labels = batch.get("data"), batch.get(label_key)
            if (
                not isinstance(data, np.ndarray)
                or data.dtype != np.uint8
                or data.ndim != 2
                or data.shape[1] != 3 * SIZE * SIZE
            ):
                raise BadDataError(f"{file} holds no {SIZE}x{SIZE} colour images under 'data'")
            if not isinstance(batch_labels, list) or len(batch_labels) != len(data):
                raise BadDataError(f"{file}: {len(data)} images but its '{label_key}' is no list of as many labels")
            found = torch.tensor(batch_labels, dtype=torch.long)
            outside = ((found < 0) | (found >= len(classes))).nonzero()
            if len(outside):
                index = int(outside[0])
                raise BadDataError(
                    f"{file}: label {int(found[index])} of image {index} is outside the {len(classes)} classes"
                )
            images.append(torch.from_numpy(data.reshape(-1, 3, SIZE, SIZE).copy()))
            labels.append(found)
        tensors[f"{split}_images"], tensors[f"{split}_labels"] = torch.cat(images), torch.cat(labels)
    return tensors, classes
