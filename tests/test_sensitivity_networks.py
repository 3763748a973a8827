"""Sensitivity analysis beyond the LeNets: resnet20, torchvision's resnet18 and a network from the user's file, one
layer pruned at a time by its weights or (structurally) by the channels of its groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunetui.cli import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SensitivityEnded, SensitivityPoint, SensitivityStarted, dense_config
from prunetui.engine.analyses.sensitivity import Sensitivity
from prunetui.engine.core.data.loading import load_run_data
from prunetui.engine.core.errors import ConfigError
from prunetui.engine.core.experiment import measure
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.structural import apply_masks, plan_pruning
from prunetui.engine.storage.export import load_model, permanent_state, save_state
from tests.engine_helpers import run, tiny_settings
from tests.owndata import write_cifar10
from tests.test_own_network import USER_NET

AMOUNT = 0.5


@pytest.fixture(scope="module")
def resnet20(tiny_mnist_64: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentConfig, Path]:
    """resnet20 trained one epoch on a few hundred tiny images, saved as a model file, and its config; once for the
    module (the tests only read the file). The analysis evaluates a trial of each layer on the 64 test images."""
    root = tmp_path_factory.mktemp("resnet20")
    config = tiny_settings(tiny_mnist_64).replace(model="resnet20", epochs=1, train_subset=300, batch_size=32)
    with pytest.MonkeyPatch.context() as patch:  # the data cache of the conftest's per-test fixture, for the module
        patch.setenv("PRUNETUI_CACHE", str(root / "cache"))
        patch.setenv("PRUNETUI_DATA", str(root / "no-user-cache"))
        _, experiment = run(dense_config(config))
    assert experiment.model is not None
    path = root / "dense.pt"
    save_state(permanent_state(experiment.model), "resnet20", path, None, experiment.checkpoint_network())
    return config, path


def accuracy(model: nn.Module, config: ExperimentConfig) -> float:
    """Test accuracy on the images as the analysis loads them (normalised by the subset's statistics)."""
    return measure(model, load_run_data(config, torch.device("cpu"), download=False)).accuracy


def analyse(config: ExperimentConfig, model_path: Path | None = None) -> tuple[SensitivityStarted, SensitivityEnded]:
    events = list(Sensitivity(config, (AMOUNT,), model_path=model_path, download=False).run())
    (started,), ended = [event for event in events if isinstance(event, SensitivityStarted)], events[-1]
    assert isinstance(ended, SensitivityEnded)
    assert ended.status == "finished", ended.message
    return started, ended


def accuracies(ended: SensitivityEnded) -> dict[str, float]:
    assert all(isinstance(point, SensitivityPoint) and point.amount == AMOUNT for point in ended.points)
    return {point.layer: point.accuracy for point in ended.points}


@pytest.mark.slow  # trains a ResNet first
@pytest.mark.xdist_group("resnet20-sensitivity")  # one pytest-xdist worker: it trains once
def test_resnet20s_layers_are_pruned_one_at_a_time_by_weights(resnet20: tuple[ExperimentConfig, Path]) -> None:
    config, path = resnet20
    started, ended = analyse(config.replace(criterion="l1"), path)
    model = load_model(path)
    assert started.layers == tuple(name for name, _ in weight_layers(model))  # every conv and the linear
    assert len(started.layers) == 22 and started.layers[-1] == "fc"  # 19 convs, 2 shortcut convs, fc
    assert started.dense_accuracy == accuracy(model, config)
    by_layer = accuracies(ended)
    assert list(by_layer) == list(started.layers)
    for layer in ("layer2.0.conv1", "fc"):  # independently: that layer alone at half its weights
        trial = load_model(path)
        prune.l1_unstructured(trial.get_submodule(layer), "weight", amount=AMOUNT)
        assert accuracy(trial, config) == by_layer[layer], layer


@pytest.mark.slow  # trains a ResNet first
@pytest.mark.xdist_group("resnet20-sensitivity")  # one pytest-xdist worker: it trains once
def test_resnet20s_layers_lose_half_their_channels_with_their_groups(resnet20: tuple[ExperimentConfig, Path]) -> None:
    config, path = resnet20
    started, ended = analyse(config.replace(criterion="ln-structured", structured_norm="l1"), path)
    assert started.layers[-1] == "layer3.2.conv2" and "fc" not in started.layers  # its outputs are the classes
    assert started.sparsity == (0.0,) * len(started.layers)
    by_layer = accuracies(ended)
    example = resolve("resnet20").example_input(InputShape(1, 28, 10))
    for layer in ("layer3.0.conv1", "layer1.0.conv2"):  # a block's inner conv; one tied to the stem by the adds
        trial = load_model(path)
        pruning = plan_pruning(
            trial, example, output_layer="fc", importance="l1", fraction=0.0, layer_fractions={layer: AMOUNT}
        )
        apply_masks(trial, pruning)
        channels = pruning.channels()
        assert channels[layer] == (channels[layer][1] // 2, channels[layer][1])
        assert accuracy(trial, config) == by_layer[layer], layer
    tied = {name for name in pruning.channels() if name.endswith(("conv2", "conv1")) and "layer1" in name}
    assert "conv1" in pruning.channels() and len(tied) >= 3  # the stem and stage 1's outputs went with it
    # Chance, drawn by the seed: the stem and stage 1 are enough to tell (each layer analysed costs the test time).
    by_chance = config.replace(criterion="ln-structured", structured_importance="random", exclude_layers="layer[23].*")
    _, again = analyse(by_chance, path)
    _, once_more = analyse(by_chance, path)
    assert again.points == once_more.points and len(again.points) == 7
    assert accuracies(again) != {layer: by_layer[layer] for layer in accuracies(again)}


@pytest.mark.slow  # trains a ResNet first
def test_torchvision_resnet18_on_rgb_images_trained_now_and_pruned_by_channels(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    write_cifar10(tmp_path, per_batch=8)
    config = tiny_config.replace(
        model="torchvision:resnet18", dataset="cifar10", data_dir=str(tmp_path), epochs=1, batch_size=8
    )
    started, ended = analyse(config.replace(criterion="ln-structured"))
    assert started.source == "trained now" and started.layers[0] == "conv1" and "fc" not in started.layers
    assert len(started.layers) == 20  # 17 convs of the blocks and stem, 3 downsampling ones; not fc
    assert set(accuracies(ended)) == set(started.layers)
    assert all(0.0 <= point.accuracy <= 1.0 for point in ended.points)


def test_a_users_file_network_less_its_excluded_layers(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(USER_NET)
    config = tiny_config.replace(model=f"{path}:build", epochs=1, train_subset=200, exclude_layers="branch")
    started, ended = analyse(config.replace(criterion="random"))
    assert started.layers == ("stem.0", "depthwise", "mix", "head")
    structural, _ = analyse(config.replace(criterion="ln-structured"))
    assert structural.layers == ("stem.0", "depthwise", "mix")
    assert len(ended.points) == 4


def test_taylor_channels_are_refused_in_one_line(
    tiny_config: ExperimentConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_config.replace(model="resnet20", criterion="ln-structured", structured_importance="taylor")
    with pytest.raises(ConfigError, match=r"^invalid --structured-importance: sensitivity .* magnitude or random$"):
        Sensitivity(config)
    argv = ["sensitivity", "--model", "resnet20", "--criterion", "ln-structured", "--structured-importance", "taylor"]
    with pytest.raises(SystemExit, match="2"):
        main(argv)
    assert (
        "--structured-importance: invalid choice: 'taylor' (choose from 'magnitude', 'random')"
        in capsys.readouterr().err
    )
