"""The Textual app: configure an experiment, run it in a worker thread, watch it live."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from prunetui.engine.core.config import ExperimentConfig


def run_app(config: ExperimentConfig | None = None, runs_dir: Path | None = None) -> int:
    """Open the app, with `config` in the form (the last session's settings if None), saving and reading runs under
    `runs_dir` (the runs root if None); its exit code. SIGHUP and SIGTERM stop and save its runs (`hangup`)."""
    from prunetui.app.app import PruneApp
    from prunetui.app.hangup import stop_runs_on_hangup

    app = PruneApp(config, runs_dir=runs_dir)
    stop_runs_on_hangup(app)
    app.run()
    if "torch" in sys.modules:
        # A run went (and has saved itself, or the quit gave up waiting for it): torch takes a second or more
        # to tear down at interpreter exit, with nothing left to save (after a small training, 2.2-3.0 s from
        # the last line to the process's end on a loaded 2-core machine, 0.1 s this way). End the process now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(app.return_code or 0)
    return app.return_code or 0
