"""Honest export: sizes of a run's model, and ln-structured models cut into smaller LeNets that predict the same."""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

import pytest
import torch
from torch import nn

from prunetui.cli import main
from prunetui.describe import storage_note
from prunetui.engine import ExperimentConfig, Pruned
from prunetui.engine.analyses import SweepPoint, SweepSpec
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.core.events import Exported
from prunetui.engine.core.models import LeNet5, LeNet5Caffe, LeNet300, build_model
from prunetui.engine.storage.compact import COMPACT_MODEL_FILE, compact, export_run, time_inference
from prunetui.engine.storage.export import load_model, permanent_state
from tests.analysis_helpers import only_dir, tiny_flags, tiny_test_split
from tests.engine_helpers import of_type, run


def _zero_rows(model: nn.Module, rows: dict[str, list[int]]) -> None:
    with torch.no_grad():
        for name, indices in rows.items():
            model.get_submodule(name).weight[indices] = 0


@pytest.mark.parametrize(
    ("model", "rows", "expected_shape"),
    [
        (LeNet5(), {"conv1": [0, 4], "conv2": [1, 2, 3, 15], "fc1": list(range(100)), "fc2": [7]},
         {"channels": (4, 12), "hidden": (20, 83)}),
        (LeNet300(), {"fc1": list(range(0, 300, 2)), "fc2": list(range(90))}, {"hidden": (150, 10)}),
        (LeNet300(), {"fc1": list(range(300))}, {"hidden": (1, 100)}),  # a layer keeps one unit at least
        (LeNet5Caffe(), {"conv1": [0, 19], "conv2": list(range(0, 50, 5)), "fc1": list(range(400))},
         {"channels": (18, 40), "hidden": (100,)}),
    ],
)  # fmt: skip
def test_compact_cuts_zeroed_rows_and_computes_the_same_function(
    model: nn.Module, rows: dict[str, list[int]], expected_shape: dict[str, tuple[int, ...]]
) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():  # biases well away from zero, so their folding matters
            parameter.add_(torch.randn_like(parameter) * 0.1 + 0.05)
    _zero_rows(model, rows)
    name = {LeNet5: "lenet5", LeNet300: "lenet300", LeNet5Caffe: "lenet5-caffe"}[type(model)]
    compacted = compact(model, name)
    assert compacted.shape == expected_shape
    assert sum(p.numel() for p in compacted.model.parameters()) < sum(p.numel() for p in model.parameters())
    images = torch.randn(64, 1, 28, 28)
    torch.testing.assert_close(compacted.model(images), model.eval()(images), atol=1e-5, rtol=1e-4)


def test_a_structured_run_compacts_into_a_smaller_lenet_with_the_masked_models_predictions(
    tiny_config: ExperimentConfig,
) -> None:
    config = tiny_config.replace(criterion="ln-structured", sparsity=0.5)
    _, experiment = run(config)
    masked = experiment.model
    assert masked is not None and hasattr(masked.conv1, "weight_mask")
    plain = build_model("lenet5")
    plain.load_state_dict(permanent_state(masked))
    compacted = compact(plain, "lenet5")
    assert compacted.shape == {"channels": (3, 8), "hidden": (60, 42)}
    assert [(w.name, w.kept, w.total) for w in compacted.widths] == [
        ("conv1", 3, 6), ("conv2", 8, 16), ("fc1", 60, 120), ("fc2", 42, 84),
    ]  # fmt: skip
    test = tiny_test_split(config)
    with torch.no_grad():
        expected, got = masked.eval()(test.images), compacted.model(test.images)
    assert torch.equal(expected.argmax(1), got.argmax(1))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_export_command_saves_checks_and_times_the_smaller_model(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    flags = ["--criterion", "ln-structured", "--sparsity", "0.5", "--model", "lenet300"]
    assert main(["run", *tiny_flags(tiny_config), *flags]) == 0
    directory = only_dir(tmp_path / "runs")
    capsys.readouterr()
    assert main(["export", directory.name]) == 0
    printed = capsys.readouterr().out
    assert "identical to the masked model" in printed and "as fast" in printed
    assert "fc1 150/300, fc2 50/100" in printed
    compacted = 784 * 150 + 150 + 150 * 50 + 50 + 50 * 10 + 10
    assert f"266,610 ({compacted:,} kept)" in printed  # as many as the smaller network has

    small = load_model(directory / COMPACT_MODEL_FILE)  # a LeNet300 of the smaller shape, with weights_only loading
    assert (small.fc1.out_features, small.fc2.out_features) == (150, 50)
    report = export_run(directory)
    assert report.compact is not None and report.compact.same_predictions
    assert report.compact.parameters == 784 * 150 + 150 + 150 * 50 + 50 + 50 * 10 + 10
    assert report.parameters == 266_610 and report.nonzero == report.compact.parameters
    assert report.compact.saved.dense_bytes == 4 * report.compact.parameters < report.saved.dense_bytes
    assert report.compact.timing.speedup == report.compact.timing.dense_ms / report.compact.timing.compact_ms


def test_export_of_an_unstructured_run_says_masks_do_not_speed_up_inference(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["run", *tiny_flags(tiny_config), "--sparsity", "0.9", "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    assert "do not speed up dense PyTorch inference" in printed
    report = export_run(tmp_path / "r")
    dense, csr, gzipped = (f"{n / 1024:,.1f} KiB" for n in astuple(report.saved)[1:])
    assert f"They pay off in storage only: {csr} as sparse CSR or {gzipped} gzipped against {dense} dense." in printed
    assert report.compact is None and not (tmp_path / "r" / COMPACT_MODEL_FILE).exists()
    assert report.saved.sparse_bytes < report.saved.dense_bytes / 4  # 90 % zeros: CSR pays off
    assert report.saved.dense_bytes == 61_706 * 4 == report.parameters * 4
    assert report.nonzero == json.loads((tmp_path / "r" / "summary.json").read_text())["nonzero_parameters"]


def test_export_of_a_run_with_nothing_pruned_claims_no_storage_gain(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    assert main(["run", *tiny_flags(tiny_config), "--sparsity", "0", "--out", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "r")]) == 0
    printed = capsys.readouterr().out
    saved = export_run(tmp_path / "r").saved
    assert saved.sparse_bytes > 1.9 * saved.dense_bytes  # CSR of a dense model: every value plus its index
    dense, csr = f"{saved.dense_bytes / 1024:,.1f} KiB", f"{saved.sparse_bytes / 1024:,.1f} KiB"
    assert (
        f"Nothing is pruned (0 % sparse), so there is nothing to gain: the model is dense ({dense}), and sparse "
        f"CSR storage only adds indices ({csr})." in printed
    )
    assert "pay off" not in printed and "smaller" not in printed


def test_the_storage_note_says_what_the_numbers_show() -> None:
    assert storage_note(False, None, None) == "This run saved no model, so there is nothing to store smaller or export."
    sizes = Exported("model.pt", dense_bytes=246_824, sparse_bytes=300_000, gzip_bytes=200_000)  # 30 % sparse
    note = storage_note(False, 0.3, sizes)
    assert "They pay off in storage only: 195.3 KiB gzipped against 241.0 KiB dense." in note
    assert "CSR" not in note  # larger than dense at 30 %: not offered as a gain
    worse = Exported("model.pt", dense_bytes=246_824, sparse_bytes=300_000, gzip_bytes=250_000)
    assert "At 1.0 % sparse they do not even make the file smaller than its 241.0 KiB dense." in storage_note(
        False, 0.01, worse
    )
    assert storage_note(True, 0.0, sizes).startswith("Nothing is pruned")
    assert storage_note(True, 0.5, sizes).startswith("ln-structured: whole filters and neurons are zero.")


def test_export_of_an_unknown_run_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "20990101"]) == 2
    error = capsys.readouterr().err
    assert "run '20990101' not found" in error and len(error.strip().splitlines()) == 1


def test_inference_is_timed_for_each_model() -> None:
    dense_ms, small_ms = time_inference([LeNet5(), LeNet5((1, 1), (1, 1))], torch.randn(8, 1, 28, 28), repeats=3)
    assert dense_ms > 0 and small_ms > 0


def test_structured_sparsity_counts_what_the_compacted_model_keeps_in_the_run_the_sweep_and_export(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    """Half the filters and neurons of lenet5 gone: their outputs feed nothing, so the next layer's inputs from
    them are no weights at all, as the compacted model (conv 3, 8; fc 60, 42) shows."""
    kept = {"conv1": 3 * 25, "conv2": 8 * 3 * 25, "fc1": 60 * 8 * 25, "fc2": 42 * 60, "fc3": 10 * 42}
    compacted = sum(kept.values()) + 3 + 8 + 60 + 42 + 10
    assert compacted == 15_738
    config = tiny_config.replace(criterion="ln-structured", sparsity=0.5, finetune_epochs=0)
    assert main(["run", *tiny_flags(config), "--criterion", "ln-structured", "--sparsity", "0.5", "--out",
                 str(tmp_path / "r")]) == 0  # fmt: skip
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["nonzero_parameters"] == compacted and summary["total_parameters"] == 61_706
    assert {layer["name"]: layer["total"] - layer["zeros"] for layer in summary["layers"]} == kept
    assert summary["sparsity"] == 1 - sum(list(kept.values())[:4]) / (150 + 2400 + 48_000 + 10_080)
    report = export_run(tmp_path / "r")
    assert report.compact is not None and report.compact.parameters == report.nonzero == compacted

    events, _ = run(config)  # the run's bars (the Pruned event) and the sweep's point count the same
    (pruned,) = of_type(events, Pruned)
    assert pruned.sparsity.nonzero_parameters == compacted
    spec = SweepSpec(config, ("ln-structured",), (0.5,))
    (point,) = [
        event for event in Sweep(spec, tmp_path / "sweep", download=False).run() if isinstance(event, SweepPoint)
    ]
    assert point.compression == 61_706 / compacted and point.reached_sparsity == summary["sparsity"]
