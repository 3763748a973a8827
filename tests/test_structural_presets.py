"""The presets from the structural-pruning literature (Li et al. 2017 on VGG-16 and ResNet-56, DepGraph on
ResNet-56): they carry the papers' recipes, cut what the papers cut, run end to end on a tiny CIFAR-10 written in
the official format, and say in `prunetui presets` and the app that they were not reproduced here."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from prunetui.app.app import PruneApp
from prunetui.cli import main
from prunetui.describe_paper import NOT_REPRODUCED, comparison
from prunetui.engine import Experiment, ExperimentConfig, Failed, Finished
from prunetui.engine.core.data.sources import missing_text
from prunetui.engine.core.presets import load_preset, preset_names
from tests.owndata import write_cifar10
from tests.test_app import shown
from tests.test_app_presets import presets_opened

STRUCTURAL = ("li2017-vgg16", "li2017-resnet56", "depgraph-resnet56")
# Li et al.'s ResNet-56-pruned-B skips the blocks of its layers 16, 18, 20, 34, 38 and 54 (each block's conv1).
LI_SKIPPED = (
    "layer1.7.conv1",
    "layer1.8.conv1",
    "layer2.0.conv1",
    "layer2.7.conv1",
    "layer3.0.conv1",
    "layer3.8.conv1",
)


@pytest.fixture(scope="module")
def tiny_cifar10(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CIFAR-10 in the official pickle layout: five training batches and a test batch of 4 images each."""
    root = tmp_path_factory.mktemp("cifar")
    write_cifar10(root, per_batch=4)
    return root


def tiny_run(name: str, data_dir: Path) -> Finished:
    """The preset's recipe on the tiny CIFAR-10, with one epoch of training and one of fine-tuning."""
    config = load_preset(name).config.replace(data_dir=str(data_dir), device="cpu", epochs=1, finetune_epochs=1)
    for event in Experiment(config).run():
        assert not isinstance(event, Failed), event.message
        if isinstance(event, Finished):
            return event
    raise AssertionError("the run ended without Finished")


@pytest.mark.parametrize("name", STRUCTURAL)
def test_the_structural_presets_carry_the_papers_training_recipe(name: str) -> None:
    preset = load_preset(name)
    c = preset.config
    assert name in preset_names() and not preset.reproduced and preset.config.problems() == {}
    assert (c.dataset, c.criterion, c.structured_norm, c.schedule, c.optimizer) == (
        "cifar10", "ln-structured", "l1", "one-shot", "sgd"
    )  # fmt: skip
    assert (c.lr, c.batch_size, c.augment, c.validation_split) == (0.1, 128, "crop-flip", 0.0)
    assert (c.lr_schedule, c.lr_gamma) == ("multistep", 0.1)  # tenfold cuts after the papers' epochs
    assert preset.paper.dataset == "CIFAR-10" and preset.paper.same_data("cifar10")
    if name.startswith("li2017"):  # He et al.'s hyper-parameters; retraining a quarter of training at 0.001
        assert (c.epochs, c.finetune_epochs, c.finetune_lr, c.weight_decay) == (160, 40, 0.001, 0.0001)
        assert (c.lr_milestones, c.finetune_lr_milestones) == ("80,120", "")  # the same milestones in retraining,
        assert c.finetune_epochs < 80  # which it never reaches: its rate is constant
    else:  # Torch-Pruning's benchmark of DepGraph: 200 epochs, fine-tuning 100 at 0.01, channels ranked globally
        assert (c.epochs, c.finetune_epochs, c.finetune_lr, c.weight_decay) == (200, 100, 0.01, 0.0005)
        assert (c.scope, c.lr_milestones, c.finetune_lr_milestones) == ("global", "120,150,180", "60,80")


def test_li2017_resnet56_prunes_each_blocks_first_conv_by_stage_skipping_the_sensitive_ones() -> None:
    config = load_preset("li2017-resnet56").config
    layers = tuple(f"layer{stage}.{block}.conv{conv}" for stage in (1, 2, 3) for block in range(9) for conv in (1, 2))
    targets = config.layer_targets(("conv1", *layers, "fc"))
    for name, target in targets.items():
        stage_rate = {"layer1": 0.6, "layer2": 0.3, "layer3": 0.1}.get(name.split(".")[0], 0.0)
        expected = stage_rate if name.endswith(".conv1") and name not in LI_SKIPPED else 0.0
        assert target == expected, name


def test_li2017_vgg16_prunes_half_of_conv1_and_conv8_to_13() -> None:
    config = load_preset("li2017-vgg16").config
    convs = [f"features.{index}" for index in (0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40)]
    targets = config.layer_targets((*convs, "classifier.0", "classifier.3"))
    assert [name for name, target in targets.items() if target] == [convs[0], *convs[7:]]
    assert {target for target in targets.values() if target} == {0.5}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "tolerance"), [("li2017-vgg16", 0.003), ("li2017-resnet56", 0.003), ("depgraph-resnet56", None)]
)
def test_each_structural_preset_runs_end_to_end_on_a_tiny_cifar10_and_cuts_what_the_paper_cut(
    name: str, tolerance: float | None, tiny_cifar10: Path
) -> None:
    preset = load_preset(name)
    summary = tiny_run(name, tiny_cifar10).summary
    assert summary.complete and summary.cost is not None and summary.dense_cost is not None
    fewer_macs = 1 - summary.cost.macs / summary.dense_cost.macs
    assert preset.paper.fewer_macs is not None
    if tolerance is not None:  # Li et al. name the layers and fractions: the MACs they save do not depend on training
        assert fewer_macs == pytest.approx(preset.paper.fewer_macs, abs=tolerance)
        assert summary.cost.parameters < summary.dense_cost.parameters
    else:  # 38 % of all channels, ranked globally: how many MACs go depends on which channels rank lowest
        assert 0.4 < fewer_macs < 0.7
    paper, this_run, *_ = comparison(preset, summary)
    assert paper.startswith(f"paper: {preset.paper.network} on CIFAR-10: error")
    assert this_run.startswith(f"this run: {preset.config.model} on cifar10: error")  # the paper's data set
    assert f"{fewer_macs * 100:.3g} % fewer MACs" in this_run


def test_presets_command_lists_the_papers_figures_and_says_these_were_not_reproduced(
    capsys: pytest.CaptureFixture[str], wide_console: None
) -> None:
    assert main(["presets"]) == 0
    listed = capsys.readouterr().out
    rows = {name: next(line for line in listed.splitlines() if f" {name} " in line) for name in preset_names()}
    assert "VGG-16 on CIFAR-10: error 6.75 % → 6.60 %" in rows["li2017-vgg16"]
    assert "34.2 % fewer MACs" in rows["li2017-vgg16"]
    assert "ResNet-56 on CIFAR-10: error 6.96 % → 6.94 %" in rows["li2017-resnet56"]
    assert "27.6 % fewer MACs" in rows["li2017-resnet56"]
    assert "ResNet-56 on CIFAR-10: error 6.47 % → 7.07 %" in rows["depgraph-resnet56"]
    assert "(2.12×)" in rows["depgraph-resnet56"]
    assert [name for name, row in rows.items() if "Not reproduced" in row] == sorted(STRUCTURAL)
    assert main(["presets", "depgraph-resnet56"]) == 0
    assert NOT_REPRODUCED in capsys.readouterr().out


async def test_the_preset_dialog_says_a_recipe_was_not_reproduced(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        names = await presets_opened(pilot)
        about = app.screen.query_one("#preset-about", Static)
        await pilot.press(*["down"] * names.index("han2015-lenet5"))
        await pilot.pause()
        assert "Han et al." in shown(about) and "Not reproduced" not in shown(about)  # a recipe reproduced here
        await pilot.press(*["down"] * (names.index("li2017-vgg16") - names.index("han2015-lenet5")))
        await pilot.pause()
        text = " ".join(shown(about).split())
        assert "VGG-16 on CIFAR-10: error 6.75 % → 6.60 %" in text and NOT_REPRODUCED in text


def test_a_cifar10_preset_without_the_data_says_where_prunetui_looked(tmp_path: Path) -> None:
    text = missing_text("cifar10", tmp_path)  # what the app's form says when a CIFAR-10 preset fills it offline
    assert f"looked in {tmp_path / 'cifar-10-batches-py'}, {tmp_path / 'cifar-10-python.tar.gz'}" in text


def test_global_scope_ranks_channel_groups_of_other_networks_but_not_the_lenets_rows() -> None:
    structured = ExperimentConfig(criterion="ln-structured", scope="global", sparsity=0.38)
    assert structured.replace(model="resnet56").problems() == {}  # DepGraph's ranking across the network
    assert "use --scope layer" in structured.replace(model="lenet5").problems()["scope"]
