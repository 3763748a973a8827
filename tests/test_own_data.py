"""Data sets of the user's: CIFAR from the official pickles (folder or archive), image folders, module:factory."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from prunetui.cli import main
from prunetui.engine import DataError, ExperimentConfig
from prunetui.engine.core.data import dataset_loading, load_dataset
from prunetui.engine.core.data.cifar import load_pickle
from prunetui.engine.core.data.sources import CIFAR_FILES
from prunetui.engine.storage.runs import read_run
from tests.owndata import (
    CIFAR10_CLASSES,
    cifar10_images,
    cifar_pickle,
    tar_folder,
    write_cifar10,
    write_cifar100,
    write_imagefolder,
    write_png,
)

CPU = torch.device("cpu")


def _statuses_and_data(name: str, root: Path, **options: object) -> tuple[list[str], object]:
    options.setdefault("download", False)
    steps = dataset_loading(name, root, CPU, **options)  # type: ignore[arg-type]
    statuses = []
    while True:
        try:
            statuses.append(next(steps).message)
        except StopIteration as done:
            return statuses, done.value


def _expected_cifar10(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    seeds = range(5) if split == "train" else [5]
    parts = [cifar10_images(seed, 6) for seed, _ in zip(seeds, names, strict=True)]
    images = torch.from_numpy(np.concatenate([data for data, _ in parts]).reshape(-1, 3, 32, 32))
    return images, torch.tensor([label for _, labels in parts for label in labels])


def test_cifar10_loads_from_the_unpacked_folder_normalised_per_channel(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    statuses, data = _statuses_and_data("cifar10", tmp_path)
    train_images, train_labels = _expected_cifar10("train")
    test_images, test_labels = _expected_cifar10("test")
    assert data.train.images.shape == (30, 3, 32, 32) and data.test.images.shape == (6, 3, 32, 32)
    assert data.class_names == tuple(CIFAR10_CLASSES) and (
        data.shape.channels,
        data.shape.size,
        data.shape.classes,
    ) == (3, 32, 10)
    assert torch.equal(data.train.labels, train_labels) and torch.equal(data.test.labels, test_labels)
    # Held as decoded (uint8, a quarter of float32's memory), each channel standardised batch by batch.
    assert data.test.images.dtype == torch.uint8 and torch.equal(data.test.images, test_images)
    assert torch.equal(data.train.images, train_images)
    per_channel = data.train.take(slice(None)).transpose(0, 1).reshape(3, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=1e-5) and torch.allclose(
        per_channel.std(1), torch.ones(3), atol=1e-5
    )
    assert data.source == str(tmp_path / "cifar-10-batches-py")
    # Not the official files: read, with one note naming them.
    (note,) = [status for status in statuses if status.startswith("note:")]
    assert "data_batch_1" in note and "test_batch" in note and "read anyway" in note


def test_cifar10_loads_from_the_archive_as_from_the_folder(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path / "unpacked")
    tar_folder(folder, tmp_path / "cifar-10-python.tar.gz")
    from_archive = load_dataset("cifar10", tmp_path, CPU, download=False)
    from_folder = load_dataset("cifar10", tmp_path / "unpacked", CPU, download=False)
    assert torch.equal(from_archive.train.images, from_folder.train.images)
    assert torch.equal(from_archive.test.labels, from_folder.test.labels)
    assert from_archive.source == str(tmp_path / "cifar-10-python.tar.gz")


def test_files_matching_the_official_checksums_bring_no_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_cifar10(tmp_path)
    official = {part: tuple((file, hashlib.md5((folder / file).read_bytes()).hexdigest()) for file, _ in files)
                for part, files in CIFAR_FILES["cifar10"].items()}  # fmt: skip
    monkeypatch.setitem(CIFAR_FILES, "cifar10", official)
    statuses, _ = _statuses_and_data("cifar10", tmp_path)
    assert not [status for status in statuses if status.startswith("note:")]


def test_missing_cifar_files_say_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        load_dataset("cifar100", tmp_path, CPU, download=False)
    message = str(raised.value)
    assert "\n" not in message and "cifar-100-python.tar.gz" in message and "cifar-100-python folder" in message
    assert f"in {tmp_path}" in message and "cifar.html" in message


def test_a_folder_missing_one_batch_names_it(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="data_batch_4 cannot be read"):
        load_dataset("cifar10", tmp_path, CPU, download=False)


def test_a_pickle_naming_another_global_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            import os

            return os.system, (f"touch {marker}",)

    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": Evil()}, protocol=3))
    with pytest.raises(DataError) as raised:
        load_dataset("cifar10", tmp_path, CPU, download=False)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("data_batch_2 refused") and ".system" in message
    assert not marker.exists()


def test_the_safe_unpickler_reads_numpy_arrays_under_both_module_names() -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for old in (True, False):
        loaded = load_pickle(cifar_pickle({b"data": array, b"labels": [1, 2]}, old_numpy_name=old), "x")
        assert np.array_equal(loaded["data"], array) and loaded["labels"] == [1, 2]


def test_a_cifar_pickle_python_3_wrote_at_protocol_2_reads_and_a_truncated_one_is_damaged_not_hostile() -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    written = pickle.dumps({"data": array, "batch_label": b"training batch 1"}, protocol=2)  # bytes via _codecs
    loaded = load_pickle(written, "data_batch_1")
    assert np.array_equal(loaded["data"], array) and loaded["batch_label"] == b"training batch 1"
    with pytest.raises(DataError, match=r"^data_batch_1 is not a CIFAR pickle \(UnpicklingError: pickle data was"):
        load_pickle(written[: len(written) // 2], "data_batch_1")


def test_cifar_labels_outside_the_classes_name_the_file(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    data, _ = cifar10_images(9, 6)
    (folder / "test_batch").write_bytes(cifar_pickle({b"data": data, b"labels": [0, 1, 2, 10, 3, 4]}))
    with pytest.raises(DataError, match=r"^test_batch: label 10 of image 3 is outside the 10 classes$"):
        load_dataset("cifar10", tmp_path, CPU, download=False)


def test_an_image_folder_of_grey_and_rgb_pngs_loads_in_colour(tmp_path: Path) -> None:
    write_imagefolder(tmp_path / "pets")
    data = load_dataset("imagefolder:" + str(tmp_path / "pets"), None, CPU, download=False, validation_split=0.0)
    assert data.class_names == ("cat", "dog", "eel") and (data.shape.channels, data.shape.size, data.shape.classes) == (
        3,
        16,
        3,
    )
    assert data.train.images.shape == (12, 3, 16, 16) and data.test.images.shape == (6, 3, 16, 16)
    # In a fixed random order, not class by class: a held-out slice samples every class.
    assert sorted(data.train.labels.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    assert data.train.labels.tolist() != sorted(data.train.labels.tolist())
    assert torch.equal(
        load_dataset(f"imagefolder:{tmp_path / 'pets'}", None, CPU).train.labels[:3], data.train.labels[:3]
    )
    test_labels = data.test.labels.tolist()
    assert test_labels == [0, 0, 1, 1, 2, 2]  # the test images keep their order: 0.png of cat is grey
    grey = data.test.images[0].float()  # converted to RGB, its three channels carry one picture
    assert torch.corrcoef(grey.reshape(3, -1)).min() > 0.99


def test_an_image_folder_trains_and_prunes_lenet5_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given by a relative path, the folder is recorded by its absolute one: the run is read from anywhere."""
    write_imagefolder(tmp_path / "pets", per_class=8)
    monkeypatch.chdir(tmp_path)
    flags = ["--dataset", "imagefolder:pets", "--data-dir", ".", "--epochs", "1", "--batch-size", "8"]
    assert main(["run", *flags, "--device", "cpu", "--validation-split", "0", "--out", "run"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["sparsity"] == pytest.approx(0.9, abs=0.01)
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert saved["state_dict"]["conv1.weight"].shape[1] == 3  # the first layer takes the data's three channels
    # What a user of the model needs: the classes by label, and torchvision's Normalize(mean, std) after ToTensor()
    # turns a test image into what the model was given.
    data = load_dataset("imagefolder:pets", None, CPU, validation_split=0.0)
    assert saved["data"]["classes"] == ["cat", "dog", "eel"]
    mean, std = (torch.tensor(saved["data"][key]).view(3, 1, 1) for key in ("mean", "std"))
    assert torch.allclose((data.test.images[:2].float() / 255 - mean) / std, data.test.take(slice(0, 2)), atol=1e-5)
    monkeypatch.chdir(tmp_path / "run")
    config = read_run(tmp_path / "run").config
    assert config is not None and (config.dataset, config.data_dir) == (
        f"imagefolder:{tmp_path / 'pets'}",
        str(tmp_path),
    )


def test_files_a_config_names_are_made_absolute_for_workers_and_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = ExperimentConfig(dataset="~/data/mine.py:make", model="nets/mine.py:build", weights="w.pt")
    absolute = config.with_absolute_paths()
    assert (absolute.dataset, absolute.model) == (
        f"{tmp_path}/home/data/mine.py:make",
        f"{tmp_path}/nets/mine.py:build",
    )
    assert (absolute.weights, absolute.data_dir) == (f"{tmp_path}/w.pt", "")
    for unchanged in ("cifar10", "fashion-mnist-mini", "mypackage.data:make"):
        assert config.replace(dataset=unchanged).with_absolute_paths().dataset == unchanged


def test_an_image_folder_is_decoded_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_imagefolder(tmp_path / "pets")
    spec = "imagefolder:" + str(tmp_path / "pets")
    first = load_dataset(spec, None, CPU)
    from prunetui.engine.core.data import imagefolder

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(imagefolder, "_decode", no_decoding)
    assert torch.equal(load_dataset(spec, None, CPU).train.images, first.train.images)
    assert list((tmp_path / "cache").glob("imagefolder-0-*.pt"))


def test_a_val_folder_beside_test_is_said_to_be_left_out(tmp_path: Path) -> None:
    root = write_imagefolder(tmp_path / "pets")
    shutil.copytree(root / "test", root / "val")
    statuses, data = _statuses_and_data(f"imagefolder:{root}", tmp_path, validation_split=0.0)
    assert (
        f"{root / 'val'} left out: test/ is the test split (--validation-split holds out training images)" in statuses
    )
    assert len(data.test) == 6  # type: ignore[attr-defined]  # test/'s, not val/'s as well


def test_a_data_set_file_under_home_is_found_by_its_tilde_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app passes a spec as typed: no shell has expanded its ~."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "shapes.py").write_text(FACTORY)
    assert load_dataset("~/shapes.py:make", None, CPU, validation_split=0.0).class_names == ("dark", "light")


def test_mixed_sizes_need_image_size_and_then_load_at_that_size(tmp_path: Path) -> None:
    root = write_imagefolder(tmp_path / "pets")
    odd = root / "train" / "dog" / "big.png"
    write_png(odd, np.zeros((20, 24), dtype=np.uint8))
    with pytest.raises(DataError) as raised:
        load_dataset(f"imagefolder:{root}", None, CPU)
    assert (
        "\n" not in str(raised.value) and f"{odd} is 24x20" in str(raised.value) and "--image-size" in str(raised.value)
    )
    data = load_dataset(f"imagefolder:{root}", None, CPU, image_size=12, validation_split=0.0)
    assert data.train.images.shape == (13, 3, 12, 12)


@pytest.mark.parametrize(
    "damage", ["empty class", "unreadable image", "class only in test", "class not in test", "no test folder"]
)
def test_bad_image_folders_give_one_line_naming_the_file(damage: str, tmp_path: Path) -> None:
    root = write_imagefolder(tmp_path / "pets")
    named = {
        "empty class": root / "train" / "fox",
        "unreadable image": root / "train" / "dog" / "broken.png",
        "class only in test": root / "test" / "owl",
        "class not in test": root / "test",
        "no test folder": root,
    }[damage]
    if damage == "unreadable image":
        named.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    elif damage == "no test folder":
        (root / "test").rename(root / "elsewhere")
    elif damage == "class not in test":
        shutil.rmtree(root / "test" / "eel")
    else:
        named.mkdir()
    if damage == "class only in test":
        write_png(named / "0.png", np.zeros((16, 16), dtype=np.uint8))
    with pytest.raises(DataError) as raised:
        load_dataset(f"imagefolder:{root}", None, CPU)
    assert "\n" not in str(raised.value) and str(named) in str(raised.value)
    if damage == "class not in test":
        assert str(raised.value) == f"imagefolder: {named} has no eel/ folder; each training class needs test images"


def test_an_image_folder_reads_subfolders_and_scales_16_bit_grey(tmp_path: Path) -> None:
    """As torchvision's ImageFolder: a class's images in its subfolders count. A 16-bit grey PNG keeps its contrast:
    Pillow's own conversion clipped every value above 255 to white, so two classes read as one white picture."""
    from PIL import Image

    root = tmp_path / "scans"
    for split, count in (("train", 4), ("test", 2)):
        for name, level in (("dark", 1000), ("light", 60000)):
            for i in range(count):
                pixels = np.full((8, 8), level + 100 * i, dtype=np.uint16)
                folder = root / split / name / ("more" if i % 2 else "")
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(folder / f"{i}.png")  # mode I;16
    data = load_dataset(f"imagefolder:{root}", None, CPU, validation_split=0.0)
    assert (len(data.train), len(data.test), data.shape.channels) == (8, 4, 1)
    levels = {label: set(data.test.images[data.test.labels == label].flatten().tolist()) for label in (0, 1)}
    assert levels == {0: {4}, 1: {233, 234}}  # 1000 / 257 and 1100 / 257; 60000 / 257 and 60100 / 257


def test_data_a_network_cannot_learn_from_as_given_is_one_line(tmp_path: Path) -> None:
    one_class = write_imagefolder(tmp_path / "one", classes=("cat",))
    with pytest.raises(DataError, match=r"has one class \(cat\): a classifier needs two or more$"):
        load_dataset(f"imagefolder:{one_class}", None, CPU)
    (tmp_path / "shapes.py").write_text(FACTORY)
    with pytest.raises(DataError, match=r"shapes.py:other_size: the test images are 2x6x6, the training images 2x8x8"):
        load_dataset(f"{tmp_path / 'shapes.py'}:other_size", None, CPU)
    with pytest.raises(DataError, match=r"shapes.py:test_only \(test\): label 1 is a class the training items do not"):
        load_dataset(f"{tmp_path / 'shapes.py'}:test_only", None, CPU)
    for factory, label in (
        ("named", "'dark'"),
        ("one_hot", "a torch.int64 tensor of shape (2,)"),
        ("no_label", "None"),
    ):
        with pytest.raises(DataError, match=rf"\(train\): item 0's label is {re.escape(label)}, not a class number"):
            load_dataset(f"{tmp_path / 'shapes.py'}:{factory}", None, CPU)


FACTORY = """
import torch

class Shapes(torch.utils.data.Dataset):
    classes = ["dark", "light"]

    def __init__(self, count, bad_label=False):
        generator = torch.Generator().manual_seed(count)
        self.images = torch.rand(count, 2, 8, 8, generator=generator)
        self.labels = [int(image.mean() > 0.5) for image in self.images]
        if bad_label:
            self.labels[1] = 2

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

def make():
    return Shapes(20), Shapes(6)

def bad():
    return Shapes(20), Shapes(6, bad_label=True)

def normalised():
    train = Shapes(20)
    train.images = (train.images - 0.5) / 0.25
    return train, Shapes(6)

def other_size():
    test = Shapes(6)
    test.images = test.images[:, :, :6, :6]
    return Shapes(20), test

def relabelled(label):
    train = Shapes(20)
    train.labels = [label(value) for value in train.labels]
    return train, Shapes(6)

def named():
    return relabelled(lambda value: ["dark", "light"][value])

def one_hot():
    return relabelled(lambda value: torch.eye(2, dtype=torch.long)[value])

def no_label():
    return relabelled(lambda value: None)

def test_only():
    return relabelled(lambda value: 0)
"""


def test_a_file_factory_data_set_loads(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text(FACTORY)
    data = load_dataset(f"{tmp_path / 'shapes.py'}:make", None, CPU, validation_split=0.0)
    assert data.class_names == ("dark", "light") and (data.shape.channels, data.shape.size, data.shape.classes) == (
        2,
        8,
        2,
    )
    assert data.train.images.shape == (20, 2, 8, 8) and len(data.test) == 6
    with pytest.raises(DataError, match=r"\(test\): label 2 of item 1 is outside the 2 classes$"):
        load_dataset(f"{tmp_path / 'shapes.py'}:bad", None, CPU)
    with pytest.raises(DataError, match=r"\(train\): item 0's values run from -.* give images in \[0, 1\] or uint8"):
        load_dataset(f"{tmp_path / 'shapes.py'}:normalised", None, CPU)
    with pytest.raises(DataError, match="has no missing"):
        load_dataset(f"{tmp_path / 'shapes.py'}:missing", None, CPU)


def test_the_config_takes_every_form_of_data_set_and_refuses_others() -> None:
    for spec in ("cifar100", "imagefolder:~/pets", "nets.data:make", "data.py:make"):
        assert "dataset" not in ExperimentConfig(dataset=spec).problems()
    assert "imagefolder:PATH" in ExperimentConfig(dataset="cifar-11").problems()["dataset"]


def test_built_in_data_sets_name_their_classes() -> None:
    data = load_dataset("fashion-mnist-mini", None, CPU)
    assert data.class_names[:2] == ("T-shirt/top", "Trouser") and (
        data.shape.channels,
        data.shape.size,
        data.shape.classes,
    ) == (1, 28, 10)


def test_a_cifar10_run_trains_augmented_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cifar10(tmp_path / "data")
    flags = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "8"]
    assert main(["run", *flags, "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    source = tmp_path / "data" / "cifar-10-batches-py"
    assert f"cifar10: 27 training, 3 held out for validation and 6 test images from {source}" in printed
    assert f"3×32×32 images, 10 classes: {', '.join(CIFAR10_CLASSES)}; held in memory" in printed
    assert "augmentation crop-flip" in printed and "read anyway" in printed
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished"
    # Each class of the 6 test images, by name, as the closing lines say them too.
    per_class = summary["per_class_accuracy"]
    assert list(per_class) == [name for name in CIFAR10_CLASSES if name in per_class] and 1 <= len(per_class) <= 6
    assert "accuracy per class: " + ", ".join(f"{name} {a * 100:.1f} %" for name, a in per_class.items()) in printed


def test_cifar_is_downloaded_through_torchvision_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision.datasets import utils

    folder = write_cifar10(tmp_path / "served")
    fetched = []

    def fake_download(url: str, root: str, filename: str, md5: str) -> None:  # what a good download leaves
        fetched.append((url, filename, md5))
        tar_folder(folder, Path(root) / filename)

    monkeypatch.setattr(utils, "download_url", fake_download)
    statuses, data = _statuses_and_data("cifar10", tmp_path / "data", download=True)
    assert fetched == [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
                        "c58f30108f718f92721af3b95e74349a")]  # fmt: skip
    assert len(data.train) == 30 and any(status.startswith("downloading cifar-10-python.tar.gz") for status in statuses)

    def offline(url: str, root: str, filename: str, md5: str) -> None:
        raise OSError("Network is unreachable")

    monkeypatch.setattr(utils, "download_url", offline)
    with pytest.raises(DataError, match=r"cifar100 not found \(download failed: Network is unreachable\): put "):
        load_dataset("cifar100", tmp_path / "data", CPU)


def test_prunetui_data_says_what_it_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cifar10(tmp_path / "data")
    assert main(["data", "cifar10", "--data-dir", str(tmp_path / "data"), "--device", "cpu", "--no-download"]) == 0
    lines = capsys.readouterr().out.splitlines()
    found = {
        line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines if line[:1].isalpha() and ":" in line
    }
    assert found["images"] == "36 (30 training, 6 test)" and found["size"] == "32×32, 3 channels"
    assert found["classes"] == "10: " + ", ".join(CIFAR10_CLASSES)
    assert found["reads"] == str(tmp_path / "data" / "cifar-10-batches-py")
    # 36 images of 3 x 32 x 32: 110,592 bytes as uint8, four times that as float32.
    assert found["memory"].startswith("108.0 KiB as uint8; fits in memory on cpu (")


def test_prunetui_data_of_an_image_folder_and_a_missing_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_imagefolder(tmp_path / "pets")
    assert main(["data", f"imagefolder:{tmp_path / 'pets'}", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "classes:  3: cat, dog, eel" in printed and "size:     16×16, 3 channels" in printed
    (scaling,) = [line for line in printed.splitlines() if line.startswith("scaling:  standardised by mean ")]
    means, stds = scaling.removeprefix("scaling:  standardised by mean ").split(" (")[0].split("; std ")
    assert len(means.split(", ")) == len(stds.split(", ")) == 3  # one of each per channel
    assert main(["data", "cifar10", "--data-dir", str(tmp_path / "none"), "--no-download", "--device", "cpu"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cifar-10-python.tar.gz" in error


def test_a_100_class_run_reports_top5_beside_top1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cifar100(tmp_path / "data")
    flags = ["--dataset", "cifar100", "--data-dir", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "50"]
    assert main(["run", *flags, "--device", "cpu", "--validation-split", "0", "--out", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["top5_accuracy"] >= summary["accuracy"] and summary["dense_top5_accuracy"] is not None
    done = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("done:"))
    assert f"top-5 {summary['dense_top5_accuracy']:.1%}".replace("%", " %") in done


def test_evaluation_counts_a_label_among_the_five_highest_scores() -> None:
    from prunetui.engine.core.data.loading import Split
    from prunetui.engine.core.training import evaluate

    scores = torch.arange(100.0).repeat(4, 1)  # class 99 highest, then 98, ...
    labels = torch.tensor([99, 95, 94, 0])  # top-1, top-5, neither, neither
    result = evaluate(torch.nn.Identity(), Split(scores, labels))
    assert (result.accuracy, result.top5) == (0.25, 0.5)
    assert evaluate(torch.nn.Identity(), Split(scores[:, :10], labels % 10)).top5 is None  # 10 classes: none


def test_a_sensitivity_analysis_of_an_image_folder_builds_the_network_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_imagefolder(tmp_path / "pets", per_class=8)
    flags = ["--dataset", f"imagefolder:{tmp_path / 'pets'}", "--epochs", "1", "--batch-size", "8", "--device", "cpu"]
    out = tmp_path / "sensitivity.csv"
    assert main(["sensitivity", *flags, "--amounts", "0.5", "--out", str(out)]) == 0
    assert out.read_text().count("\n") > 5  # a row per layer and amount
