"""Data loading: IDX files through torchvision into normalised tensors, and where the files are looked for."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from prunetui.engine import (
    DataError,
    Experiment,
    ExperimentConfig,
    Failed,
    Finished,
    RunStarted,
    Status,
    StepLoss,
)
from prunetui.engine.core.data import IDX_FILES, availability, dataset_loading, default_data_dir, load_dataset
from prunetui.engine.core.data.cache import cache_dir
from prunetui.engine.core.data.sources import EMBEDDED_DIR
from tests.engine_helpers import printed_by
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
    assert data.normalisation is not None  # said as a user's Normalize(mean, std) would take them
    np.testing.assert_allclose((data.normalisation.mean[0], data.normalisation.std[0]), (mean, std), rtol=1e-5)
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
    # The two standardisations (the full set's, then the subset's) said as one: the pixels' own, taken once.
    assert data.normalisation is not None
    mean, std = data.normalisation.mean[0], data.normalisation.std[0]
    test_images = torch.from_numpy(make_images(256, seed=2)[0]).float()
    assert torch.allclose((test_images / 255 - mean) / std, data.test.take(slice(None))[:, 0], atol=1e-4)


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
    monkeypatch.setattr("prunetui.engine.core.data.sources.SYSTEM_DATA_DIR", system)
    config = ExperimentConfig(
        dataset="fashion-mnist", data_dir=str(data_dir), epochs=0, finetune_epochs=0, device="cpu"
    )
    events = list(Experiment(config, download=False).run())
    assert isinstance(events[-1], Finished), events[-1]
    started = next(event for event in events if isinstance(event, RunStarted))
    return started.train_size + started.validation_size  # every training image loaded, 10 % held out


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
    assert f"{data_dir / 'MNIST' / 'raw'} and {data_dir} (the data directory)" in message
    assert f"{system / 'mnist'} (system data sets)" in message
    assert "download (" in message
    assert "--data-dir" in message and "$PRUNETUI_DATA" in message
    assert "\n" not in message
    # What can be used instead: not the downloads that would fail as this one did.
    assert message.endswith("Available now: fashion-mnist-mini (embedded); set --dataset to one of them.")


def test_a_run_without_data_fails_with_the_data_error(tmp_path: Path) -> None:
    config = ExperimentConfig(dataset="mnist", data_dir=str(tmp_path / "empty"), device="cpu")
    events = list(Experiment(config, download=False).run())
    assert isinstance(events[-1], Failed)
    assert events[-1].message.startswith("mnist data set not found; tried: ")
    assert events[-1].summary is None  # nothing was built
    assert "download" not in events[-1].message.split("Fix:")[0]  # not tried, so not listed
    # It names what can be used instead, and how to choose it.
    assert events[-1].message.endswith("Available now: fashion-mnist-mini (embedded); set --dataset to one of them.")


def test_the_missing_data_set_message_lists_the_data_sets_on_disk(tmp_path: Path) -> None:
    write_dataset(tmp_path, "fashion-mnist")
    _write_system_files(tmp_path / "system", "kmnist")
    with pytest.raises(DataError) as error:
        load_dataset("mnist", tmp_path, CPU, system_dir=tmp_path / "system", download=False)
    assert "Available now: fashion-mnist-mini (embedded), fashion-mnist (on disk), kmnist (on disk);" in str(
        error.value
    )


def _truncate(raw: Path) -> None:
    path = raw / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:5000])


def _bad_magic(raw: Path) -> None:
    (raw / "train-labels-idx1-ubyte").write_bytes(b"this is not an IDX file at all")


def _empty(raw: Path) -> None:
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"")


def _wrong_dtype(raw: Path) -> None:  # 3-D labels: a well-formed IDX file that is not a label file
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros((512, 2, 2), dtype=np.uint8))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "train-images-idx3-ubyte is 5,000 bytes long, its header says 401,424"),
        (_bad_magic, "train-labels-idx1-ubyte is not an IDX label file"),
        (_empty, "t10k-images-idx3-ubyte is not an IDX image file"),
        (_wrong_dtype, "train-labels-idx1-ubyte is not an IDX label file"),
    ],
)
def test_unreadable_idx_files_are_a_data_error_saying_why(
    damage: Callable[[Path], None], reason: str, tmp_path: Path
) -> None:
    raw = write_dataset(tmp_path, "mnist", n_train=512, n_test=64)
    damage(raw)
    with pytest.raises(DataError) as error:
        load_dataset("mnist", tmp_path, CPU, download=False)
    assert str(error.value) == (
        f"mnist data set in {raw} is unreadable ({reason}); delete the files there and run again to fetch fresh copies"
    )


def test_image_and_label_counts_that_differ_are_a_data_error(tmp_path: Path) -> None:
    raw = write_dataset(tmp_path, "mnist", n_train=64, n_test=32)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(60, dtype=np.uint8))
    with pytest.raises(DataError, match="image and label counts differ"):
        load_dataset("mnist", tmp_path, CPU, download=False)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "kmnist"])
def test_a_failed_download_says_why_and_leaves_nothing(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets.utils as tv_utils

    urls: list[str] = []
    fetch = tv_utils.download_url

    def spy(url: str, *args: object, **kwargs: object) -> None:
        urls.append(url)
        fetch(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tv_utils, "download_url", spy)
    data_dir = tmp_path / "cache" / "prunetui"  # as ~/.cache/prunetui on a fresh machine: not there yet
    with pytest.raises(DataError) as error:
        load_dataset(name, data_dir, CPU, system_dir=tmp_path / "system")
    assert urls and all(url.startswith("http://127.0.0.1:9/") for url in urls)  # tests never leave the machine
    # The reason, not just "Error downloading train-images-idx3-ubyte.gz:" (today's text with an empty reason).
    assert "; download (train-images-idx3-ubyte.gz from http://127.0.0.1:9/: <urlopen error [Errno 111] " in str(
        error.value
    )
    assert list(tmp_path.iterdir()) == []  # no partial download, nor the folders made for it


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
    # Never a half-copied file under the real name, and no temporary one either.
    assert [path.name for path in (tmp_path / "data").rglob("*") if path.is_file()] == []


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
    import torchvision.datasets.utils as tv_utils

    staging = write_dataset(tmp_path / "server", "kmnist", n_train=96, n_test=48)
    downloads: list[str] = []

    def fake_download(url: str, root: str, filename: str, md5: str) -> None:  # what a good download leaves
        downloads.append(filename)
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / filename).write_bytes(gzip.compress((staging / filename.removesuffix(".gz")).read_bytes()))

    monkeypatch.setattr(tv_utils, "download_url", fake_download)
    loading = dataset_loading("kmnist", tmp_path / "data", CPU, system_dir=tmp_path / "system")
    events = []
    with pytest.raises(StopIteration) as done:
        while True:
            events.append(next(loading))
    raw = tmp_path / "data" / "KMNIST" / "raw"
    assert done.value.value.source == f"{raw} (just downloaded)"  # said after "… test images from"
    assert downloads == [f"{file}.gz" for file in IDX_FILES]
    assert sorted(path.name for path in raw.iterdir()) == sorted(f"{file}.gz" for file in IDX_FILES)
    assert [event.message for event in events] == [
        "loading kmnist …",
        f"downloading kmnist into {raw} …",
        f"decoding kmnist from {raw} (kept decoded for the next start) …",
    ]
    data = load_dataset("kmnist", tmp_path / "data", CPU, download=False)
    assert (len(data.train), len(data.test)) == (96, 48)


def _gzip_in_place(raw: Path, files: tuple[str, ...]) -> None:
    for file in files:
        (raw / f"{file}.gz").write_bytes(gzip.compress((raw / file).read_bytes()))
        (raw / file).unlink()


@pytest.mark.parametrize("gzipped", [IDX_FILES, IDX_FILES[::2]], ids=["all", "some"])
def test_the_data_dir_takes_torchvision_gz_files_as_they_are(gzipped: tuple[str, ...], tmp_path: Path) -> None:
    raw = write_dataset(tmp_path, "mnist", n_train=96, n_test=48)
    _gzip_in_place(raw, gzipped)
    data = load_dataset("mnist", tmp_path, CPU, download=False)
    assert (len(data.train), len(data.test)) == (96, 48)
    assert data.train.labels.tolist() == make_images(96, seed=1)[1].tolist()
    assert data.source == str(raw)


def test_a_second_load_comes_from_the_decoded_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dataset(tmp_path, "mnist", n_train=96, n_test=48)
    first = load_dataset("mnist", tmp_path, CPU, download=False)
    assert [path.name.startswith("mnist-") for path in cache_dir().iterdir()] == [True]

    def no_decoding(*args: object) -> None:
        raise AssertionError("the IDX files were decoded again")

    monkeypatch.setattr("prunetui.engine.core.data.loading.read_idx", no_decoding)
    loading = dataset_loading("mnist", tmp_path, CPU, download=False)
    assert [status.message for status in loading] == ["loading mnist …"]
    second = load_dataset("mnist", tmp_path, CPU, download=False)
    assert torch.equal(first.train.images, second.train.images) and torch.equal(first.test.labels, second.test.labels)
    # A subset is normalised with its own statistics, from the cache as from the files.
    subset = load_dataset("mnist", tmp_path, CPU, train_subset=40, download=False)
    scaled = make_images(96, seed=1)[0][:40] / 255
    expected = (make_images(48, seed=2)[0] / 255 - scaled.mean()) / scaled.std(ddof=1)
    np.testing.assert_allclose(subset.test.take(slice(None))[:, 0].numpy(), expected, atol=1e-4)


def test_a_subsets_test_images_are_normalised_batch_by_batch_to_the_same_bits(tiny_data: Path) -> None:
    # They are no longer standardised whole before the first step (loading._dataset): every way the model is given
    # them equals the whole test set standardised with the subset's statistics, bit for bit.
    whole = load_dataset("mnist", tiny_data, CPU, download=False)
    subset = load_dataset("mnist", tiny_data, CPU, train_subset=100, download=False)
    held = whole.train.images[:100]
    expected = (whole.test.images - held.mean().item()) / (held.std().item() or 1.0)
    assert torch.equal(subset.test.images, whole.test.images)  # held as cached: no copy
    assert torch.equal(subset.test.take(slice(None)), expected)
    order = torch.randperm(len(subset.test), generator=torch.Generator().manual_seed(0))
    batches = list(subset.test.batches(64, order))
    assert torch.equal(torch.cat([images for images, _ in batches]), expected[order])
    assert torch.equal(torch.cat([labels for _, labels in batches]), whole.test.labels[order])
    assert torch.equal(subset.train.take(slice(None)), (held - held.mean().item()) / held.std().item())


def test_changed_source_files_replace_the_cache(tmp_path: Path) -> None:
    raw = write_dataset(tmp_path, "mnist", n_train=96, n_test=48)
    assert len(load_dataset("mnist", tmp_path, CPU, download=False).train) == 96
    write_dataset(tmp_path, "mnist", n_train=80, n_test=48)
    assert len(load_dataset("mnist", tmp_path, CPU, download=False).train) == 80
    # Same size, other pixels: the modification time tells.
    images = raw / "train-images-idx3-ubyte"
    stat = images.stat()
    write_idx(images, np.zeros((80, 28, 28), dtype=np.uint8))
    os.utime(images, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_dataset("mnist", tmp_path, CPU, download=False).train.images.std().item() == 0.0
    assert len(list(cache_dir().iterdir())) == 1  # stale copies go


def test_a_damaged_cache_file_is_made_again(tmp_path: Path) -> None:
    write_dataset(tmp_path, "mnist", n_train=96, n_test=48)
    load_dataset("mnist", tmp_path, CPU, download=False)
    (cached,) = cache_dir().iterdir()
    cached.write_bytes(b"half a file")
    assert len(load_dataset("mnist", tmp_path, CPU, download=False).train) == 96
    assert cached.stat().st_size > 96 * 784 * 4


def test_the_embedded_data_set_is_a_balanced_fashion_mnist_subset(tmp_path: Path) -> None:
    data = load_dataset("fashion-mnist-mini", tmp_path / "empty", CPU, download=False)
    assert (data.train.images.shape, data.test.images.shape) == ((10_000, 1, 28, 28), (2_000, 1, 28, 28))
    assert data.train.labels.bincount().tolist() == [1000] * 10
    assert data.test.labels.bincount().tolist() == [200] * 10
    assert abs(data.train.images.mean().item()) < 1e-4 and abs(data.train.images.std().item() - 1) < 1e-3
    assert data.source == "prunetui's built-in copy (a subset of Fashion-MNIST)"
    licence = (EMBEDDED_DIR / "LICENSE").read_text()
    assert "Zalando SE" in licence and "MIT License" in licence


def test_a_first_run_with_nothing_set_up_trains_and_prunes_the_embedded_data_set(tmp_path: Path) -> None:
    config = ExperimentConfig(device="cpu", epochs=1, train_subset=2200, batch_size=64, optimizer="adam", lr=0.003)
    assert config.dataset == "fashion-mnist-mini"
    events = list(Experiment(config, download=False).run())
    started = next(event for event in events if isinstance(event, RunStarted))
    assert (started.train_size, started.validation_size, started.test_size) == (1980, 220, 2000)  # 10 % held out
    where = "prunetui's built-in copy (a subset of Fashion-MNIST)"
    counts = "1,980 training, 220 held out for validation and 2,000 test images"
    assert Status(f"fashion-mnist-mini: {counts} from {where}") in events
    assert isinstance(events[-1], Finished), events[-1]
    summary = events[-1].summary
    assert summary.dense_accuracy > 0.6 and summary.accuracy > 0.45, summary  # real clothes, learnt: chance is 0.1
    assert summary.sparsity.global_sparsity == pytest.approx(0.9, abs=0.01)


def test_statuses_say_what_happens_before_the_first_step(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    write_dataset(tmp_path, "kmnist", n_train=96, n_test=48)
    config = tiny_config.replace(dataset="kmnist", data_dir=str(tmp_path), epochs=1)
    for expected in (
        ["loading kmnist …", f"decoding kmnist from {tmp_path / 'KMNIST' / 'raw'} (kept decoded for the next start) …"],
        ["loading kmnist …"],
    ):
        events = list(Experiment(config, download=False).run())
        first_step = next(i for i, event in enumerate(events) if isinstance(event, StepLoss))
        statuses = [event.message for event in events[:first_step] if isinstance(event, Status)]
        assert statuses[: len(expected)] == expected


def test_availability_tells_each_data_set_state(tmp_path: Path) -> None:
    raw = write_dataset(tmp_path / "data", "mnist")
    _gzip_in_place(raw, IDX_FILES)
    _write_system_files(tmp_path / "system", "kmnist")
    (tmp_path / "data" / "cifar-10-batches-py").mkdir()  # the unpacked archive's folder
    assert availability(tmp_path / "data", system_dir=tmp_path / "system") == {
        "fashion-mnist-mini": "embedded",
        "mnist": "on disk",
        "fashion-mnist": "will download",
        "kmnist": "on disk",
        "cifar10": "on disk",
        "cifar100": "will download",
    }
    assert availability(tmp_path / "data", system_dir=tmp_path / "system", download=False)["fashion-mnist"] == (
        "not on this machine"
    )


def test_loading_does_not_import_torchvision(tmp_path: Path) -> None:
    code = (
        "import sys, torch\n"
        "from prunetui.engine.core.data import load_dataset\n"
        f"load_dataset('fashion-mnist-mini', {str(tmp_path)!r}, torch.device('cpu'))\n"
        f"load_dataset('fashion-mnist-mini', {str(tmp_path)!r}, torch.device('cpu'))  # from the cache\n"
        "print('torchvision' in sys.modules)\n"
    )
    assert printed_by(code) == ["False"]  # it takes seconds to import, and only downloads need it
    assert [path.name.startswith("fashion-mnist-mini-") for path in cache_dir().iterdir()] == [True]
