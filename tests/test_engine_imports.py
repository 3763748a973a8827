"""The engine never imports Textual, and its config/events/errors load without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def imported_after(code: str) -> list[str]:
    """Top-level package names in sys.modules after running `code` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


ALL_ENGINE_MODULES = """
import importlib, pkgutil
import prunetui.engine
modules = [m.name for m in pkgutil.walk_packages(prunetui.engine.__path__, "prunetui.engine.")]
core = {"prunetui.engine.core.experiment", "prunetui.engine.core.training", "prunetui.engine.core.data"}
assert core <= set(modules), modules
for name in modules:
    importlib.import_module(name)
from prunetui.engine import Experiment
"""


def test_no_engine_module_imports_textual() -> None:
    packages = imported_after(ALL_ENGINE_MODULES)
    assert "torch" in packages  # the check below ran with the whole engine loaded
    assert [name for name in packages if name.startswith("textual")] == []


@pytest.mark.parametrize(
    "code",
    [
        "import prunetui.engine",
        "from prunetui.engine import ExperimentConfig, RunStarted, ConfigError",
        "from prunetui.engine.core.config import ExperimentConfig; ExperimentConfig().validate().to_toml()",
        "from prunetui.engine.core.data import availability; availability(None)",  # what the form asks
    ],
)
def test_config_events_and_errors_load_without_torch(code: str) -> None:
    packages = imported_after(code)
    assert "prunetui" in packages
    assert not {"torch", "torchvision", "numpy", "textual"} & set(packages)
