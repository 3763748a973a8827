"""The Textual app: configure an experiment, run it in a worker thread, watch it live."""

from __future__ import annotations

from pathlib import Path

from prunetui.engine.config import ExperimentConfig


def run_app(config: ExperimentConfig | None = None, runs_dir: Path | None = None) -> None:
    """Open the app, with `config` in the form (the defaults if None), saving and reading runs under `runs_dir`
    (the runs root if None)."""
    from prunetui.app.app import PruneApp

    PruneApp(config, runs_dir=runs_dir).run()
