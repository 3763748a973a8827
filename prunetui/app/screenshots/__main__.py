"""Regenerate the SVG screenshots in screenshots/ from the real app, driven by the pilot.

    .venv/bin/python -m prunetui.app.screenshots [--out screenshots] [--data-dir /tmp/prunetui-shots-data]

Runs real Fashion-MNIST (copied from /usr/share/datasets, or downloaded) on a subset, so it takes a few minutes.
It works in a fresh folder whose runs and data are named relative to it (`runs/…`, `data/…`, the data directory a
symlink to --data-dir), so that no picture shows a temporary path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from prunetui.app.screenshots.analysis_scenes import analyses
from prunetui.app.screenshots.run_scenes import idle, runs, validation_error
from prunetui.engine.core.config import ExperimentConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--data-dir", default="/tmp/prunetui-shots-data")
    args = parser.parse_args()
    out, data = args.out.resolve(), Path(args.data_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    # The pictures show the defaults, not the settings this user's app remembers (nor does it change them).
    os.environ["PRUNETUI_CONFIG_DIR"] = tempfile.mkdtemp(prefix="prunetui-shots-config-")
    os.chdir(tempfile.mkdtemp(prefix="prunetui-shots-"))
    Path("data").symlink_to(data)
    os.environ["PRUNETUI_DATA"], os.environ["PRUNETUI_RUNS"] = "data", "runs"  # the form's data dir stays empty
    config = ExperimentConfig(
        dataset="fashion-mnist",
        schedule="iterative",
        sparsity=0.97,
        rounds=3,
        epochs=2,
        finetune_epochs=1,
        batch_size=64,
        device="cpu",
        train_subset=6000,
    )
    for scene in (idle, validation_error, runs, analyses):
        asyncio.run(scene(out, config))
        print(f"{scene.__name__}: done")


if __name__ == "__main__":
    main()
