"""Presets: the shipped recipes hold the papers' targets and schedules, a bad preset file is refused in one line,
and `prunetui run --preset` runs one, overridden by --config and flags, with the paper's figures beside its own."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from prunetui.cli import main
from prunetui.cli.presets_command import presets_table
from prunetui.describe_paper import comparison, figures_text, run_text
from prunetui.engine import ExperimentConfig
from prunetui.engine.core import presets
from prunetui.engine.core.config import MODEL_LAYER_WEIGHTS
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.events import LayerSparsity, RunSummary, SparsityReport
from prunetui.engine.core.presets import all_presets, load_preset, preset_names


def per_round_rates(config: ExperimentConfig) -> list[dict[str, float]]:
    """For each round of the config's schedule, the fraction of each layer's surviving weights it removes."""
    rounds = config.pruning_schedule.rounds(config.layer_targets(), config.plan_settings)
    before = dict.fromkeys(config.layer_targets(), 0.0)
    rates = []
    for round_ in rounds:
        rates.append({name: (s - before[name]) / (1 - before[name]) for name, s in round_.targets.items()})
        before = round_.targets
    return rates


def test_the_presets_asked_for_are_shipped_and_valid() -> None:
    names = preset_names()
    for name in ("han2015-lenet300", "han2015-lenet5", "lth-lenet300", "zhu-gupta-agp", "li2017-filters"):
        assert name in names
        # Only Frankle & Carbin hold images out; the others train on all of them and report test error.
        assert (load_preset(name).config.validation_split > 0) == (name == "lth-lenet300")
    for preset in all_presets():
        assert preset.config.problems() == {}
        assert preset.citation and preset.description and preset.paper.network


@pytest.mark.parametrize(
    ("name", "model", "kept"),
    [
        ("han2015-lenet300", "lenet300", {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}),
        ("han2015-lenet5", "lenet5-caffe", {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19}),
    ],
)
def test_han_presets_prune_each_layer_to_what_the_paper_kept(name: str, model: str, kept: dict[str, float]) -> None:
    preset = load_preset(name)
    config = preset.config
    assert (config.model, config.dataset, config.criterion, config.scope) == (model, "mnist", "l1", "layer")
    assert (config.lr, config.batch_size, config.weight_decay, config.finetune_lr) == (0.01, 64, 0.0005, 0.001)
    targets = config.layer_targets()
    assert targets == pytest.approx({layer: 1 - fraction for layer, fraction in kept.items()})
    assert dict(preset.paper.kept) == kept
    # The paper's 12 times fewer counts weights: the weights these targets leave are about a twelfth.
    assert preset.paper.counts == "weights"
    weights = MODEL_LAYER_WEIGHTS[model]
    left = sum(round(weights[layer] * fraction) for layer, fraction in kept.items())
    assert sum(weights.values()) / left == pytest.approx(preset.paper.compression, rel=0.02)
    assert per_round_rates(config)[-1] == pytest.approx(per_round_rates(config)[0])  # the same share each round


@pytest.mark.parametrize(("name", "table"), [("han2015-lenet300", "Table 2"), ("han2015-lenet5", "Table 3")])
def test_han_presets_name_the_papers_table_and_say_how_they_differ_from_caffes_solver(name: str, table: str) -> None:
    description = " ".join(load_preset(name).description.split())
    assert f"the paper's {table}:" in description and "Table 1" not in description
    assert "The paper counts weights, not biases" in description
    # Caffe's lenet_solver.prototxt: what is the same, and the three ways it is not
    assert "momentum 0.9, learning rate 0.01, weight decay 0.0005, batch 64" in description
    assert 'the rate stays constant, where Caffe\'s "inv" policy lowers it' in description
    assert "(1 + 0.0001 × iteration)^-0.75" in description and "biases twice the rate" in description
    assert "not Caffe's xavier filler" in description
    assert "scales the pixels by 0.00390625 (1/256) with no mean subtracted" in description


def test_lth_removes_20_20_and_10_percent_of_the_survivors_each_round_down_to_3_6_percent() -> None:
    config = load_preset("lth-lenet300").config
    assert (config.model, config.schedule, config.rewind, config.optimizer) == ("lenet300", "iterative", True, "adam")
    assert (config.lr, config.batch_size, config.rounds, config.init) == (0.0012, 60, 15, "xavier-normal")
    assert (config.rewind_step, config.reinit, config.total_epochs) == (0, False, 16 * 55)  # retrains all each round
    assert round(60_000 * config.validation_split) == 5_000  # held out of MNIST's training images, as the paper
    control = load_preset("lth-lenet300").control_config
    assert control == config.replace(reinit=True)  # the paper's control: the same masks, fresh weights
    rates = per_round_rates(config)
    assert len(rates) == 15
    for rate in rates:
        assert rate == pytest.approx({"fc1": 0.2, "fc2": 0.2, "fc3": 0.1}, abs=1e-9)
    weights = MODEL_LAYER_WEIGHTS["lenet300"]
    final = config.layer_targets()
    remaining = sum(weights[name] * (1 - s) for name, s in final.items()) / sum(weights.values())
    assert remaining == pytest.approx(load_preset("lth-lenet300").paper.remaining, abs=0.0005)


def test_agp_and_filter_presets_use_their_papers_methods() -> None:
    agp = load_preset("zhu-gupta-agp").config
    assert (agp.schedule, agp.criterion, agp.sparsity) == ("agp", "l1", 0.875)
    assert (agp.agp_initial_sparsity, agp.agp_start_step, agp.agp_interval, agp.rounds) == (0.0, 0, 100, 20)
    fractions = [r.targets["fc1"] for r in agp.pruning_schedule.rounds(agp.layer_targets(), agp.plan_settings)]
    steps = [b - a for a, b in zip([0.0, *fractions], fractions, strict=False)]
    assert steps == sorted(steps, reverse=True) and fractions[-1] == 0.875  # fast first, then slower: the cube
    filters = load_preset("li2017-filters").config
    assert (filters.criterion, filters.schedule, filters.model) == ("ln-structured", "one-shot", "lenet5-caffe")
    assert (filters.finetune_lr, filters.structured_norm) == (0.001, "l1")
    assert filters.layer_targets() == {"conv1": 0.5, "conv2": 0.5, "fc1": 0.0}  # filters only


@pytest.fixture
def preset_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Presets read from a directory of the test's own."""
    directory = tmp_path / "presets"
    directory.mkdir()
    monkeypatch.setattr(presets, "_files", lambda: directory)
    load_preset.cache_clear()
    yield directory
    load_preset.cache_clear()


GOOD = """\
title = "t"
citation = "c"
description = "d"
[settings]
epochs = 2
[paper]
network = "n"
dataset = "MNIST"
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("epochs = 2", "epoch = 2"), "preset bad: unknown setting 'epoch'; did you mean epochs?"),
        (GOOD.replace("epochs = 2", "sparsity = 1.5"), "preset bad: invalid --sparsity: must be in [0, 1)"),
        (GOOD + "accuracy = 0.9\n", "preset bad: unknown paper figure 'accuracy'"),
        (GOOD + "error = 1.59\n", "preset bad: paper figure error = 1.59 is not a fraction in [0, 1]"),
        (GOOD.replace('citation = "c"\n', ""), "preset bad: citation is missing"),
        (GOOD + "[extra]\n", "preset bad: unknown key 'extra'"),
        (GOOD + "[control]\nepochs = -1\n", "preset bad: invalid --epochs: must be between 0 and 1,000"),
        (GOOD.replace("epochs = 2", "epochs = ["), "preset bad: "),
    ],
)
def test_a_bad_preset_file_is_refused_in_one_line(preset_dir: Path, text: str, message: str) -> None:
    (preset_dir / "good.toml").write_text(GOOD)
    (preset_dir / "bad.toml").write_text(text)
    assert load_preset("good").config == ExperimentConfig(epochs=2) and load_preset("good").control_config is None
    with pytest.raises(ConfigError) as error:
        load_preset("bad")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="no preset 'nope'; the presets are bad, good"):
        load_preset("nope")


def lenet300_summary(config: ExperimentConfig, kept: dict[str, float], dense: float, accuracy: float) -> RunSummary:
    weights = MODEL_LAYER_WEIGHTS["lenet300"]
    layers = tuple(LayerSparsity(name, round(size * (1 - kept[name])), size) for name, size in weights.items())
    nonzero = sum(layer.nonzero for layer in layers) + 410
    report = SparsityReport(layers, nonzero, sum(weights.values()) + 410)
    return RunSummary(config, "cpu", True, dense, 0.1, accuracy, 0.1, report, 1000.0, 1.0)


def test_the_paper_is_put_beside_the_run_naming_a_data_set_that_is_not_the_papers() -> None:
    preset = load_preset("han2015-lenet300")
    assert figures_text(preset.paper) == (
        "error 1.64 % → 1.59 %, 267,000 → 22,000 weights, 12×, kept fc1 8 %, fc2 9 %, fc3 26 %"
    )
    config = preset.config.replace(dataset="fashion-mnist", epochs=1, device="cpu")
    summary = lenet300_summary(config, {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}, 0.8812, 0.8790)
    paper, this_run, other_count, changed = comparison(preset, summary)
    assert paper.startswith("paper: LeNet-300-100 on MNIST: error 1.64 % → 1.59 %")
    assert this_run == (  # counted as the paper counts: weights
        "this run: lenet300 on fashion-mnist (not the paper's MNIST): error 11.88 % → 12.10 %, "
        "266,200 → 21,776 weights, 12.2×, kept fc1 8 %, fc2 9 %, fc3 26 %"
    )
    assert other_count == "this run, counting all parameters (biases too): 266,610 → 22,186, 12×"
    assert changed == "changed from the preset: dataset fashion-mnist (preset mnist), epochs 1 (preset 10)"
    on_mnist = dataclasses.replace(summary, config=config.replace(dataset="mnist"))
    assert run_text(preset.paper, on_mnist).startswith("lenet300 on mnist: error")


def test_run_preset_with_config_file_and_flags_records_the_preset(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    config_file = tmp_path / "mine.toml"
    config_file.write_text("rounds = 2\nepochs = 1\n")  # over the preset; the flags go over both
    out = tmp_path / "out"
    flags = ["--data-dir", tiny_config.data_dir, "--device", "cpu", "--finetune-epochs", "1", "--lr", "0.003"]
    argv = ["run", "--preset", "han2015-lenet300", "--config", str(config_file), *flags, "--out", str(out)]
    assert main(argv) == 0

    config = ExperimentConfig.load(out / "config.toml")
    assert (config.model, config.layer_sparsity, config.batch_size) == ("lenet300", "fc1=0.92,fc2=0.91,fc3=0.74", 64)
    assert (config.rounds, config.epochs, config.finetune_epochs, config.lr) == (2, 1, 1, 0.003)
    summary = json.loads((out / "summary.json").read_text())
    recorded = summary["preset"]
    assert recorded["name"] == "han2015-lenet300" and recorded["paper"]["error"] == 0.0159
    assert recorded["changed"] == {
        "rounds": [3, 2], "epochs": [10, 1], "finetune-epochs": [3, 1], "lr": [0.01, 0.003]
    }  # fmt: skip
    fc1 = next(layer for layer in summary["layers"] if layer["name"] == "fc1")
    assert fc1["sparsity"] == pytest.approx(0.92, abs=1e-4)

    printed = capsys.readouterr().out
    assert "preset han2015-lenet300: Han et al. 2015" in printed
    assert "paper: LeNet-300-100 on MNIST: error 1.64 % → 1.59 %" in printed
    assert f"this run: lenet300 on mnist: error {(1 - summary['dense_accuracy']) * 100:.2f} %" in printed
    assert "kept fc1 8 %, fc2 9 %, fc3 26 %" in printed.split("this run:")[1]
    assert "changed from the preset: rounds 2 (preset 3), epochs 1 (preset 10)" in printed


def test_presets_command_lists_and_shows_them(capsys: pytest.CaptureFixture[str], wide_console: None) -> None:
    assert main(["presets"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in preset_names())
    assert "LeNet-300-100 on MNIST: error 1.64 % → 1.59 %" in listed
    assert main(["presets", "lth-lenet300"]) == 0
    shown = capsys.readouterr().out
    assert "Frankle" in shown and 'layer-sparsity = "fc1=0.9648' in shown
    assert "the paper's control: prunetui run --preset lth-lenet300 --reinit" in shown
    assert main(["presets", "nope"]) == 2
    assert main(["run", "--preset", "nope"]) == 2
    assert "no preset 'nope'; the presets are depgraph-resnet56, han2015-lenet300" in capsys.readouterr().err


def table_lines(width: int) -> list[str]:
    console = Console(width=width, record=True)
    console.print(presets_table(all_presets(), width))
    return console.export_text().splitlines()


def test_the_presets_table_is_two_lines_per_preset_at_80_columns_and_one_where_it_fits() -> None:
    lines = table_lines(80)
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 2 * len(preset_names()) and all(len(line) <= 80 for line in lines)
    assert [row.split("│")[1].strip() for row in rows[::2]] == preset_names()
    han = preset_names().index("han2015-lenet300")
    assert rows[2 * han].split("│")[2].strip() == "lenet300, l1 iterative"  # the recipe, then the paper's figures
    figures = rows[2 * han + 1]
    assert figures.rstrip(" │").endswith("…") and "LeNet-300-100 on MNIST: error 1.64 % → 1.59 %" in figures
    wide = [line for line in table_lines(400) if line.startswith("│")]
    assert len(wide) == len(preset_names()) and wide[han].rstrip(" │").endswith("fc3 26 %")  # whole


def test_each_seed_of_a_preset_run_is_recorded_and_set_beside_the_paper(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    flags = ["--data-dir", tiny_config.data_dir, "--device", "cpu", "--epochs", "1", "--rounds", "1"]
    runs = tmp_path / "runs"
    assert main(["run", "--preset", "lth-lenet300", "--seeds", "0,1", *flags, "--runs-dir", str(runs)]) == 0
    summaries = [json.loads(path.read_text()) for path in sorted(runs.glob("*/summary.json"))]
    assert sorted(s["config"]["seed"] for s in summaries) == [0, 1]  # runs started in one second sort by their hash
    assert all(s["preset"]["name"] == "lth-lenet300" and s["config"]["init"] == "xavier-normal" for s in summaries)
    printed = capsys.readouterr().out
    assert printed.count("paper: LeNet-300-100 on MNIST: 3.6 % of weights remaining") == 2
