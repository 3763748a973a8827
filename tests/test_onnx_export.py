"""`prunetui export --onnx`: the compact model (else the run's model) as one ONNX file whose outputs, run by
onnxruntime, equal PyTorch's; without the `onnx` extra, one line saying what to install."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from prunetui.cli import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.compact import export_run
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.onnx_export import EQUAL_OUTPUTS, EXTRA
from prunetui.engine.storage.runs import COMPACT_MODEL_FILE, MODEL_FILE, ONNX_FILES
from tests.analysis_helpers import tiny_flags

# The `onnx` extra, which the `test` extra installs; looked up, not imported: onnxscript takes seconds to import,
# and every pytest-xdist worker collects this file.
pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnxscript")), reason="no onnx extra"
)


def onnxruntime_outputs(path: Path, images: torch.Tensor) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (outputs,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    return np.asarray(outputs)


def test_a_structured_resnet20_is_exported_compact_as_onnx_with_pytorchs_outputs(
    tiny_config: ExperimentConfig, tiny_mnist_64: Path, tmp_path: Path
) -> None:
    tiny_config = tiny_config.replace(data_dir=str(tiny_mnist_64))
    out = tmp_path / "r20"
    flags = ["--model", "resnet20", "--criterion", "ln-structured", "--sparsity", "0.5", "--out", str(out)]
    # One batch of training (BatchNorm statistics of its own) and no fine-tuning: resnet20 trains slowly on a CPU.
    flags += ["--epochs", "1", "--finetune-epochs", "0", "--train-subset", "64"]
    assert main(["run", *tiny_flags(tiny_config), *flags]) == 0
    report = export_run(out, batch=8, onnx=True)
    assert report.onnx is not None and report.onnx.path == str(out / ONNX_FILES[True])
    assert report.onnx.batch == 8 and report.onnx.max_difference <= EQUAL_OUTPUTS
    assert report.onnx.bytes == (out / ONNX_FILES[True]).stat().st_size
    assert not list(out.glob("*.onnx.data"))  # one file: the weights inside it

    # Any batch size (the batch dimension is free), read back by onnxruntime in this test, not by export's check.
    compact = load_model(out / COMPACT_MODEL_FILE)
    assert compact.conv1.out_channels == 8  # half of 16: the compact model, not the full-size one
    images = torch.randn(5, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = compact(images).numpy()
    assert np.abs(onnxruntime_outputs(out / ONNX_FILES[True], images) - expected).max() <= EQUAL_OUTPUTS


def test_export_onnx_of_an_unstructured_lenet_writes_its_model_and_prints_the_difference(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    out = tmp_path / "lenet"
    assert main(["run", *tiny_flags(tiny_config), "--sparsity", "0.9", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["export", str(out), "--onnx"]) == 0
    printed = capsys.readouterr().out.splitlines()
    line = next(line for line in printed if line.startswith("ONNX: "))
    assert line.startswith(f"ONNX: {out / ONNX_FILES[False]} (") and "on 256 random inputs" in line
    difference = float(line.rsplit(" by ", 1)[1].removesuffix(" at most"))
    assert difference <= EQUAL_OUTPUTS

    model = load_model(out / MODEL_FILE)
    images = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model(images).numpy()
    assert np.abs(onnxruntime_outputs(out / ONNX_FILES[False], images) - expected).max() <= EQUAL_OUTPUTS


def test_export_onnx_without_the_extra_says_what_to_install_in_one_line(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "lenet"
    assert main(["run", *tiny_flags(tiny_config), "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: importing it raises ImportError
    assert main(["export", str(out), "--onnx"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and EXTRA in error and "onnxruntime" in error
    assert not list(out.glob("*.onnx"))
