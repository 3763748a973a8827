"""Data loading: IDX files through torchvision into normalised tensors, and where the files are looked for."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from prunetui.engine import DataError, Experiment, ExperimentConfig, Failed, Finished, RunStarted
from prunetui.engine.data import IDX_FILES, default_data_dir, load_dataset
from tests.idx import CLASS_FOLDERS, make_images, write_dataset, write_idx

CPU = torch.device("cpu")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "kmnist"])
def test_loads_idx_files_into_normalised_tensors(name: str, tiny_data: Path) -> None:
    data = load_dataset(name, tiny_data, CPU, download=False)
    train_images, train_labels = make_images(512, seed=1)
    test_images, test_labels = make_images(256, seed=2)
    assert (data.train.images.shape, data.test.images.shape) == ((512, 1, 28, 28), (256, 1, 28, 28))
    assert data.train.images.dtype == torch.float32 and data.train.labels.dtype == torch.int64
    assert data.train.labels.tolist() == train_labels.tolist()
    assert data.test.labels.tolist() == test_labels.tolist()
    assert abs(data.train.images.mean().item()) < 1e-4
    assert abs(data.train.images.std().item() - 1) < 1e-3
    # Pixels are (x / 255 - mean) / std with the *training* set's statistics, for both splits.
    scaled = train_images / 255
    mean, std = scaled.mean(), scaled.std(ddof=1)
    expected_test = (test_images / 255 - mean) / std
    np.testing.assert_allclose(data.test.images[:, 0].numpy(), expected_test, atol=1e-4)
    assert data.source == str(tiny_data / CLASS_FOLDERS[name] / "raw")


def test_tensors_are_put_on_the_requested_device(tiny_data: Path) -> None:
    # The meta device stands in for an accelerator: it proves the tensors are moved, not left on the CPU.
    data = load_dataset("mnist", tiny_data, torch.device("meta"), download=False)
    devices = {t.device.type for t in (data.train.images, data.train.labels, data.test.images, data.test.labels)}
    assert devices == {"meta"}


def test_train_subset_takes_the_first_images_and_normalises_them(tiny_data: Path) -> None:
    data = load_dataset("mnist", tiny_data, CPU, train_subset=100, download=False)
    assert len(data.train) == 100 and len(data.test) == 256
    assert data.train.labels.tolist() == make_images(512, seed=1)[1][:100].tolist()
    assert abs(data.train.images.mean().item()) < 1e-4
    assert abs(data.train.images.std().item() - 1) < 1e-3


def test_prunetui_data_environment_variable_is_the_default_root(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRUNETUI_DATA", str(tiny_data))
    assert default_data_dir() == tiny_data
    assert load_dataset("kmnist", None, CPU, download=False).source == str(tiny_data / "KMNIST" / "raw")


def _write_system_files(system: Path, name: str) -> None:
    """Debian-style system data set: the four IDX files gzipped in <system>/<name>/."""
    raw = write_dataset(system / "staging", name, n_train=64, n_test=32)
    (system / name).mkdir(parents=True)
    for file in IDX_FILES:
        (system / name / f"{file}.gz").write_bytes(gzip.compress((raw / file).read_bytes()))


def _load_passing_system_dir(data_dir: Path, system: Path, _: pytest.MonkeyPatch) -> int:
    return len(load_dataset("fashion-mnist", data_dir, CPU, system_dir=system, download=False).train)


def _run_with_patched_system_dir(data_dir: Path, system: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("prunetui.engine.data.SYSTEM_DATA_DIR", system)
    config = ExperimentConfig(
        dataset="fashion-mnist", data_dir=str(data_dir), epochs=0, finetune_epochs=0, device="cpu"
    )
    events = list(Experiment(config, download=False).run())
    assert isinstance(events[-1], Finished), events[-1]
    return next(event.train_size for event in events if isinstance(event, RunStarted))


@pytest.mark.parametrize("load", [_load_passing_system_dir, _run_with_patched_system_dir])
def test_falls_back_to_the_system_data_sets_and_copies_them(
    load: Callable[[Path, Path, pytest.MonkeyPatch], int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system, data_dir = tmp_path / "system", tmp_path / "data"
    _write_system_files(system, "fashion-mnist")
    assert load(data_dir, system, monkeypatch) == 64
    raw = data_dir / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_FILES)  # copied, decompressed, no .partial left
    for file in IDX_FILES:
        assert (raw / file).read_bytes() == (system / "staging" / "FashionMNIST" / "raw" / file).read_bytes()
    # Once copied, the data directory is used even if the system copy goes away.
    for gz in (system / "fashion-mnist").iterdir():
        gz.unlink()
    assert len(load_dataset("fashion-mnist", data_dir, CPU, system_dir=system, download=False).train) == 64


def test_data_dir_wins_over_the_system_data_sets(tiny_data: Path, tmp_path: Path) -> None:
    _write_system_files(tmp_path / "system", "mnist")  # 64 images; tiny_data has 512
    assert len(load_dataset("mnist", tiny_data, CPU, system_dir=tmp_path / "system", download=False).train) == 512


def test_when_every_source_fails_the_error_names_each_place_tried(tmp_path: Path) -> None:
    data_dir, system = tmp_path / "data", tmp_path / "system"
    with pytest.raises(DataError) as error:
        load_dataset("mnist", data_dir, CPU, system_dir=system)  # download goes to a dead local port
    message = str(error.value)
    assert message.startswith("mnist data set not found; tried: ")
    assert f"{data_dir / 'MNIST' / 'raw'} (the data directory)" in message
    assert f"{system / 'mnist'} (system data sets)" in message
    assert "download (" in message
    assert "--data-dir" in message and "$PRUNETUI_DATA" in message
    assert "\n" not in message


def test_a_run_without_data_fails_with_the_data_error(tmp_path: Path) -> None:
    config = ExperimentConfig(data_dir=str(tmp_path / "empty"), device="cpu")
    events = list(Experiment(config, download=False).run())
    assert isinstance(events[-1], Failed)
    assert events[-1].message.startswith("mnist data set not found; tried: ")
    assert events[-1].summary is None  # nothing was built
    assert "download" not in events[-1].message.split("Fix:")[0]  # not tried, so not listed


def _truncate(raw: Path) -> None:
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])


def _bad_magic(raw: Path) -> None:
    (raw / "train-labels-idx1-ubyte").write_bytes(b"this is not an IDX file at all")


def _empty(raw: Path) -> None:
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"")


def _wrong_dtype(raw: Path) -> None:  # 3-D labels: a well-formed IDX file that is not a label file
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros((512, 2, 2), dtype=np.uint8))


@pytest.mark.parametrize("damage", [_truncate, _bad_magic, _empty, _wrong_dtype])
def test_unreadable_idx_files_are_a_data_error(damage: Callable[[Path], None], tmp_path: Path) -> None:
    raw = write_dataset(tmp_path, "mnist", n_train=512, n_test=64)
    damage(raw)
    with pytest.raises(DataError, match=r"^mnist data set in .* is unreadable \(.*\); delete the files there"):
        load_dataset("mnist", tmp_path, CPU, download=False)


def test_image_and_label_counts_that_differ_are_a_data_error(tmp_path: Path) -> None:
    raw = write_dataset(tmp_path, "mnist", n_train=64, n_test=32)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(60, dtype=np.uint8))
    with pytest.raises(DataError, match="image and label counts differ"):
        load_dataset("mnist", tmp_path, CPU, download=False)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "kmnist"])
def test_downloads_in_tests_go_to_a_dead_local_port(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.mnist as tv_mnist

    urls: list[str] = []
    fetch = tv_mnist.download_and_extract_archive

    def spy(url: str, *args: object, **kwargs: object) -> None:
        urls.append(url)
        fetch(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", spy)
    with pytest.raises(DataError, match=r"download \(Error downloading"):
        load_dataset(name, tmp_path, CPU, system_dir=tmp_path / "system")
    assert urls and all(url.startswith("http://127.0.0.1:9/") for url in urls)
    assert not any((tmp_path / CLASS_FOLDERS[name] / "raw").glob("*ubyte"))


@pytest.mark.parametrize("damage", ["truncated", "corrupt-body"])
def test_damaged_system_archives_are_a_data_error(damage: str, tmp_path: Path) -> None:
    system = tmp_path / "system"
    _write_system_files(system, "mnist")
    archive = system / "mnist" / "train-images-idx3-ubyte.gz"
    data = archive.read_bytes()
    if damage == "truncated":
        archive.write_bytes(data[: len(data) // 2])
    else:  # a flipped deflate block: zlib, not gzip, notices
        archive.write_bytes(data[:100] + bytes(b ^ 0xFF for b in data[100:200]) + data[200:])
    with pytest.raises(DataError, match=r"^cannot copy the data set from .*mnist to .*raw: "):
        load_dataset("mnist", tmp_path / "data", CPU, system_dir=system, download=False)
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte").exists()  # never a half-copied file under the real name


@pytest.mark.parametrize("how", ["data_dir", "PRUNETUI_DATA"])
def test_a_home_relative_data_dir_is_expanded(
    how: str, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tiny_data.parent))
    monkeypatch.chdir(tmp_path)
    if how == "PRUNETUI_DATA":
        monkeypatch.setenv("PRUNETUI_DATA", f"~/{tiny_data.name}")
    data = load_dataset("mnist", f"~/{tiny_data.name}" if how == "data_dir" else None, CPU, download=False)
    assert len(data.train) == 512 and data.source == str(tiny_data / "MNIST" / "raw")
    assert not (tmp_path / "~").exists()


def test_download_is_the_last_resort_and_its_files_are_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision import datasets

    downloads: list[str] = []

    def fake_download(self: datasets.MNIST) -> None:  # what a successful download leaves behind
        downloads.append(self.raw_folder)
        write_dataset(Path(self.root), "kmnist", n_train=96, n_test=48)

    monkeypatch.setattr(datasets.MNIST, "download", fake_download)
    statuses: list[str] = []
    data = load_dataset("kmnist", tmp_path, CPU, system_dir=tmp_path / "system", on_status=statuses.append)
    raw = tmp_path / "KMNIST" / "raw"
    assert (len(data.train), len(data.test)) == (96, 48)
    assert data.source == f"downloaded into {raw}"
    assert downloads == [str(raw), str(raw)]  # train and test
    assert statuses == [f"downloading kmnist into {tmp_path} …", f"loading kmnist from {raw} …"]
