"""Saved runs: where they live, how their directories are named, and reading them back.

A run directory holds config.toml, history.csv, summary.json and model.pt (written by `recording.record_run`),
plus dense.pt, the trained model just before its first prune, and the lock its writer holds while it runs
(`run_lock`). Reading never trusts a directory to be whole: a run killed halfway or a file damaged by hand is
listed as incomplete with what could be read, never an error. No torch here, so the app's Runs screen opens at once.

    root = runs_root(args.runs_dir)          # --runs-dir, else $PRUNETUI_RUNS, else a per-user data directory
    directory = new_run_dir(root, config)    # 20261125-141503-3fa9c2, created empty and unique
    lock = claim_run_dir(directory)          # the one writer, until lock.release() or its process ends
    for run in list_runs(root): ...          # newest first
    path = resolve_run("last", root)         # or a path, a name, the unique start of a name
    delete_run(path)                         # refuses a run still running
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.errors import OutputError, PrunetuiError, RunDirError
from prunetui.engine.core.events import Event, Exported, Failed
from prunetui.engine.core.files import cannot_write, make_directory, write_atomic
from prunetui.engine.storage.history import HistoryRow
from prunetui.engine.storage.run_lock import LOCK_FILE, RunLock, remove_temporaries, writer_alive

CONFIG_FILE = "config.toml"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.pt"
DENSE_MODEL_FILE = "dense.pt"
COMPACT_MODEL_FILE = "model-compact.pt"  # written by `prunetui export` for ln-structured runs
RUN_FILES = (CONFIG_FILE, HISTORY_FILE, SUMMARY_FILE, MODEL_FILE, DENSE_MODEL_FILE, COMPACT_MODEL_FILE)
GROUP_KEY = "group"  # in summary.json: the seed group a run belongs to (`groups`); absent for a run of its own
LAST = "last"  # the run name that means the newest run
# A setting a saved config lacks is as it was before the setting existed: no validation images held out.
SAVED_BEFORE = ExperimentConfig(validation_split=0.0)
MAX_CANDIDATES = 5  # run names listed when a prefix is ambiguous

STAMP_FORMAT = "%Y%m%d-%H%M%S"
RUN_NAME = re.compile(r"^(\d{8}-\d{6})-[0-9a-f]{6}(-\d+)?$")


def runs_root(runs_dir: str | Path | None = None) -> Path:
    """Where runs are saved: `runs_dir` if given, else $PRUNETUI_RUNS, else the per-user data directory."""
    if runs_dir:
        return Path(runs_dir).expanduser()
    from_env = os.environ.get("PRUNETUI_RUNS")
    return Path(from_env).expanduser() if from_env else Path(platformdirs.user_data_dir("prunetui")) / "runs"


def config_hash(config: ExperimentConfig) -> str:
    """Six hex digits that tell configs apart at a glance."""
    return hashlib.sha256(config.to_toml().encode()).hexdigest()[:6]


def new_run_dir(root: str | Path, config: ExperimentConfig, now: datetime | None = None) -> Path:
    """Create and return an empty directory `root/YYYYmmdd-HHMMSS-<config hash>`, with -2, -3… if it is taken."""
    root = Path(root)
    base = f"{(now or datetime.now()).strftime(STAMP_FORMAT)}-{config_hash(config)}"
    n = 1
    while True:
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir(parents=True)  # atomic: two runs starting in the same second never share a directory
            return path
        except FileExistsError:
            n += 1
        except OSError as error:
            raise OutputError(f"cannot create a run directory in {root}: {error.strerror or error}") from None


def claim_run_dir(directory: str | Path, overwrite: bool = False) -> RunLock:
    """Make `directory` this process's run directory: create it, take its lock, and with `overwrite` delete the
    run it holds. Raises RunDirError when it holds a run (without `overwrite`) or another run is writing it, and
    OutputError when it cannot be created or written."""
    directory = Path(directory)
    make_directory(directory)
    try:
        lock = RunLock.acquire(directory)
    except OSError as error:
        raise OutputError(cannot_write(directory / LOCK_FILE, error)) from None
    if lock is None:
        raise RunDirError(f"{directory} is in use: another run is writing into it now")
    held = [name for name in RUN_FILES if (directory / name).exists()]
    if held and not overwrite:
        lock.release()
        raise RunDirError(
            f"{directory} already holds a run ({', '.join(held)}); pass --overwrite to replace it, "
            "or choose another --out"
        )
    for name in held:
        try:
            (directory / name).unlink()
        except OSError as error:
            lock.release()
            raise OutputError(f"cannot replace {directory / name}: {error.strerror or error}") from None
    remove_temporaries(directory)
    return lock


def land_run(lock: RunLock, files: dict[str, bytes]) -> None:
    """Write a run recorded elsewhere (a worker process, a Ray task) into the directory `lock` holds (see
    `write_run_files`); then let the directory go."""
    try:
        write_run_files(lock.directory, files)
    finally:
        lock.release()


def write_run_files(directory: Path, files: dict[str, bytes]) -> None:
    """Write a run recorded in another directory into `directory`, each file atomically and the summary last, so
    the run reads as whole once it has one. The summary names its model file where it is now, not where the run
    was recorded (a temporary directory, gone by then)."""
    for name in sorted(files, key=lambda name: name == SUMMARY_FILE):
        payload = files[name]
        if name == SUMMARY_FILE:
            document = json.loads(payload)
            if isinstance(document.get("export"), dict) and "path" in document["export"]:
                document["export"]["path"] = str(directory / Path(document["export"]["path"]).name)
            payload = (json.dumps(document, indent=2) + "\n").encode()
        write_atomic(directory / name, payload)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run directory as read back. Numbers are None where the run never got that far or the file is damaged."""

    name: str
    path: Path
    status: str  # finished, stopped, failed, running, interrupted (ended without a word), unreadable
    complete: bool  # trained, pruned and fine-tuned to the end
    started: datetime | None
    config: ExperimentConfig | None
    dense_accuracy: float | None
    accuracy: float | None
    sparsity: float | None  # reached, over the prunable weights
    compression: float | None  # all parameters over the non-zero ones, biases included
    message: str = ""  # why it failed
    export: Exported | None = None  # model.pt's sizes, as saved
    group: str = ""  # the seed group it belongs to (`groups`), "" for a run of its own or one saved before groups
    weight_compression: float | None = None  # weights over the non-zero ones, biases left out (the papers' count)

    @property
    def method(self) -> str:
        """criterion scope schedule, e.g. "l1 global iterative", and "per-layer" when layers have own targets."""
        c = self.config
        if c is None:
            return "?"
        return f"{c.criterion} {c.scope} {c.schedule}" + (" per-layer" if c.layer_sparsity else "")

    @property
    def model_path(self) -> Path | None:
        path = self.path / MODEL_FILE
        return path if path.is_file() else None


def read_run(path: str | Path) -> RunRecord:
    """Read one run directory, whatever state it is in."""
    path = Path(path)
    summary = _read_json(path / SUMMARY_FILE)
    config = _read_config(path, summary)
    status = summary.get("status") if isinstance(summary.get("status"), str) else None
    if status == "running" and not writer_alive(path):
        status = "interrupted"
    if status is None:
        status = "interrupted" if config else "unreadable"
    return RunRecord(
        name=path.name,
        path=path,
        status=status,
        complete=status == "finished" and summary.get("complete") is True,
        started=_started(path, summary),
        config=config,
        dense_accuracy=_number(summary.get("dense_accuracy")),
        accuracy=_number(summary.get("accuracy")),
        sparsity=_number(summary.get("sparsity")),
        compression=_number(summary.get("compression")),
        message=str(summary.get("message") or ""),
        export=_exported(summary.get("export")),
        group=group if isinstance(group := summary.get(GROUP_KEY), str) else "",
        weight_compression=_weight_compression(summary),
    )


def list_runs(root: str | Path) -> list[RunRecord]:
    """Every run under `root`, newest first. Folders that are not runs (no run name, no run files) are skipped."""
    runs = [read_run(path) for path in _run_dirs(Path(root))]
    return sorted(runs, key=lambda run: (run.started.timestamp() if run.started else 0.0, run.name), reverse=True)


def resolve_run(run: str, root: str | Path) -> Path:
    """A run given as `last` (the newest), a path, a name under `root`, or the unique start of a name."""
    root = Path(root)
    if run == LAST:
        runs = list_runs(root)
        if not runs:
            raise PrunetuiError(f"no runs in {root} yet, so no last one (`prunetui run` saves one there)")
        return runs[0].path
    for candidate in (Path(run).expanduser(), root / run):
        if candidate.is_dir():
            return candidate
    matches = sorted(path.name for path in _run_dirs(root) if path.name.startswith(run))
    if len(matches) == 1:
        return root / matches[0]
    if not matches:
        raise PrunetuiError(f"run {run!r} not found in {root}: no run name starts with it (`prunetui runs` lists them)")
    shown = ", ".join(matches[:MAX_CANDIDATES]) + (" …" if len(matches) > MAX_CANDIDATES else "")
    raise PrunetuiError(f"run {run!r} is ambiguous in {root}: {len(matches)} runs start with it: {shown}")


def deletable_run(path: str | Path) -> RunRecord:
    """The run at `path`, if it may be deleted: a run directory, not running, holding only a run's files."""
    path = Path(path)
    if not _looks_like_run(path):
        raise PrunetuiError(f"{path} is not a run directory; nothing deleted")
    run = read_run(path)
    if run.status == "running":
        raise PrunetuiError(f"run {run.name} is still running; stop it first, nothing deleted")
    foreign = sorted(entry.name for entry in path.iterdir() if not _is_run_file(entry))
    if foreign:
        raise PrunetuiError(f"{path} also holds {', '.join(foreign)}, not written by prunetui; nothing deleted")
    return run


def delete_run(path: str | Path) -> None:
    """Delete a run directory, checked by `deletable_run` first."""
    path = deletable_run(path).path
    # Renamed first, in one step, so that a listing never shows a run half deleted.
    doomed = path.with_name(f".deleting-{path.name}-{secrets.token_hex(4)}")
    try:
        path.rename(doomed)
    except OSError as error:
        raise PrunetuiError(f"cannot delete {path}: {error.strerror or error}") from None
    try:
        shutil.rmtree(doomed)
    except OSError as error:
        raise PrunetuiError(f"{path} is no longer listed, but {doomed} is left: {error.strerror or error}") from None


def discard_failed_start(directory: str | Path, last: Event) -> bool:
    """Delete the directory of a run that failed before training (no data set, say): it holds no experiment.
    True if it was deleted."""
    if not isinstance(last, Failed) or last.summary is not None:
        return False
    delete_run(directory)
    return True


def run_files(path: str | Path) -> list[str]:
    """The run files that `path` holds, in the order they are written."""
    return [name for name in RUN_FILES if (Path(path) / name).is_file()]


def load_history(run_dir: str | Path) -> list[HistoryRow]:
    """The run's metric history (history.csv); rows that cannot be read are left out, a missing file is empty."""
    try:
        with open(Path(run_dir) / HISTORY_FILE, newline="") as file:
            records = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    rows = []
    for record in records:
        try:
            rows.append(
                HistoryRow(
                    event=record["event"],
                    phase=record["phase"],
                    round=int(record["round"]),
                    epoch=int(record["epoch"]),
                    step=int(record["step"]),
                    train_loss=_optional_float(record["train_loss"]),
                    test_loss=_optional_float(record["test_loss"]),
                    accuracy=float(record["accuracy"]),
                    sparsity=_optional_float(record["sparsity"]),
                    val_accuracy=_optional_float(record.get("val_accuracy", "")),  # none before validation splits
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return rows


def running_marker() -> dict[str, Any]:
    """What a summary written at the start of a run holds. Whether it still runs is told by its lock, not by
    this; the pid and host only say, for people, which process writes it."""
    return {"status": "running", "complete": False, "pid": os.getpid(), "host": socket.gethostname()}


def _run_dirs(root: Path) -> list[Path]:
    return [path for path in root.iterdir() if _looks_like_run(path)] if root.is_dir() else []


def _looks_like_run(path: Path) -> bool:
    return (
        path.is_dir()
        and not path.name.startswith(".")
        and (bool(RUN_NAME.match(path.name)) or (path / SUMMARY_FILE).exists() or (path / CONFIG_FILE).exists())
    )


def _is_run_file(entry: Path) -> bool:
    """A file a run writes; hidden ones are its temporary files and locks."""
    return entry.is_file() and (entry.name in RUN_FILES or entry.name.startswith("."))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _read_config(path: Path, summary: dict[str, Any]) -> ExperimentConfig | None:
    try:
        return ExperimentConfig.load(path / CONFIG_FILE, SAVED_BEFORE)
    except PrunetuiError:
        pass
    try:
        return ExperimentConfig.from_mapping(summary["config"], SAVED_BEFORE)
    except (KeyError, TypeError, AttributeError, PrunetuiError):
        return None


def _started(path: Path, summary: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(summary["started"], "%Y-%m-%dT%H:%M:%S%z")
    except (KeyError, TypeError, ValueError):
        pass
    match = RUN_NAME.match(path.name)
    try:
        return datetime.strptime(match.group(1), STAMP_FORMAT) if match else None
    except ValueError:
        return None


def _exported(document: Any) -> Exported | None:
    try:
        return Exported(**document)
    except TypeError:  # missing, or not the fields of Exported
        return None


def _weight_compression(summary: dict[str, Any]) -> float | None:
    """The summary's weight compression; for a summary from before it was saved, worked out from its layers."""
    saved = _number(summary.get("weight_compression"))
    layers = summary.get("layers")
    if saved is not None or not isinstance(layers, list):
        return saved
    counts = [(layer.get("total"), layer.get("zeros")) for layer in layers if isinstance(layer, dict)]
    sizes = [(n, z) for n, z in counts if isinstance(n, int) and isinstance(z, int) and 0 <= z <= n]
    if not sizes or len(sizes) != len(layers):  # a damaged layer: better no figure than a wrong one
        return None
    total = sum(n for n, _ in sizes)
    return total / max(total - sum(z for _, z in sizes), 1)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _optional_float(text: str) -> float | None:
    return float(text) if text else None
