"""A user's own network under Ray: its file (or package) shipped with the job, so that sweeps and seed groups run
on it on any machine of a cluster, here a local Ray instance that each executor starts (Ray ships local files only
with a job it starts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import SweepEnded, SweepSpec
from prunetui.engine.analyses.executor import Job, JobDone, Parallel, RayExecutor
from prunetui.engine.analyses.seed_group import SeedGroup
from prunetui.engine.analyses.sweep import Sweep
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.networks.user_code import SHIPPED_ENV, ray_runtime_env
from prunetui.engine.storage.export import load_model
from tests.executor_jobs import build_network
from tests.test_own_network import USER_NET

# A pytest-xdist group of their own, not test_sweep_ray's: each executor here starts a Ray instance and ends it, so
# they may run beside that file's instance on the other worker (two local instances take ports of their own); the
# Ray tests took a minute one after another on one worker, the suite's long pole.
pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray-shipped"), pytest.mark.slow]


@pytest.fixture
def no_ray_yet() -> None:
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()  # the executor starts Ray, with the code to ship


@pytest.fixture
def user_net(tmp_path: Path) -> Path:
    """The user's network in a file of a folder outside the repository."""
    path = tmp_path / "theirs" / "mynet.py"
    path.parent.mkdir()
    path.write_text(USER_NET)
    return path


def test_what_ray_ships_files_and_uninstalled_packages_not_built_ins_or_installed_ones(
    user_net: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "work" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(USER_NET)
    monkeypatch.chdir(package.parent)  # as `prunetui sweep --model mypkg.nets:build` run from the user's repository
    env = ray_runtime_env([f"{user_net}:build", "mypkg.nets:build", "resnet20", "torchvision:resnet18"])
    assert env["py_modules"] == [str(user_net), str(package)]
    assert json.loads(env["env_vars"][SHIPPED_ENV]) == {str(user_net): "mynet"}
    assert ray_runtime_env(["lenet5", "torchvision:resnet18", "torch.nn:Linear", "json:loads"]) == {}


def test_a_worker_imports_the_shipped_file_where_its_path_does_not_exist(
    no_ray_yet: None, user_net: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "elsewhere" / "mynet.py"  # the path on the machine the jobs were started from
    env = ray_runtime_env([f"{user_net}:build"])
    env["env_vars"] = {SHIPPED_ENV: json.dumps({str(gone): "mynet"})}
    with RayExecutor("", threads=1, runtime_env=env) as executor:
        executor.submit(Job("build", build_network, f"{gone}:build"))
        (done,) = [outcome for outcome in executor.as_completed() if isinstance(outcome, JobDone)]
    classes, source = done.result
    assert classes == 10 and Path(source).name == "mynet.py" and Path(source) != user_net  # Ray's copy


def test_a_sweep_on_ray_runs_a_users_file_network_and_a_seed_group_ships_it_alike(
    no_ray_yet: None, tiny_config: ExperimentConfig, tmp_path: Path, user_net: Path
) -> None:
    """Each series hands its configs' networks to the executor that starts Ray (`Series.models`); a seed group on
    Ray is run in test_sweep_ray, on a shared instance (a Ray start with a shipped file costs 8 s here)."""
    base = tiny_config.replace(model=f"{user_net}:build", epochs=1, finetune_epochs=0, train_subset=200)
    # One point: each Ray worker that takes a task imports torch and its compiler (about 4 s of CPU here).
    spec = SweepSpec(base, ("ln-structured:global:one-shot",), (0.5,))
    ray = Parallel(threads=1, ray="")
    end = list(Sweep(spec, tmp_path / "sweep", parallel=ray, download=False).run())[-1]
    assert isinstance(end, SweepEnded) and end.status == "finished", end
    (point,) = end.points
    run = tmp_path / "sweep" / "runs" / "ln-structured-global-one-shot-0.5-seed0"
    assert point.method == "ln-structured:global:one-shot" and load_model(run / "model.pt").head.out_features == 10
    structured = json.loads((run / "summary.json").read_text())
    assert structured["macs"] < structured["dense_macs"]  # channels went, in the Ray task
    configs = [base.replace(seed=seed) for seed in (0, 1)]
    group = SeedGroup(configs, tmp_path / "runs", ray, place=DataPlace(download=False))
    assert ray_runtime_env(group.models)["py_modules"] == [str(user_net)]
