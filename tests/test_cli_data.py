"""`prunetui run` with nothing set up, and what it says before the first step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prunetui.cli import main


def test_a_first_run_trains_on_the_embedded_data_set_and_says_what_it_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--train-subset", "2200", "--epochs", "1", "--batch-size", "64", "--optimizer", "adam", "--lr", "0.003"]
    assert main(["run", *flags, "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    steps = ["importing torch …", "loading fashion-mnist-mini …", "decoding fashion-mnist-mini from"]
    assert [printed.index(step) for step in steps] == sorted(printed.index(step) for step in steps)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["config"]["dataset"] == "fashion-mnist-mini"
    # Real clothes, learnt from 1,980 images (220 held out): chance is 0.1.
    assert summary["dense_accuracy"] > 0.6 and summary["accuracy"] > 0.45
