"""Any network, wired end to end: `--model` with a built-in, torchvision or the user's own file, structural pruning
through Torch-Pruning's groups, checkpoints rebuilt with weights_only=True, export's compact model and its cost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from prunetui.cli import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SeedGroupEnded, SweepEnded, SweepSpec
from prunetui.engine.analyses.executor import Parallel
from prunetui.engine.analyses.seed_group import SeedGroup
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.errors import PrunetuiError
from prunetui.engine.core.events import Failed, RunStarted, Status
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.core.networks.checks import missing_sources
from prunetui.engine.core.networks.cifar_resnet import CifarResNet
from prunetui.engine.storage.compact import export_run
from prunetui.engine.storage.export import load_model
from prunetui.engine.storage.runs import list_runs

# A user's network with a residual add, a concatenation, BatchNorm and a depthwise conv.
USER_NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, in_channels, num_classes, width=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.depthwise = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.bn = nn.BatchNorm2d(width)
        self.branch = nn.Conv2d(width, width, 1)
        self.mix = nn.Conv2d(2 * width, 2 * width, 3, padding=1, stride=2)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = x + torch.relu(self.bn(self.depthwise(x)))  # residual add
        x = torch.cat([x, torch.relu(self.branch(x))], 1)  # concatenation
        x = torch.relu(self.mix(x))
        return self.head(x.mean((2, 3)))


def build(in_channels, num_classes, width=8):
    return Net(in_channels, num_classes, width)


def raises(in_channels, num_classes):
    raise RuntimeError("out of ideas")


def not_a_module():
    return 42


def wrong_output():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 7))


def by_position(channels, classes):  # names of its own: prunetui passes in_channels and num_classes by name
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * 28 * 28, classes))


def too_deep(in_channels, num_classes):
    convs = [nn.Conv2d(in_channels if i == 0 else 4, 4, 3, stride=2) for i in range(4)]
    return nn.Sequential(*convs, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))
"""


@pytest.fixture
def user_net(tmp_path: Path) -> Path:
    path = tmp_path / "nets" / "net.py"
    path.parent.mkdir()
    path.write_text(USER_NET)
    return path


def flags(config: ExperimentConfig, *more: str) -> list[str]:
    return [
        "run", "--dataset", config.dataset, "--data-dir", config.data_dir, "--epochs", "1", "--finetune-epochs", "0",
        "--batch-size", "64", "--device", "cpu", "--train-subset", "300", *more,
    ]  # fmt: skip


def test_resnet20_prunes_half_its_channels_and_exports_a_compact_model_with_fewer_macs(
    tiny_config: ExperimentConfig,
    tiny_mnist_64: Path,
    tmp_path: Path,
    wide_console: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "r20"
    more = ("--model", "resnet20", "--criterion", "ln-structured", "--sparsity", "0.5", "--out", str(out))
    assert main(flags(tiny_config.replace(data_dir=str(tiny_mnist_64)), *more)) == 0
    assert "MACs" in capsys.readouterr().out  # the closing lines tell the cost
    summary = json.loads((out / "summary.json").read_text())
    assert summary["macs"] < 0.3 * summary["dense_macs"]  # half the channels of every group: about a quarter
    assert [layer["name"] for layer in summary["layers"]][:2] == ["conv1", "layer1.0.conv1"]
    report = export_run(out, batch=16)
    assert report.compact is not None and report.cost is not None and report.dense_cost is not None
    assert report.compact.max_logit_difference <= 1e-4 and report.compact.same_predictions
    assert report.cost.macs == summary["macs"] < report.dense_cost.macs
    assert [latency.batch for latency in report.compact.latencies] == [1, 16]
    assert all(ms > 0 for latency in report.compact.latencies for ms in latency.milliseconds)
    exported = json.loads((out / "summary.json").read_text())
    assert [entry["batch"] for entry in exported["latency"]] == [1, 16]
    compact = load_model(out / "model-compact.pt")
    assert compact.conv1.out_channels == 8 and compact.fc.out_features == 10  # classes are never pruned


def test_a_users_file_network_prunes_structurally_and_its_compact_model_loads_in_a_fresh_process(
    tiny_config: ExperimentConfig, tmp_path: Path, user_net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(user_net.parent.parent)  # the model named by a relative path, as a user types it
    out = tmp_path / "mine"
    more = ("--model", "nets/net.py:build", "--model-args", '{"width": 8}', "--criterion", "ln-structured")
    assert main(flags(tiny_config, *more, "--sparsity", "0.5", "--out", str(out))) == 0
    report = export_run(out, batch=8)
    assert report.compact is not None and report.compact.max_logit_difference <= 1e-4
    widths = {width.name: (width.kept, width.total) for width in report.compact.widths}
    assert widths["stem.0"] == (4, 8) and widths["mix"] == (8, 16)  # the add and the concat pruned together
    script = textwrap.dedent(f"""
        import torch
        from prunetui.engine.storage.export import load_model
        model = load_model({str(out / "model-compact.pt")!r})
        print(model.stem[0].out_channels, model.depthwise.groups, tuple(model(torch.zeros(2, 1, 28, 28)).shape))
    """)
    fresh = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False
    )
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split() == ["4", "4", "(2,", "10)"]
    user_net.rename(user_net.with_suffix(".moved"))  # the user's code moved: one line naming what is missing
    with pytest.raises(PrunetuiError, match=r"cannot be rebuilt: --model .*net\.py: no such file"):
        load_model(out / "model-compact.pt")


def test_torchvision_resnet18_runs_on_one_channel_images(
    tiny_config: ExperimentConfig, tiny_mnist_64: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tv"
    more = ("--model", "torchvision:resnet18", "--sparsity", "0.5", "--train-subset", "64", "--out", str(out))
    # A few batches, 64 test images: resnet18 is slow on 2 cores.
    assert main(flags(tiny_config.replace(data_dir=str(tiny_mnist_64)), *more)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert summary["nonzero_macs"] < summary["macs"] == summary["dense_macs"]  # masks: a dense kernel does it all
    assert load_model(out / "model.pt").conv1.in_channels == 1


@pytest.mark.parametrize(
    ("more", "words"),
    [
        (("--model", "resnet"), "unknown model 'resnet'"),
        (("--model", "nets/missing.py:build"), "no such file"),
        (("--model", "nets/net.py:nothing"), "has no nothing"),
        (("--model", "nets/net.py:bulid"), "has no bulid; did you mean nets/net.py:build?"),
        (("--model", "nets/net.py:by_position"), "(missing a required argument: 'channels'): it passes in_channels="),
        (("--model", "nets/net.py:raises"), "raised RuntimeError: out of ideas"),
        (("--model", "nets/net.py:not_a_module"), "returned a int, not a torch.nn.Module"),
        (("--model", "nets/net.py:wrong_output"), "returns 2×7 for a batch of 2"),
        (("--model", "nets.nowhere:build"), "no module named nets.nowhere"),
        (("--model", "resnet20", "--model-args", '{"width": 3}'), "resnet20 takes none"),
        (("--model", "nets/net.py:build", "--model-args", '{"depth": 3}'), "unexpected keyword argument 'depth'"),
        (("--model", "resnet20", "--exclude-layers", "block9.*"), "block9.* matches no layer; the layers are conv1"),
        (("--model", "resnet20", "--layer-sparsity", "block9.*=0.5"), "block9.* matches no layer this run prunes"),
        (("--model", "resnet20", "--output-layer", "nope"), "--output-layer nope is not a conv or linear layer"),
        (("--model", "resnet20", "--weights", "missing.pt"), "--weights missing.pt: no such file"),
        (("--model", "resnet20", "--weights", "lenet.pt"), "does not fit resnet20"),
        (("--model", "nets/net.py:too_deep"), "cannot take 28×28 images: the smallest it takes is 31×31"),
    ],
)
def test_every_bad_network_spec_is_one_line_and_exit_code_2(
    tiny_config: ExperimentConfig,
    tmp_path: Path,
    user_net: Path,
    more: tuple[str, ...],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
    wide_console: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(user_net.parent.parent)
    torch.save(torch.nn.Linear(3, 2).state_dict(), "lenet.pt")
    try:
        code = main(flags(tiny_config, *more, "--out", str(tmp_path / "bad")))
    except SystemExit as exit_:
        code = exit_.code
    output = capsys.readouterr()
    assert code == 2
    lines = [line for line in (output.out + output.err).splitlines() if words in line]
    assert len(lines) == 1, output
    assert "Traceback" not in output.out + output.err


def test_a_run_of_the_app_or_the_api_fails_on_a_missing_network_file_before_its_data_loads(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    events = list(Experiment(tiny_config.replace(model=f"{tmp_path / 'gone.py'}:build")).run())
    assert isinstance(events[-1], Failed) and events[-1].bad_setting
    assert events[-1].message == f"--model {tmp_path / 'gone.py'}: no such file"
    assert not [event for event in events if isinstance(event, Status) and "images" in event.message]


def test_weights_start_the_run_and_rewinding_goes_back_to_them(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    torch.manual_seed(123)
    trained = CifarResNet(20, 1, 10)
    path = tmp_path / "trained.pt"
    torch.save(trained.state_dict(), path)
    config = tiny_config.replace(
        model="resnet20", weights=str(path), rewind=True, epochs=1, train_subset=100, criterion="ln-structured"
    )
    experiment = Experiment(config)
    for event in experiment.run():
        if isinstance(event, RunStarted):
            break
    _, rewind_to = experiment._rewind_to
    for name, tensor in trained.state_dict().items():
        if name in rewind_to:
            assert torch.equal(rewind_to[name], tensor), name
    # "prune my trained model": --epochs 0 prunes the loaded weights; dense.pt holds them as loaded
    out = tmp_path / "pruned"
    argv = ["run", "--dataset", config.dataset, "--data-dir", config.data_dir, "--model", "resnet20"]
    argv += ["--weights", str(path), "--epochs", "0", "--finetune-epochs", "0", "--train-subset", "100"]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    dense = load_model(out / "dense.pt").state_dict()
    assert all(torch.equal(dense[name], tensor) for name, tensor in trained.state_dict().items())


def test_a_sweep_in_worker_processes_prunes_a_users_file_network_named_by_a_relative_path(
    tiny_config: ExperimentConfig, tmp_path: Path, user_net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(user_net.parent.parent)
    base = tiny_config.replace(model="nets/net.py:build", epochs=1, finetune_epochs=0, train_subset=200)
    spec = SweepSpec(base, ("l1:layer:one-shot", "ln-structured:layer:one-shot"), (0.5,))
    events = list(Sweep(spec, tmp_path / "sweep", parallel=Parallel(jobs=2, threads=1), download=False).run())
    end = events[-1]
    assert isinstance(end, SweepEnded) and end.status == "finished", end
    assert len(end.points) == 2
    for point in end.points:
        run = tmp_path / "sweep" / "runs" / f"{point.method.replace(':', '-')}-0.5-seed0"
        model = load_model(run / "model.pt")  # rebuilt from the file, by its absolute path
        assert model.head.out_features == 10
        assert json.loads((run / "summary.json").read_text())["config"]["model"] == str(user_net) + ":build"


def test_a_seed_group_in_worker_processes_runs_a_users_file_network_named_by_a_relative_path(
    tiny_config: ExperimentConfig, tmp_path: Path, user_net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(user_net.parent.parent)
    base = tiny_config.replace(model="nets/net.py:build", epochs=1, finetune_epochs=0, train_subset=200)
    base = base.replace(criterion="ln-structured", sparsity=0.5)
    configs = [base.replace(seed=seed) for seed in (0, 1)]
    group = SeedGroup(configs, tmp_path / "runs", Parallel(jobs=2, threads=1), place=DataPlace(download=False))
    end = list(group.run())[-1]
    assert isinstance(end, SeedGroupEnded) and end.status == "finished", end
    runs = list_runs(tmp_path / "runs")
    assert sorted(run.config.seed for run in runs if run.config) == [0, 1]
    for run in runs:
        summary = json.loads((run.path / "summary.json").read_text())
        assert summary["macs"] < summary["dense_macs"]  # channels went, in the worker
        assert load_model(run.path / "model.pt").head.out_features == 10


def test_a_network_file_and_weights_under_home_are_found_by_their_tilde_paths(
    tmp_path: Path, user_net: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the app's form passes them, typed: a `~/w.pt` that is there is not 'no such file'."""
    monkeypatch.setenv("HOME", str(tmp_path))
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "w.pt")
    assert missing_sources("~/nets/net.py:build", "~/w.pt") == {}
    assert missing_sources("~/nets/gone.py:build", "~/gone.pt") == {
        "model": f"--model {tmp_path / 'nets' / 'gone.py'}: no such file",
        "weights": "--weights ~/gone.pt: no such file",
    }


@pytest.mark.parametrize(
    ("command", "file"),
    [
        (("run",), "--model gone.py:build"),
        (("run", "--model", "resnet20"), "--weights gone.pt"),
        (("run", "--seeds", "0-1"), "--model gone.py:build"),
        (("sensitivity",), "--model gone.py:build"),
        (("sweep", "--sparsities", "0.5"), "--model gone.py:build"),
    ],
)
def test_a_missing_network_or_weights_file_is_one_line_before_torch_and_the_data(
    tmp_path: Path,
    command: tuple[str, ...],
    file: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    wide_console: None,
) -> None:
    """Not after minutes of loading: here the data would fail to load too (mnist in an empty folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    argv = [*command, *file.split(), "--dataset", "mnist", "--data-dir", "empty"]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [f"prunetui: error: {file.removesuffix(':build')}: no such file"]
