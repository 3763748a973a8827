"""The form's last settings, kept between sessions in the user's config directory (or $PRUNETUI_CONFIG_DIR)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import ConfigError, OutputError
from prunetui.engine.core.files import write_atomic

SETTINGS_FILE = "last-settings.toml"


def settings_path() -> Path:
    from_env = os.environ.get("PRUNETUI_CONFIG_DIR")
    directory = Path(from_env).expanduser() if from_env else Path(platformdirs.user_config_dir("prunetui"))
    return directory / SETTINGS_FILE


def recall() -> tuple[ExperimentConfig | None, str | None]:
    """The remembered settings (None when there are none yet), or None and why a damaged file was ignored."""
    path = settings_path()
    if not path.is_file():
        return None, None
    try:
        return ExperimentConfig.load(path), None
    except ConfigError as error:
        return None, f"{error}; the defaults are used instead"


def remember(config: ExperimentConfig) -> str | None:
    """Save the settings for the next session; why not, if they could not be written."""
    try:
        write_atomic(settings_path(), config.to_toml())
    except OutputError as error:  # a file where the directory goes, read-only, full: the run goes on regardless
        return f"cannot remember the settings: {error}"
    return None
