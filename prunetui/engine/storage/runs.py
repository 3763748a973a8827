"""Saved runs: where they live, how their directories are named, and reading them back.

A run directory holds config.toml, history.csv, summary.json and model.pt (written by `recording.record_run`),
plus dense.pt, the trained model just before its first prune, and the lock its writer holds while it runs
(`run_lock`). Reading never trusts a directory to be whole: a run killed halfway or a file damaged by hand is
listed as incomplete with what could be read, never an error. No torch here, so the app's Runs screen opens at once.

    root = runs_root(args.runs_dir)          # --runs-dir, else $PRUNETUI_RUNS, else a per-user data directory
    lock = claim_new_run_dir(root, config)   # 20261125-141503-3fa9c2, unique, locked from the moment it exists
    lock = claim_run_dir(directory)          # or a directory of one's choice (--out)
    for run in list_runs(root): ...          # newest first
    path = resolve_run("last", root)         # or a path, a name, the unique start of a name
    delete_run(path)                         # refuses a run whose writer lives, however far it got

A run's status is one of STATUSES. Whether it runs is told by its lock alone: a run whose writer holds the lock
is running (even before its first summary.json), one whose summary still says running but whose lock is free
was killed (interrupted); a summary.json that cannot be read, or says what prunetui never writes, is unreadable.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import json
import math
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
from prunetui.engine.storage.run_lock import LOCK_FILE, RunLock, holder, remove_temporaries, writer_alive

CONFIG_FILE = "config.toml"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"
MODEL_FILE = "model.pt"
DENSE_MODEL_FILE = "dense.pt"
COMPACT_MODEL_FILE = "model-compact.pt"  # written by `prunetui export` for ln-structured runs
ONNX_FILES = {False: "model.onnx", True: "model-compact.onnx"}  # `export --onnx`: model.pt's, or the compact one's
RUN_FILES = (CONFIG_FILE, HISTORY_FILE, SUMMARY_FILE, MODEL_FILE, DENSE_MODEL_FILE, COMPACT_MODEL_FILE)
EVENTS_FILE = "events.jsonl"  # the run's events as they happen (`event_log`), for a process that follows it
GROUP_KEY = "group"  # in summary.json: the seed group a run belongs to (`groups`); absent for a run of its own
LAST = "last"  # the run name that means the newest run
# A setting a saved config lacks is as it was before the setting existed: no validation images held out.
SAVED_BEFORE = ExperimentConfig(validation_split=0.0)
MAX_CANDIDATES = 5  # run names listed when a prefix is ambiguous
ENDED = ("finished", "stopped", "failed")  # what a writer leaves in summary.json at its end
# Every status a run can have: ENDED, running (its writer lives), interrupted (killed without a word) and
# unreadable (summary.json damaged, or holding a status outside this set).
STATUSES = (*ENDED, "running", "interrupted", "unreadable")
STARTING_PREFIX = ".starting-"  # a new run directory, hidden while its lock is taken

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


def claim_new_run_dir(root: str | Path, config: ExperimentConfig, now: datetime | None = None) -> RunLock:
    """Create `root/YYYYmmdd-HHMMSS-<config hash>` (-2, -3… if it is taken) and return its lock, held.

    The directory is made hidden, locked, then renamed into place in one step, so it never exists without a
    live lock: a reader never takes a run that is starting for one abandoned (and deletes it). OutputError when
    it cannot be made."""
    root = Path(root)
    base = f"{(now or datetime.now()).strftime(STAMP_FORMAT)}-{config_hash(config)}"
    staging = root / f"{STARTING_PREFIX}{secrets.token_hex(4)}"
    try:
        staging.mkdir(parents=True)
        lock = RunLock.acquire(staging)
    except OSError as error:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise OutputError(f"cannot create a run directory in {root}: {error.strerror or error}") from None
    assert lock is not None, "no one else knows the staging directory"
    n = 1
    while True:
        path = root / (base if n == 1 else f"{base}-{n}")
        try:
            if path.exists() or path.is_symlink():  # rename would replace an empty directory
                raise FileExistsError(errno.EEXIST, "taken")
            staging.rename(path)  # fails if another run took the name first: that one holds its lock file
            lock.directory = path
            return lock
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                n += 1
                continue
            lock.release()
            with contextlib.suppress(OSError):
                shutil.rmtree(staging)
            raise OutputError(f"cannot create a run directory in {root}: {error.strerror or error}") from None


def check_run_dir(directory: str | Path, overwrite: bool = False) -> None:
    """Raise what `claim_run_dir` would refuse with, creating nothing: so that a command refuses before its slow
    start (importing torch), and a start that fails leaves no directory behind."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"cannot write to {directory}: it is a file, not a directory")
    if directory.is_dir():
        if writer_alive(directory):
            raise RunDirError(_in_use(directory))
        _refuse_held(directory, overwrite)


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
        raise RunDirError(_in_use(directory))
    try:
        held = _refuse_held(directory, overwrite)
    except RunDirError:
        lock.release()
        raise
    for name in held:
        try:
            (directory / name).unlink()
        except OSError as error:
            lock.release()
            raise OutputError(f"cannot replace {directory / name}: {error.strerror or error}") from None
    remove_temporaries(directory)
    return lock


def _refuse_held(directory: Path, overwrite: bool) -> list[str]:
    """The run files `directory` holds; RunDirError if it holds any and `overwrite` is not given."""
    held = [name for name in (*RUN_FILES, EVENTS_FILE) if (directory / name).exists()]
    if held and not overwrite:
        raise RunDirError(
            f"{directory} already holds a run ({', '.join(held)}); pass --overwrite to replace it, "
            "or choose another --out"
        )
    return held


def _in_use(directory: Path) -> str:
    who = holder(directory)
    return f"{directory} is in use: another run is writing into it now{f' ({who})' if who else ''}"


def land_run(lock: RunLock, files: dict[str, bytes]) -> None:
    """Write a run recorded elsewhere (a worker process, a Ray task) into the directory `lock` holds (see
    `write_run_files`); then let the directory go."""
    try:
        write_run_files(lock.directory, files)
    finally:
        lock.release()


def discard_unused(lock: RunLock) -> None:
    """Remove the directory `lock` holds if nothing was written into it but the lock (a seed that never came back),
    then let it go."""
    directory = lock.directory
    try:
        if all(entry.name == LOCK_FILE for entry in directory.iterdir()):
            (directory / LOCK_FILE).unlink()
            directory.rmdir()
    except OSError:  # gone already, or not ours to remove: left as it is
        pass
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
            payload = json_text(document).encode()
        write_atomic(directory / name, payload)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run directory as read back. Numbers are None where the run never got that far or the file is damaged."""

    name: str
    path: Path
    status: str  # one of STATUSES: finished, stopped, failed, running, interrupted, unreadable
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
    ended: datetime | None = None  # when it ended; None while it runs, or for a run killed without a word

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
    summary, damaged = _read_summary(path / SUMMARY_FILE)
    config = _read_config(path, summary)
    return RunRecord(
        name=path.name,
        path=path,
        status=(status := _status(path, summary, damaged, config)),
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
        ended=_stamp(summary, "ended"),
    )


def _status(path: Path, summary: dict[str, Any], damaged: bool, config: ExperimentConfig | None) -> str:
    """A live writer's run is running, from the moment its directory exists; otherwise summary.json tells."""
    if writer_alive(path):
        return "running"
    if damaged:
        return "unreadable"
    status = summary.get("status")
    if status == "running":
        return "interrupted"
    if status in ENDED:
        return str(status)
    if status is None and not summary:  # no summary.json: killed between writing config.toml and it
        return "interrupted" if config else "unreadable"
    return "unreadable"  # a status prunetui never writes, or none in a summary that has other keys


def list_runs(root: str | Path) -> list[RunRecord]:
    """Every run under `root`, newest first. Folders that are not runs (no run name, no run files) are skipped,
    and so are runs deleted while they were being read."""
    runs = [run for path in _run_dirs(Path(root)) if (run := read_run(path)) and path.is_dir()]
    return sorted(runs, key=lambda run: (run.started.timestamp() if run.started else 0.0, run.name), reverse=True)


def not_a_runs_root(root: str | Path) -> str:
    """Why `root` cannot hold runs ("" when it can, or does not exist yet)."""
    root = Path(root)
    return f"{root} is a file, not a directory of runs" if root.exists() and not root.is_dir() else ""


def is_run_dir(path: str | Path) -> bool:
    """Whether `path` is a run directory: a run's name, or a run's files."""
    return _looks_like_run(Path(path))


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
    raise PrunetuiError(f"run {run!r} is ambiguous in {root}: {len(matches)} runs start with it: {candidates(matches)}")


def candidates(names: list[str]) -> str:
    """The names an ambiguous start of a name could mean, the first few of them."""
    return ", ".join(names[:MAX_CANDIDATES]) + (" …" if len(names) > MAX_CANDIDATES else "")


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
    """Delete a run directory, checked by `deletable_run` first; a symbolic link to one is removed, not its run.
    Its lock is taken right after the check and held to the end: a writer that started in between is found,
    and one that starts meanwhile is refused."""
    path = Path(path)
    if path.is_symlink():
        deletable_run(path)
        try:
            path.unlink()
        except OSError as error:
            raise PrunetuiError(f"cannot delete the link {path}: {error.strerror or error}") from None
        return
    run = deletable_run(path)
    try:
        lock = RunLock.acquire(path)
    except OSError as error:
        raise PrunetuiError(f"cannot delete {path}: {error.strerror or error}") from None
    if lock is None:
        raise PrunetuiError(f"run {run.name} is still running; stop it first, nothing deleted")
    # Renamed first, in one step, so that a listing never shows a run half deleted.
    doomed = path.with_name(f".deleting-{path.name}-{secrets.token_hex(4)}")
    try:
        path.rename(doomed)
        shutil.rmtree(doomed)
    except OSError as error:
        where = f"{path} is no longer listed, but {doomed} is left" if doomed.exists() else f"cannot delete {path}"
        raise PrunetuiError(f"{where}: {error.strerror or error}") from None
    finally:
        lock.release()


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


def json_text(document: Any) -> str:
    """`document` as strict JSON, indented: a number that is not finite (NaN, Infinity) is written null, which
    every JSON reader takes (Python's `json` would write NaN, which JSON does not have)."""
    return json.dumps(_finite(document), indent=2, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def running_marker() -> dict[str, Any]:
    """What a summary written at the start of a run holds. Whether it still runs is told by its lock, not by
    this; the pid and host only say, for people, which process writes it."""
    return {"status": "running", "complete": False, "pid": os.getpid(), "host": socket.gethostname()}


def read_summary(directory: str | Path) -> dict[str, Any]:
    """The run's summary.json as it stands; {} when it cannot be read."""
    return _read_summary(Path(directory) / SUMMARY_FILE)[0]


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
    return entry.is_file() and (entry.name in (*RUN_FILES, EVENTS_FILE) or entry.name.startswith("."))


def _read_summary(path: Path) -> tuple[dict[str, Any], bool]:
    """summary.json's object, and whether the file is there but damaged (not JSON, or not an object)."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, False
    except (OSError, UnicodeDecodeError, ValueError):
        return {}, True
    return (document, False) if isinstance(document, dict) else ({}, True)


def _read_config(path: Path, summary: dict[str, Any]) -> ExperimentConfig | None:
    try:
        return ExperimentConfig.load(path / CONFIG_FILE, SAVED_BEFORE)
    except PrunetuiError:
        pass
    try:
        return ExperimentConfig.from_mapping(summary["config"], SAVED_BEFORE)
    except (KeyError, TypeError, AttributeError, PrunetuiError):
        return None


def time_stamp() -> str:
    """summary.json's `started` and `ended`: local time to the microsecond with its UTC offset
    (2026-03-01T12:00:00.123456+0100), so runs started within one second still sort by their start. Summaries written
    before hold whole seconds (`_started` reads both); an older prunetui that cannot read these goes by the run's
    name, to the second."""
    return datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def _stamp(summary: dict[str, Any], key: str) -> datetime | None:
    try:
        return datetime.fromisoformat(summary[key])
    except (KeyError, TypeError, ValueError):
        return None


def _started(path: Path, summary: dict[str, Any]) -> datetime | None:
    if (started := _stamp(summary, "started")) is not None:
        return started
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
    """A finite number, or None (NaN and Infinity too: a summary written before they were made null)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _optional_float(text: str) -> float | None:
    return float(text) if text else None
