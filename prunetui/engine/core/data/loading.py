"""Data sets as whole normalised tensors on the training device, found where a user would keep them.

The IDX files are read and normalised once, then cached; after that a start loads tensors and the training
loop only slices them, with no per-sample work.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import torch
from torch import Tensor

from prunetui.engine.core.data.cache import KEYS, NORMALISATION, cache_path, load_cached, save_cached
from prunetui.engine.core.data.download import download as download_files
from prunetui.engine.core.data.facts import DataFacts
from prunetui.engine.core.data.idx import read_idx
from prunetui.engine.core.data.memory import choose_path
from prunetui.engine.core.data.sources import (
    EMBEDDED,
    EMBEDDED_DIR,
    IDX_FILES,
    Found,
    availability,
    data_root,
    describe_availability,
    find_idx_files,
    find_in_data_dir,
    layouts_text,
    raw_folder,
    system_folder,
)
from prunetui.engine.core.data.specs import parse_spec, spec_problem
from prunetui.engine.core.data.stream import streamed
from prunetui.engine.core.errors import BadDataError, ConfigError, DataError
from prunetui.engine.core.events import Status
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.networks.spec import InputShape

if TYPE_CHECKING:
    from prunetui.engine.core.config import ExperimentConfig

P = ParamSpec("P")
T = TypeVar("T")

# A data set's source is said after "images from": a place, never a phrase like "embedded in …".
EMBEDDED_SOURCE = "prunetui's built-in copy (a subset of Fashion-MNIST)"
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
ORDER_SEED = 0  # the fixed order of an image folder's or a factory's training images
IDX_CLASSES = {
    "fashion-mnist-mini": FASHION_CLASSES,
    "fashion-mnist": FASHION_CLASSES,
    "mnist": tuple("0123456789"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}


@dataclass(frozen=True, slots=True)
class Split:
    # float32 N x C x S x S, normalised with the training set's mean and std (the IDX sets); or uint8 as decoded,
    # a quarter of the memory, normalised batch by batch with `normalise` (mean, std per channel, C x 1 x 1, in
    # pixel values 0-255, on the training device). An IDX set's test images under --train-subset are float32 with
    # a `normalise` too: the subset's statistics, applied batch by batch
    images: Tensor
    labels: Tensor  # int64, N
    normalise: tuple[Tensor, Tensor] | None = None
    # None: images and labels are held on the training device. Else they stay in the host's memory and batches are
    # streamed to this device (stream.py)
    stream_to: torch.device | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def device(self) -> torch.device:
        """Where its batches are trained on."""
        return self.stream_to or self.images.device

    def take(self, index: Tensor | slice) -> Tensor:
        """The images at `index`, normalised float32, on the training device: what the model is given."""
        if self.stream_to is None:
            return self._normalised(self.images[index])
        return self._normalised(self.images[_on_host(index)].to(self.stream_to))

    def batch(self, index: Tensor | slice) -> tuple[Tensor, Tensor]:
        """The images (as `take` gives them) and labels at `index`, on the training device."""
        if self.stream_to is None:
            return self.take(index), self.labels[index]
        return self.take(index), self.labels[_on_host(index)].to(self.stream_to)

    def batches(self, size: int, order: Tensor | None = None) -> Generator[tuple[Tensor, Tensor], None, None]:
        """Batches of `size` (images as `take` gives them, labels) in `order` (a permutation; None: as held), on the
        training device. Held whole, each is a slice; streamed, a DataLoader's workers gather them (close the
        iterator to end those at once)."""
        keys: list[Tensor | slice] = [slice(start, start + size) for start in range(0, len(self), size)]
        if order is not None:
            order = order.to(self.images.device)
            keys = [order[key] for key in keys]
        if self.stream_to is None:
            yield from (self.batch(key) for key in keys)
            return
        for images, labels in streamed(self.images, self.labels, keys, self.stream_to):
            yield self._normalised(images), labels

    def where(self, index: Tensor | slice) -> Split:
        """The images and labels at `index`, normalised and held as these are."""
        return Split(self.images[index], self.labels[index], self.normalise, self.stream_to)

    def _normalised(self, images: Tensor) -> Tensor:
        if self.normalise is None:
            return images
        mean, std = self.normalise
        return (images.float() - mean) / std


def _on_host(index: Tensor | slice) -> Tensor | slice:
    return index.cpu() if isinstance(index, Tensor) else index


@dataclass(frozen=True, slots=True)
class Normalisation:
    """Per channel, the mean and standard deviation of the training pixels (0-1) that the images are standardised
    by, (x - mean) / std: what an image given to a model trained here must take first, as torchvision's
    `Normalize(mean, std)` does after `ToTensor()`."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def text(self) -> str:
        """'mean 0.491, 0.482, 0.447; std 0.247, 0.243, 0.262'."""
        return f"mean {', '.join(f'{m:.3f}' for m in self.mean)}; std {', '.join(f'{s:.3f}' for s in self.std)}"


@dataclass(frozen=True, slots=True)
class DataSet:
    name: str
    train: Split
    test: Split
    source: str  # where the files were found, for the user: "… images from {source}"
    validation: Split | None = None  # held out from the training images; None when none are
    class_names: tuple[str, ...] = ()  # label i is class_names[i]
    normalisation: Normalisation | None = None  # what a model trained on it expects its input to have taken

    @property
    def path(self) -> str:
        """How training reads the images: "memory" (whole tensors on the training device) or "stream"."""
        return "memory" if self.train.stream_to is None else "stream"

    @property
    def facts(self) -> DataFacts:
        """What this data set is, in words (`facts.DataFacts`): for the run's log and `prunetui data`."""
        shape = self.shape
        validation = len(self.validation) if self.validation is not None else 0
        names = self.class_names or tuple(str(label) for label in range(shape.classes))
        return DataFacts(
            self.name,
            self.source,
            len(self.train) + validation,
            len(self.test),
            shape.channels,
            shape.size,
            names,
            validation,
            self.path,
            self.normalisation.text() if self.normalisation else "",
        )

    @property
    def shape(self) -> InputShape:
        """What a network is built for: the images' channels and size, and the classes (named, else those the
        labels reach: a small subset may miss one)."""
        images = self.train.images
        classes = len(self.class_names) or int(max(self.train.labels.max(), self.test.labels.max())) + 1
        return InputShape(images.shape[1], images.shape[2], classes)


def dataset_loading(
    name: str,
    data_dir: str | Path | None,
    device: torch.device,
    *,
    train_subset: int = 0,
    validation_split: float = 0.0,
    download: bool = True,
    system_dir: Path | None = None,
    image_size: int = 0,
    data_path: str | None = None,
) -> Generator[Status, None, DataSet]:
    """Find the data set (embedded; else the data dir, the system directory, a download), load it onto
    `device`, saying what it does as it goes. `data = yield from dataset_loading(...)` in an event stream.

    The first `train_subset` training images are kept (0: all), then the fraction `validation_split` of those is
    held out as the validation split and the rest trained on. `image_size` resizes an image folder's images.
    `data_path` (memory.DATA_PATHS) holds the images on `device` or streams them there, saying which and why;
    None holds them there without a word, for callers that only look at the data."""
    yield Status(f"loading {name} …")
    root = data_root(data_dir)
    spec = parse_spec(name)
    if spec is None:
        raise ConfigError(f"--dataset {spec_problem(name)}")
    if spec.kind != "idx":
        images, classes, source = yield from _images_loading(name, root, download, image_size)
        stream = yield from _path_loading(data_path, images, train_subset, device)
        return _uint8_dataset(name, images, train_subset, validation_split, device, source, classes, stream)
    if name == EMBEDDED:
        found, source = find_idx_files(EMBEDDED_DIR), EMBEDDED_SOURCE
    else:
        found, source = yield from _locate(name, root, system_dir, download)
    if found is None:  # only when the package itself lost its files
        raise DataError(f"{name} is missing from {EMBEDDED_DIR}; reinstall prunetui")
    cache = cache_path(name, found.files)
    tensors = load_cached(cache, (*KEYS, NORMALISATION))
    if tensors is None:
        yield Status(f"decoding {name} from {found.folder} (kept decoded for the next start) …")
        tensors = _decode(name, found)
        save_cached(cache, tensors)
    stream = yield from _path_loading(data_path, tensors, train_subset, device)
    return _dataset(name, tensors, train_subset, validation_split, device, source, IDX_CLASSES[name], stream)


def _path_loading(
    setting: str | None, images: dict[str, Tensor], train_subset: int, device: torch.device
) -> Generator[Status, None, bool]:
    """Whether the images (the first `train_subset` training ones and the test ones) are streamed to `device`,
    said in the log with why."""
    if setting is None:
        return False
    count = min(train_subset or len(images["train_images"]), len(images["train_images"])) + len(images["test_images"])
    path, why = choose_path(setting, count * images["test_images"][0].numel(), device)
    yield Status(f"data path {path}: {why}")
    return path == "stream"


def _images_loading(
    name: str, root: Path, download: bool, image_size: int
) -> Generator[Status, None, tuple[dict[str, Tensor], tuple[str, ...], str]]:
    """The uint8 images (N x C x S x S) and labels of a CIFAR set, an image folder or the user's factory."""
    spec = parse_spec(name)
    assert spec is not None
    if spec.kind == "cifar":
        from prunetui.engine.core.data.cifar import cifar_loading

        return (yield from cifar_loading(name, root, download))  # in the random order of the official files
    if spec.kind == "imagefolder":
        from prunetui.engine.core.data.imagefolder import imagefolder_loading

        images, classes, source = yield from imagefolder_loading(Path(spec.name).expanduser(), image_size)
    else:
        from prunetui.engine.core.data.user_data import load_user_data

        yield Status(f"reading {name} …")
        images, classes, source = load_user_data(spec.name, spec.factory)
    _check_fit(name, images, classes)
    # An image folder lists its images class by class, and a factory may: in one fixed random order (whatever the
    # run's seed), the first images (--train-subset, the validation split) are a fair sample of every class.
    order = torch.randperm(len(images["train_labels"]), generator=torch.Generator().manual_seed(ORDER_SEED))
    images["train_images"], images["train_labels"] = images["train_images"][order], images["train_labels"][order]
    return images, classes, source


def _check_fit(name: str, images: dict[str, Tensor], classes: tuple[str, ...]) -> None:
    """One line for data no network can learn from as given: one class, or test images of another shape."""
    if len(classes) < 2:
        raise BadDataError(f"{name} has one class ({classes[0]}): a classifier needs two or more")
    train, test = (tuple(images[f"{split}_images"].shape[1:]) for split in ("train", "test"))
    if train != test:
        test_shape, train_shape = "x".join(map(str, test)), "x".join(map(str, train))
        raise BadDataError(
            f"{name}: the test images are {test_shape}, the training images {train_shape} (channels x height x width)"
        )


def _uint8_dataset(
    name: str,
    images: dict[str, Tensor],
    train_subset: int,
    validation_split: float,
    device: torch.device,
    source: str,
    class_names: tuple[str, ...],
    stream: bool,
) -> DataSet:
    """uint8 images kept as they are, each channel standardised batch by batch with the (first `train_subset`)
    training images' mean and standard deviation of that channel."""
    train = Split(images["train_images"], images["train_labels"])
    if train_subset:
        train = train.where(slice(0, train_subset))
    scaled = train.images.float()
    mean = scaled.mean((0, 2, 3), keepdim=True)[0]
    std = scaled.std((0, 2, 3), keepdim=True)[0].clamp_min(1e-3)
    del scaled
    normalise = (mean.to(device), std.to(device))
    train, validation = _hold_out(Split(train.images, train.labels, normalise), validation_split)
    return DataSet(
        name,
        _to(train, device, stream),
        _to(Split(images["test_images"], images["test_labels"], normalise), device, stream),
        source,
        _to(validation, device, stream) if validation is not None else None,
        class_names,
        Normalisation(tuple((mean.flatten() / 255).tolist()), tuple((std.flatten() / 255).tolist())),
    )


def _without_statuses(loading: Callable[P, Generator[Status, None, T]]) -> Callable[P, T]:
    """A generator of statuses as a plain function returning its result, for callers that show no progress."""

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        steps = loading(*args, **kwargs)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    return run


load_dataset = _without_statuses(dataset_loading)


def run_data_loading(
    config: ExperimentConfig, device: torch.device, *, download: bool = True, system_dir: Path | None = None
) -> Generator[Status, None, DataSet]:
    """The data set as a run of `config` trains on it: its training subset, its validation split held out."""
    return dataset_loading(
        config.dataset,
        config.data_dir or None,
        device,
        train_subset=config.train_subset,
        validation_split=config.validation_split,
        download=download,
        system_dir=system_dir,
        image_size=config.image_size,
        data_path=config.data_path,
    )


load_run_data = _without_statuses(run_data_loading)


def _locate(
    name: str, root: Path, system_dir: Path | None, download: bool
) -> Generator[Status, None, tuple[Found | None, str]]:
    raw = raw_folder(name, root)
    found = find_in_data_dir(name, root)
    if found:
        return found, str(found.folder)
    system = system_folder(name, system_dir)
    tried = [f"{raw} and {root} (the data directory)", f"{system} (system data sets)"]
    system_files = find_idx_files(system)
    if system_files:
        yield Status(f"copying {system} into {raw} …")
        _copy_system_files(system_files, raw)
        return find_idx_files(raw), f"{system} (copied to {raw})"
    if download:
        yield Status(f"downloading {name} into {raw} …")
        try:
            download_files(name, raw)
            return find_idx_files(raw), f"{raw} (just downloaded)"
        except DataError as error:
            tried.append(f"download ({error})")
    # Only what is here: a download has just failed or is not allowed, so other downloads would not help.
    others = describe_availability(availability(root, system_dir=system_dir, download=False))
    raise DataError(
        f"{name} data set not found; tried: {'; '.join(tried)}. "
        f"Fix: connect to the internet so it can be downloaded, put {layouts_text(name, root)}, "
        f"or pass --data-dir (or set $PRUNETUI_DATA) to where they are. "
        f"Available now: {others}; set --dataset to one of them."
    )


def _copy_system_files(found: Found, raw: Path) -> None:
    """Unpack the system's IDX .gz files into the data directory. Each is decompressed in memory and written
    atomically, so a damaged archive never leaves a partial file behind."""
    try:
        for path, file in zip(found.files, IDX_FILES, strict=True):
            data = path.read_bytes()
            write_atomic(raw / file, gzip.decompress(data) if path.suffix == ".gz" else data)
    except (OSError, EOFError, zlib.error) as error:  # zlib.error: a damaged deflate stream inside the .gz
        raise DataError(f"cannot copy the data set from {found.folder} to {raw}: {error}") from None


def _decode(name: str, found: Found) -> dict[str, Tensor]:
    """The IDX files as tensors, images normalised with the training set's mean and std."""
    try:
        train_images, train_labels, test_images, test_labels = (
            read_idx(path, "images" if "images" in path.name else "labels") for path in found.files
        )
    except DataError as error:
        raise DataError(
            f"{name} data set in {found.folder} is unreadable ({error}); delete the files there "
            f"and run again to fetch fresh copies"
        ) from None
    if len(train_images) != len(train_labels) or len(test_images) != len(test_labels):
        raise DataError(f"{name} data set in {found.folder} is corrupt: image and label counts differ")
    scaled = train_images.float() / 255
    mean, std = scaled.mean().item(), scaled.std().item() or 1.0
    return {
        "train_images": _normalise(scaled, mean, std),
        "train_labels": train_labels.long(),
        "test_images": _normalise(test_images.float() / 255, mean, std),
        "test_labels": test_labels.long(),
        NORMALISATION: torch.tensor([mean, std], dtype=torch.float64),
    }


def _normalise(images: Tensor, mean: float, std: float) -> Tensor:
    return ((images - mean) / std).unsqueeze(1).contiguous()


def _dataset(
    name: str,
    tensors: dict[str, Tensor],
    train_subset: int,
    validation_split: float,
    device: torch.device,
    source: str,
    class_names: tuple[str, ...],
    stream: bool,
) -> DataSet:
    train_images, train_labels = tensors["train_images"], tensors["train_labels"]
    test = Split(tensors["test_images"], tensors["test_labels"])
    mean, std = tensors[NORMALISATION].tolist()
    normalisation = Normalisation((mean,), (std,))
    if train_subset:
        # Normalised with the subset's own statistics: standardising the standardised subset gives exactly that.
        train_images, train_labels = train_images[:train_subset], train_labels[:train_subset]
        subset_mean, subset_std = train_images.mean().item(), train_images.std().item() or 1.0
        train_images = (train_images - subset_mean) / subset_std
        # (x - mean) / std, then (that - subset_mean) / subset_std: one standardisation of the pixels x.
        normalisation = Normalisation((mean + subset_mean * std,), (std * subset_std,))
        # The test images take them batch by batch, the same numbers bit for bit. Standardised whole here, all
        # 10,000 of Fashion-MNIST were copied twice (2 x 31 MB, 15,000 page faults) before the first step, which
        # needs none of them: 0.2-0.4 s more CPU per start than now on the 2-core machine (bench_start.py). An
        # evaluation takes as long as it did (0.49 s against 0.51 s of CPU for LeNet-5 on one thread).
        statistics = (
            torch.tensor(subset_mean, dtype=torch.float32, device=device),
            torch.tensor(subset_std, dtype=torch.float32, device=device),
        )
        test = Split(test.images, test.labels, statistics)
    train, validation = _hold_out(Split(train_images, train_labels), validation_split)
    return DataSet(
        name,
        _to(train, device, stream),
        _to(test, device, stream),
        source,
        _to(validation, device, stream) if validation is not None else None,
        class_names,
        normalisation,
    )


def _hold_out(train: Split, fraction: float) -> tuple[Split, Split | None]:
    """`train` less its first `fraction` of images, and those images (None when none): the same whatever the
    run's seed. The training files of every data set prunetui reads are in random order (the built-in one keeps
    the full set's), so the first images are a fair sample of every class; and a slice copies nothing, where
    images picked at random would copy the whole training set before the first step. The normalisation
    statistics, taken before, include the held-out images: a mean and a standard deviation, nothing a model
    could learn them by."""
    count = round(len(train) * fraction)
    if not count:
        return train, None
    return train.where(slice(count, None)), train.where(slice(0, count))


def _to(split: Split, device: torch.device, stream: bool) -> Split:
    """`split` held on `device`, or left in the host's memory and streamed to it."""
    if stream:
        return Split(split.images, split.labels, split.normalise, stream_to=device)
    return Split(split.images.to(device), split.labels.to(device), split.normalise)
