"""A strategy's settings live beside it: adding a schedule with settings of its own is its own file and a registry
line, and its settings become CLI flags, TOML keys, rows of the app's form and "does not apply" notes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import prunetui
from prunetui.engine import ExperimentConfig
from prunetui.engine.core.config import strategy_settings
from prunetui.engine.pruning.ln_structured import LnStructuredSettings
from prunetui.engine.pruning.schedules import AGPSettings, Retraining

# A schedule as a contributor would add it: one file in prunetui/engine/pruning/ ...
TOY_SCHEDULE = '''
from dataclasses import dataclass

from prunetui.engine.pruning.schedules import PlanSettings, Schedule
from prunetui.engine.schema import FRACTION, Interval, setting


@dataclass(frozen=True)
class HalfwaySettings:
    halfway_at: float = setting(0.5, "halfway: the first round's share of the target", interval=FRACTION)
    halfway_label: str = setting("", "halfway: a label for the runs", empty="none")


class Halfway(Schedule):
    """Two rounds: a share of the target, then the target."""

    name = "halfway"
    settings = HalfwaySettings

    def round_count(self, settings: PlanSettings) -> int:
        return 2

    def fractions(self, sparsity: float, settings: PlanSettings) -> list[float]:
        return [sparsity * settings.own.halfway_at, sparsity]
'''
# ... and one line in the registry.
REGISTERED = ("(OneShot(), Iterative(), AGP())", "(OneShot(), Iterative(), AGP(), Halfway())")
FIRST_IMPORT = "from prunetui.engine.pruning.criterion import Criterion\n"  # the new import goes above it

PROBE = """
import asyncio, contextlib, io, json, sys
from prunetui.app.app import PruneApp
from prunetui.app.widgets.experiment_form import ExperimentForm
from prunetui.cli.main import main
from prunetui.engine import ExperimentConfig

help = io.StringIO()
with contextlib.redirect_stdout(help), contextlib.suppress(SystemExit):
    main(["run", "--help"])
config = ExperimentConfig.load(sys.argv[1])
schedule = config.pruning_schedule
rounds = schedule.rounds({"fc1": 0.8}, config.plan_settings)

async def form_rows():
    app = PruneApp(config)
    async with app.run_test(size=(120, 50)) as pilot:
        form = app.query_one(ExperimentForm)
        while len(form.query(".setting")) < len(ExperimentConfig.fields()):
            await pilot.pause(0.05)
        read, problems = form.read()
        rows = [row.id for row in form.query(".setting")]
        return rows, read == config, problems

rows, same, problems = asyncio.run(form_rows())
print(json.dumps({
    "help": help.getvalue(),
    "values": [config.halfway_at, config.halfway_label],
    "toml": config.to_toml(),
    "rounds": [r.targets["fc1"] for r in rounds],
    "notes": [config.replace(schedule="agp").not_applicable("halfway_at"), config.not_applicable("halfway_at")],
    "problem": ExperimentConfig(halfway_at=1.5).problems(),
    "rows": rows, "form_reads_the_config": same, "form_problems": problems,
}))
"""


def test_a_schedule_with_two_settings_is_its_file_and_a_registry_line(tmp_path: Path) -> None:
    copy = tmp_path / "prunetui"
    shutil.copytree(Path(prunetui.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "engine" / "pruning" / "halfway.py").write_text(TOY_SCHEDULE)
    registry = copy / "engine" / "pruning" / "registry.py"
    source = registry.read_text()
    assert REGISTERED[0] in source and FIRST_IMPORT in source  # else the registry changed shape: change the test
    imported = source.replace(FIRST_IMPORT, "from prunetui.engine.pruning.halfway import Halfway\n" + FIRST_IMPORT)
    registry.write_text(imported.replace(*REGISTERED))
    settings = tmp_path / "halfway.toml"
    settings.write_text('schedule = "halfway"\nsparsity = 0.8\nhalfway-at = 0.25\nhalfway_label = "toy"\n')

    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(settings)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,  # the copy, not the checkout, is the prunetui imported
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "PRUNETUI_CONFIG_DIR": str(tmp_path / "config")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)

    help = " ".join(seen["help"].split())
    assert "{one-shot,iterative,agp,halfway}" in help
    assert "--halfway-at HALFWAY_AT halfway: the first round's share of the target [0.5]" in help
    assert "--halfway-label HALFWAY_LABEL halfway: a label for the runs [none]" in help
    assert seen["values"] == [0.25, "toy"]
    assert 'halfway-at = 0.25\nhalfway-label = "toy"\n' in seen["toml"]
    assert seen["rounds"] == [0.2, 0.8]  # the schedule reads its own settings
    assert seen["notes"] == ["halfway only", None]
    assert seen["problem"] == {"halfway_at": "must be in [0, 1)"}
    assert {"row-halfway_at", "row-halfway_label"} <= set(seen["rows"])
    assert seen["form_reads_the_config"] is True and seen["form_problems"] == {}


def test_the_schema_composes_each_strategys_settings_after_the_fine_tuning_epochs() -> None:
    assert strategy_settings() == [Retraining, AGPSettings, LnStructuredSettings]
    names = [f.name for f in ExperimentConfig.fields()]
    composed = ["rewind", "rewind_step", "reinit", "agp_initial_sparsity", "agp_start_step", "agp_interval"]
    start = names.index("finetune_epochs") + 1
    assert names[start : start + 7] == [*composed, "structured_norm"]
    config = ExperimentConfig(schedule="agp", agp_interval=3, criterion="ln-structured", structured_norm="l1")
    assert config.plan_settings.own == AGPSettings(agp_interval=3)
    assert config.pruning_criterion.norm == "l1"  # type: ignore[attr-defined]
    assert ExperimentConfig().plan_settings.own is None  # one-shot has no settings of its own


def test_config_files_saved_before_the_settings_moved_still_load(tmp_path: Path) -> None:
    """config.toml (and summary.json's config) keep their flat keys: a file saved before loads, and one saved now
    reads the same."""
    old = tmp_path / "config.toml"
    old.write_text('schedule = "agp"\nagp_interval = 3\nagp-start-step = 10\nstructured-norm = "l1"\nrewind = false\n')
    config = ExperimentConfig.load(old)
    assert (config.agp_interval, config.agp_start_step, config.structured_norm) == (3, 10, "l1")
    saved = tmp_path / "saved.toml"
    saved.write_text(config.to_toml())
    assert ExperimentConfig.load(saved) == config
    assert "agp-interval = 3\n" in saved.read_text()
    assert config.to_dict()["agp_interval"] == 3
    assert ExperimentConfig.from_mapping(json.loads(json.dumps(config.to_dict()))) == config
