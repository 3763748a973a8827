"""What the data is, said by the CLI (`prunetui data`, a run's log, per-class accuracy at its end), bad data as one
line naming the file with exit code 2, and LeNets trained on colour images read back and compacted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from prunetui.cli import main
from prunetui.engine.core.data.facts import DataFacts
from prunetui.engine.storage.export import load_model
from tests.owndata import CIFAR10_CLASSES, write_cifar10, write_cifar100, write_imagefolder, write_png
from tests.test_own_data import FACTORY


def _bad_data(root: Path, damage: str) -> tuple[str, Path]:
    """A data spec with `damage` done to it, and the file or folder its one line must name."""
    pets = write_imagefolder(root / "pets")
    if damage == "class folder with no images":
        named = pets / "train" / "fox"
        named.mkdir()
    elif damage == "unreadable image":
        named = pets / "test" / "eel" / "broken.png"
        named.write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    elif damage == "mixed sizes":
        named = pets / "train" / "dog" / "wide.png"
        write_png(named, np.zeros((16, 20, 3), dtype=np.uint8))
    else:  # labels outside the classes, from the user's factory
        named = root / "shapes.py"
        named.write_text(FACTORY)
        return f"{named}:bad", named
    return f"imagefolder:{pets}", named


@pytest.mark.parametrize(
    "damage", ["class folder with no images", "unreadable image", "labels outside the classes", "mixed sizes"]
)
def test_bad_data_is_one_line_naming_the_file_and_exit_code_2(
    damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, named = _bad_data(tmp_path, damage)
    assert main(["data", spec, "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("prunetui: error: ") and str(named) in error
    run = ["run", "--dataset", spec, "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main(run) == 2
    out, err = capsys.readouterr()
    (failed,) = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert str(named) in failed and "Traceback" not in out + err
    assert not (tmp_path / "run").exists()  # a start that failed before training is not kept


def test_a_spec_that_names_no_data_set_is_exit_code_2_with_the_spec_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder given bare is taken for the image folder it is; a typed name for the nearest built-in. --help and
    argparse no longer offer the built-ins as the only choices."""
    write_imagefolder(tmp_path / "pets")
    monkeypatch.chdir(tmp_path)
    for command in (["data", "pets"], ["run", "--dataset", "pets", "--out", "run"]):
        assert main(command) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and error.rstrip().endswith("did you mean imagefolder:pets?"), error
        assert "path/to/file.py:factory" in error
    assert main(["run", "--dataset", "fashion-mnst", "--out", "run"]) == 2
    assert capsys.readouterr().err.rstrip().endswith("did you mean fashion-mnist?")
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "[--dataset DATASET]" in capsys.readouterr().out


def test_prunetui_data_says_the_path_the_data_takes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_imagefolder(tmp_path / "pets")
    assert main(["data", f"imagefolder:{tmp_path / 'pets'}", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "path:     held in memory (whole tensors, sliced per batch)" in lines
    assert f"reads:    {tmp_path / 'pets'}" in lines and "images:   18 (12 training, 6 test)" in lines


def test_many_class_names_are_shortened_and_a_few_kept_whole() -> None:
    names = tuple(f"class{i}" for i in range(100))
    facts = DataFacts("cifar100", "/data/cifar-100-python", 50_000, 10_000, 3, 32, names, validation=5_000)
    assert facts.lines() == [
        "cifar100: 45,000 training, 5,000 held out for validation and 10,000 test images from /data/cifar-100-python",
        "3×32×32 images, 100 classes: class0, class1, class2, class3, class4, class5, class6, class7, class8, class9, "
        "… and 90 more; held in memory (whole tensors, sliced per batch)",
    ]
    few = DataFacts("imagefolder:pets", "pets", 12, 6, 1, 16, ("cat", "dog", "eel"), path="stream")
    assert few.line() == "18 images (12 train, 6 test), 1×16×16, 3 classes: cat, dog, eel; streamed; from pets"


def test_a_100_class_run_names_its_worst_and_best_classes_and_keeps_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cifar100(tmp_path / "data")
    flags = ["--dataset", "cifar100", "--data-dir", str(tmp_path / "data"), "--epochs", "1", "--batch-size", "50"]
    flags += ["--finetune-epochs", "0", "--validation-split", "0", "--device", "cpu"]
    assert main(["run", *flags, "--out", str(tmp_path / "run")]) == 0
    per_class = json.loads((tmp_path / "run" / "summary.json").read_text())["per_class_accuracy"]
    assert list(per_class) == [f"class{i}" for i in range(100)]  # each class has one test image: 0 or 1
    assert set(per_class.values()) <= {0.0, 1.0}
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("accuracy per class")]
    ranked = sorted(per_class.items(), key=lambda pair: pair[1])
    worst = ", ".join(f"{name} {a * 100:.1f} %" for name, a in ranked[:3])
    best = ", ".join(f"{name} {a * 100:.1f} %" for name, a in reversed(ranked[-3:]))
    assert line == f"accuracy per class (100, all in summary.json) worst: {worst}; best: {best}"


@pytest.mark.parametrize("model", ["lenet5", "lenet300", "lenet5-caffe"])
def test_a_lenet_trained_on_colour_images_exports_compacts_and_reads_back(model: str, tmp_path: Path) -> None:
    write_cifar10(tmp_path / "data")
    flags = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), "--model", model, "--epochs", "1"]
    flags += ["--criterion", "ln-structured", "--sparsity", "0.5", "--batch-size", "8", "--device", "cpu"]
    assert main(["run", *flags, "--out", str(tmp_path / "run")]) == 0
    assert main(["export", str(tmp_path / "run")]) == 0
    images = torch.rand(4, 3, 32, 32)
    saved, compact = (load_model(tmp_path / "run" / name) for name in ("model.pt", "model-compact.pt"))
    assert saved(images).shape == compact(images).shape == (4, len(CIFAR10_CLASSES))
    assert sum(p.numel() for p in compact.parameters()) < sum(p.numel() for p in saved.parameters())
    torch.testing.assert_close(compact(images), saved(images), atol=1e-4, rtol=1e-4)
