"""The Textual app: configure an experiment, run it in a worker thread, watch it live."""

from __future__ import annotations

from prunetui.engine.config import ExperimentConfig


def run_app(config: ExperimentConfig | None = None) -> None:
    """Open the app, with `config` in the form (the defaults if None)."""
    from prunetui.app.app import PruneApp

    PruneApp(config).run()
