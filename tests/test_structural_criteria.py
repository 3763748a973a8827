"""The criteria of structural pruning: ln-structured's channels ranked by magnitude (L1/L2), Taylor importance or
chance, in layer or global scope, through Torch-Pruning's group importances on resnet20, torchvision's resnet18 and
a user's file network; on the LeNets by each layer's own rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from prunetui.cli import main
from prunetui.engine import ExperimentConfig, Status
from prunetui.engine.core.networks.registry import resolve
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.pruning.allocation import prune_to
from prunetui.engine.pruning.structural import compact_model, plan_pruning
from prunetui.engine.storage.compact import export_run
from tests.engine_helpers import of_type, run
from tests.owndata import write_cifar10
from tests.test_networks import BAD_NETWORKS, write
from tests.test_own_network import USER_NET


def structural(config: ExperimentConfig, model: str, **settings: object) -> ExperimentConfig:
    """`config` pruning half the channels of `model` once, from its initial weights (no training: fast)."""
    fast = {"epochs": 0, "finetune_epochs": 0, "train_subset": 128, "batch_size": 16}
    return config.replace(model=model, criterion="ln-structured", sparsity=0.5, **{**fast, **settings})


def kept_fractions(pruning_channels: dict[str, tuple[int, int]]) -> set[float]:
    return {kept / total for kept, total in pruning_channels.values()}


def test_resnet20s_channels_go_by_magnitude_taylor_or_chance_and_never_the_classes(
    tiny_config: ExperimentConfig, tiny_mnist_64: Path, tmp_path: Path
) -> None:
    tiny_config = tiny_config.replace(data_dir=str(tiny_mnist_64))  # each run evaluates resnet20 on the test images
    torch.manual_seed(0)
    dense = resolve("resnet20").build(InputShape(1, 28, 10)).eval()
    torch.save(dense.state_dict(), tmp_path / "dense.pt")  # the weights every run prunes, with no training
    histories = {}
    for importance in ("magnitude", "taylor", "random"):
        config = structural(
            tiny_config, "resnet20", structured_importance=importance, weights=str(tmp_path / "dense.pt")
        )
        events, experiment = run(config)
        pruning, model, example = experiment.channel_pruning, experiment.model, experiment.example
        assert pruning is not None and model is not None and example is not None
        histories[importance] = pruning.history
        measuring = [status for status in of_type(events, Status) if "measuring" in status.message]
        assert bool(measuring) == (importance == "taylor")  # only Taylor needs batches (8 of them)
        assert kept_fractions(pruning.channels()) == {0.5}  # layer scope: half of every group
        compact = compact_model(model, example, pruning).eval()
        assert compact.fc.out_features == 10
        with torch.no_grad():
            assert float((compact(example) - model.eval()(example)).abs().max()) <= 1e-4
    # Magnitude is Torch-Pruning's group L2 on those weights.
    expected = plan_pruning(dense, dense_example(), output_layer="fc", importance="l2", fraction=0.5)
    assert expected.history == histories["magnitude"]
    assert len(set(histories.values())) == 3
    config = structural(tiny_config, "resnet20", structured_importance="random", weights=str(tmp_path / "dense.pt"))
    again = run(config)[1].channel_pruning
    assert again is not None and again.history == histories["random"]  # the seed's draws


def dense_example() -> torch.Tensor:
    return resolve("resnet20").example_input(InputShape(1, 28, 10))


def test_global_scope_ranks_every_group_together_and_the_export_matches(tiny_mnist_64: Path, tmp_path: Path) -> None:
    out = tmp_path / "global"
    argv = ["run", "--dataset", "mnist", "--data-dir", str(tiny_mnist_64), "--device", "cpu", "--model", "resnet20"]
    argv += ["--criterion", "ln-structured", "--scope", "global", "--structured-norm", "l1", "--sparsity", "0.5"]
    argv += ["--epochs", "1", "--finetune-epochs", "0", "--train-subset", "128", "--batch-size", "32"]
    assert main([*argv, "--out", str(out)]) == 0
    report = export_run(out, batch=4)
    assert report.compact is not None and report.compact.max_logit_difference <= 1e-4
    assert report.cost is not None and report.dense_cost is not None and report.cost.macs < report.dense_cost.macs
    widths = {width.name: (width.kept, width.total) for width in report.compact.widths}
    assert "fc" not in widths  # its outputs are the classes
    convs = [kept / total for name, (kept, total) in widths.items() if name.endswith(("conv1", "conv2"))]
    assert len(set(convs)) > 2  # one threshold over all groups: each group loses its own share
    kept = sum(kept for name, (kept, _) in widths.items() if name.endswith("conv1"))
    total = sum(total for name, (_, total) in widths.items() if name.endswith("conv1"))
    assert 0.2 < kept / total < 0.8


@pytest.mark.slow  # resnet18's 11 M parameters, traced and pruned
def test_torchvision_resnet18_on_rgb_images_by_taylor_importance_in_global_scope(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    write_cifar10(tmp_path, per_batch=16)
    config = structural(
        tiny_config.replace(dataset="cifar10", data_dir=str(tmp_path), validation_split=0.0),
        "torchvision:resnet18",
        structured_importance="taylor",
        scope="global",
        batch_size=8,
    )
    events, experiment = run(config)
    pruning = experiment.channel_pruning
    assert pruning is not None and experiment.model is not None and experiment.example is not None
    assert experiment.example.shape[1] == 3 and any("Taylor" in s.message for s in of_type(events, Status))
    compact = compact_model(experiment.model, experiment.example, pruning).eval()
    assert compact.fc.out_features == 10 and compact.conv1.in_channels == 3
    assert len(kept_fractions(pruning.channels())) > 2
    with torch.no_grad():
        assert float((compact(experiment.example) - experiment.model.eval()(experiment.example)).abs().max()) <= 1e-4


def test_a_users_file_network_prunes_by_chance_repeatably_in_either_scope(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    path = tmp_path / "mine.py"
    path.write_text(USER_NET)
    histories = {}
    for scope, seed in (("layer", 0), ("global", 0), ("global", 1), ("global", 0)):
        config = structural(tiny_config, f"{path}:build", structured_importance="random", scope=scope, seed=seed)
        _, experiment = run(config)
        pruning = experiment.channel_pruning
        assert pruning is not None and experiment.model is not None
        if (scope, seed) in histories:
            assert histories[scope, seed] == pruning.history  # the same seed draws the same channels
        histories[scope, seed] = pruning.history
        assert pruning.shapes["head.weight"][0] == 10  # fewer inputs, every class
    assert len(set(histories.values())) == 3


def test_lenet_rows_go_by_taylor_importance_or_chance_and_its_default_rows_stay_as_they_were() -> None:
    torch.manual_seed(3)
    spec, shape = resolve("lenet5"), InputShape(1, 28, 10)
    batches = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(2)]
    names = ("conv1", "conv2", "fc1", "fc2")
    for importance in ("taylor", "random"):
        model = spec.build(shape)
        expected = {}
        if importance == "taylor":  # |w * dL/dw| summed over the batches, then over each row
            for images, labels in batches:
                model.zero_grad()
                nn.functional.cross_entropy(model(images), labels).backward()
                for name in names:
                    weight = model.get_submodule(name).weight
                    expected[name] = expected.get(name, 0) + (weight * weight.grad).abs().detach()
        config = ExperimentConfig(criterion="ln-structured", structured_importance=importance)
        criterion = config.pruning_criterion
        assert criterion.needs_batches == (importance == "taylor")
        layers = [(name, model.get_submodule(name)) for name in names]
        torch.manual_seed(4)
        prune_to(layers, criterion, dict.fromkeys(names, 0.5), criterion.scores(model, layers, batches))
        for name, module in layers:
            kept = module.weight_mask.flatten(1).any(1)
            assert int(kept.sum()) == len(kept) // 2, name
            if importance == "taylor":
                rows = expected[name].flatten(1).sum(1)
                assert torch.equal(kept, rows >= rows.sort().values[len(rows) // 2]), name
    # The default (row L2 norm) is torch's ln_structured, as before.
    model = spec.build(shape)
    criterion = ExperimentConfig(criterion="ln-structured").pruning_criterion
    prune_to([("fc1", model.fc1)], criterion, {"fc1": 0.5})
    norms = model.fc1.weight_orig.detach().norm(dim=1)
    assert torch.equal(model.fc1.weight_mask.any(1), norms >= norms.sort().values[60])


def test_the_settings_are_flags_toml_keys_and_one_line_when_they_do_not_apply(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "c.toml"
    config_file.write_text('criterion = "ln-structured"\nstructured-importance = "random"\nscope = "global"\n')
    loaded = ExperimentConfig.load(config_file, ExperimentConfig(model="resnet20"))
    assert (loaded.structured_importance, loaded.pruning_criterion.group_importance) == ("random", "random")
    assert loaded.not_applicable("structured_norm") == "random importance ranks by no norm"
    assert loaded.not_applicable("scope") is None and loaded.problems() == {}
    assert "no cap" in str(loaded.not_applicable("max_layer_sparsity"))
    base = ["run", "--dataset", "mnist", "--data-dir", tiny_config.data_dir, "--criterion", "ln-structured"]
    assert main([*base, "--scope", "global"]) == 2  # the LeNets rank each layer's rows on their own
    assert capsys.readouterr().err.strip().splitlines() == [
        "prunetui: error: invalid --scope: ln-structured prunes lenet5's rows per layer; global scope ranks the "
        "channels of other networks (resnet20, torchvision:NAME, your file): use --scope layer"
    ]
    with pytest.raises(SystemExit, match="2"):
        main([*base, "--structured-importance", "fisher"])
    assert "--structured-importance: invalid choice: 'fisher'" in capsys.readouterr().err


def test_a_network_that_breaks_once_channels_go_is_refused_naming_the_criteria_that_work(
    tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_cifar10(tmp_path / "data", per_batch=4)
    option_a = write(tmp_path, "option_a.py", BAD_NETWORKS["option_a.py"])
    base = ["run", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), "--model", f"{option_a}:build"]
    base += ["--epochs", "0", "--finetune-epochs", "0", "--device", "cpu", "--out"]
    more = ["--criterion", "ln-structured", "--structured-importance", "taylor", "--scope", "global"]
    assert main([*base, str(tmp_path / "refused"), *more]) == 2
    printed = " ".join(capsys.readouterr().err.split())  # as one line, however the console wraps it
    assert "failed: " in printed and "breaks once channels go" in printed
    assert "; the unstructured criteria (l1, random, taylor) still work" in printed
    assert not (tmp_path / "refused").exists()
    assert main([*base, str(tmp_path / "l1"), "--criterion", "l1", "--sparsity", "0.5"]) == 0  # as it says
