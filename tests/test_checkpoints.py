"""Damaged or hostile checkpoints (model.pt, dense.pt): nothing in them runs, and every reader says so in one line."""

from __future__ import annotations

import io
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from prunetui.cli import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses.weights import run_weights
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.storage.compact import export_run
from prunetui.engine.storage.export import load_model
from tests.analysis_helpers import tiny_flags


class Hostile:
    """Unpickling this runs a shell command that leaves a file behind."""

    def __init__(self, witness: Path) -> None:
        self.witness = witness

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return os.system, (f"touch {self.witness}",)


def torch_file(content: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(content, buffer)
    return buffer.getvalue()


def damage(path: Path, kind: str, witness: Path) -> None:
    good = path.read_bytes()
    payloads: dict[str, Callable[[], bytes]] = {
        "empty": lambda: b"",
        "truncated": lambda: good[: len(good) // 2],
        "random-bytes": lambda: bytes(range(256)) * 40,
        "hostile-pickle": lambda: pickle.dumps(Hostile(witness)),
        # torch.save's own zip format, its payload a command
        "hostile-torch-file": lambda: torch_file({"model": "lenet5", "shape": {}, "state_dict": Hostile(witness)}),
        "other-content": lambda: torch_file({"weights": torch.zeros(2)}),
    }
    path.write_bytes(payloads[kind]())


WHY = {
    "empty": "the file is empty",
    "truncated": "truncated or damaged",
    "random-bytes": "not a PyTorch file",
    "hostile-pickle": "not a PyTorch file",
    "hostile-torch-file": "it asks to run posix.system; refused, nothing was run",
    "other-content": "it holds no weights of a known model: lenet5, lenet300, lenet5-caffe",
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> Path:
    """A finished run with model.pt and dense.pt."""
    directory = tmp_path_factory.mktemp("run") / "run"
    config = ExperimentConfig(dataset="mnist", data_dir=str(tiny_data))
    assert main(["run", *tiny_flags(config), "--epochs", "1", "--out", str(directory)]) == 0
    return directory


@pytest.fixture
def run_copy(saved_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved_run, tmp_path / "run"))


@pytest.mark.parametrize("kind", WHY)
@pytest.mark.parametrize("file", ["model.pt", "dense.pt"])
def test_the_loader_refuses_in_one_line_and_runs_nothing(run_copy: Path, tmp_path: Path, kind: str, file: str) -> None:
    witness = tmp_path / "pwned"
    damage(run_copy / file, kind, witness)
    with pytest.raises(PrunetuiError) as error:
        load_model(run_copy / file)
    assert str(error.value) == f"{run_copy / file} is not a prunetui checkpoint ({WHY[kind]})"
    with pytest.raises(PrunetuiError, match="is not a prunetui checkpoint"):  # the Weights screen's reader
        run_weights(run_copy)
    assert not witness.exists()


@pytest.mark.parametrize("kind", WHY)
def test_export_of_a_damaged_model_is_one_line(
    run_copy: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    witness = tmp_path / "pwned"
    damage(run_copy / "model.pt", kind, witness)
    with pytest.raises(PrunetuiError, match="is not a prunetui checkpoint"):  # the Runs screen's export
        export_run(run_copy)
    capsys.readouterr()
    assert main(["export", str(run_copy)]) == 2
    out, err = capsys.readouterr()
    assert err == f"prunetui: error: {run_copy / 'model.pt'} is not a prunetui checkpoint ({WHY[kind]})\n"
    assert "Traceback" not in out + err and "Errno" not in err
    assert not witness.exists()


@pytest.mark.parametrize("kind", ["truncated", "hostile-pickle"])
def test_sensitivity_of_a_run_with_a_damaged_dense_model_is_one_line(
    run_copy: Path, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    witness = tmp_path / "pwned"
    damage(run_copy / "dense.pt", kind, witness)
    capsys.readouterr()
    assert main(["sensitivity", "--run", str(run_copy), "--amounts", "0.5"]) == 1
    out, err = capsys.readouterr()
    assert f"failed: {run_copy / 'dense.pt'} is not a prunetui checkpoint ({WHY[kind]})\n" in out
    assert "Traceback" not in out + err and err == ""
    assert not witness.exists()


def test_a_directory_in_place_of_the_model_says_so(run_copy: Path) -> None:
    (run_copy / "model.pt").unlink()
    (run_copy / "model.pt").mkdir()
    with pytest.raises(PrunetuiError, match=r"^cannot read .*model\.pt: Is a directory$"):
        load_model(run_copy / "model.pt")
