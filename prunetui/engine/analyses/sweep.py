"""Sweeps: methods by sparsities by seeds, each point pruned from its seed's trained dense model and fine-tuned.

The dense model of each seed is trained once per sweep directory and kept there (dense.pt for the directory's
first seed, dense-seed<N>.pt for the others); each point starts from a copy of it (agp points, which prune while
training, train from scratch with the dense model's budget). The points are independent jobs of an executor
(`executor.Parallel`: in this process, in worker processes, or on Ray), so they may finish in any order; each
returns its row and its saved run, which land here: the run under runs/, the row in sweep.csv (rewritten
atomically as each point finishes), so a sweep stopped halfway resumes, in the same directory, without redoing
the points it has. sweep.toml holds the shared settings and a fingerprint of the data loaded: a directory's
dense models and points are reused only for both the same. One sweep at a time writes a directory: it holds the
directory's lock (`run_lock`) while it runs, and a second one is refused, naming the first.

    sweep = Sweep(SweepSpec(config, methods, sparsities, seeds), directory, parallel=Parallel(jobs=2))
    for event in sweep.run():      # SweepStarted, Progress…, SweepPoint…, SweepEnded
        ...
    sweep.stop()                   # from any thread: cancels every job
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import tomli_w
import torch

from prunetui.engine.analyses import (
    Progress,
    SweepEnded,
    SweepEvent,
    SweepPoint,
    SweepSpec,
    SweepStarted,
    point_key,
    read_sweep_csv,
    shared_settings,
    sweep_csv,
)
from prunetui.engine.analyses.executor import Executor, Job, JobFailed, Parallel, ProcessExecutor, SerialExecutor
from prunetui.engine.analyses.series import SERIAL, ExperimentSeries, Interrupted
from prunetui.engine.analyses.sweep_jobs import (
    DataPlace,
    DenseJob,
    PointJob,
    PointResult,
    State,
    prune_point,
    train_dense,
    trained_model,
)
from prunetui.engine.core.config import ExperimentConfig, flag_name
from prunetui.engine.core.data import DataSet, Split, load_dataset
from prunetui.engine.core.device import resolve_device
from prunetui.engine.core.errors import ConfigError, OutputError, PrunetuiError, unexpected
from prunetui.engine.core.experiment import checkpoint_fields
from prunetui.engine.core.files import cannot_write, make_directory, write_atomic
from prunetui.engine.core.networks.spec import InputShape
from prunetui.engine.core.networks.user_code import absolute_factory
from prunetui.engine.core.training import evaluate
from prunetui.engine.storage.export import load_model, save_state
from prunetui.engine.storage.run_lock import LOCK_FILE, RunLock, holder
from prunetui.engine.storage.runs import DENSE_MODEL_FILE

SETTINGS_FILE = "sweep.toml"
RESULTS_FILE = "sweep.csv"
RUNS_DIRECTORY = "runs"  # each point's saved run
FINGERPRINT_KEY = "data-fingerprint"


class Sweep(ExperimentSeries):
    def __init__(
        self,
        spec: SweepSpec,
        directory: str | Path,
        *,
        parallel: Parallel = SERIAL,
        system_data_dir: Path | None = None,
        download: bool = True,
    ) -> None:
        self.spec = replace(spec, base=spec.base.with_absolute_paths()).validate()  # workers: other directories
        self._shape = InputShape(1, 28, 10)  # the data's, once loaded
        super().__init__(parallel, DataPlace(system_data_dir, download), (self.spec.base.model,))
        self.directory = Path(directory)
        self._results: dict[tuple[str, float, int], SweepPoint] = {}
        self._first_seed = self.spec.seeds[0]  # the seed of dense.pt: the directory's first sweep's

    def run(self) -> Iterator[SweepEvent]:
        """Run the points not in sweep.csv yet; always ends with SweepEnded."""
        try:
            yield from self._run()
            yield SweepEnded("finished", "", self._requested())
        except Interrupted as end:
            yield SweepEnded(end.status, end.message, self._requested())
        except PrunetuiError as error:
            yield SweepEnded("failed", str(error), self._requested())
        except OSError as error:
            yield SweepEnded(
                "failed", f"cannot write to {self.directory}: {error.strerror or error}", self._requested()
            )
        except Exception as error:  # a bug or an environment problem: still a message, never a crash
            yield SweepEnded("failed", unexpected(error), self._requested())

    def _run(self) -> Iterator[SweepEvent]:
        lock = self._claim()
        try:
            yield from self._run_claimed()
        finally:
            lock.release()

    def _claim(self) -> RunLock:
        """The directory's lock, held while the sweep runs: a second sweep on it would lose the first one's rows
        (each rewrites sweep.csv from what it holds)."""
        make_directory(self.directory)
        try:
            lock = RunLock.acquire(self.directory)
        except OSError as error:
            raise OutputError(cannot_write(self.directory / LOCK_FILE, error)) from None
        if lock is None:
            who = holder(self.directory)
            raise PrunetuiError(
                f"{self.directory} is in use by another sweep{f' ({who})' if who else ''}; nothing was changed: "
                "let it end (or stop it), then run this again to resume"
            )
        return lock

    def _run_claimed(self) -> Iterator[SweepEvent]:
        spec = self.spec
        device = resolve_device(spec.base.device)
        data = load_dataset(
            spec.base.dataset,
            spec.base.data_dir or None,
            device,
            train_subset=spec.base.train_subset,
            download=self.place.download,
            system_dir=self.place.system_data_dir,
        )
        self._check_settings(data_fingerprint(data))
        self._shape = data.shape
        test = data.test
        del data  # each job loads its own copy; only the test images are needed here
        self._results = {point.key: point for point in self._read_results()}
        yield SweepStarted(str(self.directory), spec.base, spec.methods, spec.sparsities, spec.seeds, self._requested())
        todo = [point for point in spec.points() if point_key(*point) not in self._results]
        if not todo:
            return
        failures: list[str] = []
        with self.start_executor() as executor:
            for seed in dict.fromkeys(seed for _, _, seed in todo):
                path = self._dense_path(seed)
                job = Job(spec.dense_stage(seed), train_dense, DenseJob(spec.dense_config(seed), self.place))
                if path.is_file():
                    self._submit_points(executor, todo, seed, load_model(path).state_dict(), test, device)
                elif isinstance(executor, ProcessExecutor) and seed == todo[0][2]:
                    # Local workers run a share of the cores each: the first dense model, which every point of its
                    # seed waits for, trains faster here on every core (or --threads, as a serial sweep would).
                    with self.start_executor(SerialExecutor(self.parallel.threads)) as here:
                        here.submit(job)
                        yield from self._outcomes(here, executor, todo, test, device, failures)
                else:
                    executor.submit(job)
            yield from self._outcomes(executor, executor, todo, test, device, failures)
        self.check_stop()
        if failures:
            more = f" (and {len(failures) - 1} more failed)" if len(failures) > 1 else ""
            raise Interrupted("failed", failures[0] + more)

    def _outcomes(
        self,
        source: Executor,
        executor: Executor,
        todo: list[tuple[str, float, int]],
        test: Split,
        device: torch.device,
        failures: list[str],
    ) -> Iterator[SweepEvent]:
        """The events of `source`'s jobs as they end; a dense model's points go to `executor`."""
        spec = self.spec
        for outcome in self.outcomes(source):
            if isinstance(outcome, Progress):
                yield outcome
            elif isinstance(outcome, JobFailed):
                failures.append(f"{outcome.key}: {outcome.message}")
            elif isinstance(outcome.result, PointResult):
                yield self._keep(outcome.result)
            else:  # a dense model: its points can start
                seed = next(seed for seed in spec.seeds if spec.dense_stage(seed) == outcome.key)
                network = checkpoint_fields(spec.base, self._shape)
                save_state(outcome.result, absolute_factory(spec.base.model), self._dense_path(seed), None, network)
                self._submit_points(executor, todo, seed, outcome.result, test, device)

    def _submit_points(
        self,
        executor: Executor,
        todo: list[tuple[str, float, int]],
        seed: int,
        dense: State,
        test: Split,
        device: torch.device,
    ) -> None:
        spec = self.spec
        dense_accuracy = evaluate(trained_model(spec.base, self._shape, dense).to(device), test).accuracy
        dense_epochs = spec.dense_config(seed).epochs  # the points go on from there, as a run would
        for method, sparsity, point_seed in todo:
            if point_seed != seed:
                continue
            config = spec.point_config(method, sparsity, seed)
            start_from = None if config.trains_from_scratch else dense  # agp and rewinding train from scratch
            job = PointJob(method, sparsity, config, start_from, dense_epochs, dense_accuracy, self.place)
            executor.submit(Job(spec.stage(method, sparsity, seed), prune_point, job))

    def _keep(self, result: PointResult) -> SweepPoint:
        """Save a finished point's run, then its row: a point is done once sweep.csv has it."""
        point = result.point
        name = f"{point.method.replace(':', '-')}-{point.sparsity:g}-seed{point.seed}"
        directory = _free_directory(self.directory / RUNS_DIRECTORY / name)
        self.land(directory, result.run_files)
        self._results[point.key] = point
        ordered = sorted(self._results.values(), key=lambda p: p.key)  # the same file whatever order points came in
        write_atomic(self.directory / RESULTS_FILE, sweep_csv(ordered))
        return point

    def _dense_path(self, seed: int) -> Path:
        return self.directory / (DENSE_MODEL_FILE if seed == self._first_seed else f"dense-seed{seed}.pt")

    def _check_settings(self, fingerprint: str) -> None:
        """A directory holds one sweep: resuming with other shared settings, or on other data under the same
        names, would mix incomparable points and reuse a dense model trained on something else. Its seed is the
        seed of dense.pt and of the rows of a sweep.csv written before sweeps had seeds."""
        path = self.directory / SETTINGS_FILE
        mine = shared_settings(self.spec.base)
        if not path.is_file():
            kept = [name for name in (DENSE_MODEL_FILE, RESULTS_FILE) if (self.directory / name).exists()]
            if kept:
                raise ConfigError(
                    f"{self.directory} holds {kept[0]} but no {SETTINGS_FILE}, so nothing tells which settings and "
                    "data it came from; move it away or use another directory"
                )
            settings = self.spec.base.replace(seed=self._first_seed).to_toml()
            write_atomic(path, settings + tomli_w.dumps({FINGERPRINT_KEY: fingerprint}))
            return
        try:
            values = tomllib.loads(path.read_text())
            theirs_fingerprint = values.pop(FINGERPRINT_KEY, None)
            config = ExperimentConfig.from_mapping(values)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ConfigError) as error:
            raise ConfigError(f"cannot read {path}: {error}") from None
        theirs, self._first_seed = shared_settings(config), config.seed
        differ = [name for name in mine if mine[name] != theirs[name]]
        if differ:
            name = differ[0]
            raise ConfigError(
                f"{self.directory} holds a sweep with other settings ({flag_name(name)} {theirs[name]} there, "
                f"{mine[name]} here); use those settings to resume it, or another directory"
            )
        if theirs_fingerprint != fingerprint:
            there = f"data fingerprint {theirs_fingerprint}" if theirs_fingerprint else "no data fingerprint"
            raise ConfigError(
                f"{self.directory} holds a sweep on other data ({there}, {fingerprint} for the "
                f"{self.spec.base.dataset} loaded now); its dense model and points do not apply: move it away or "
                "use another directory"
            )

    def _read_results(self) -> list[SweepPoint]:
        """The points of earlier sessions; a damaged sweep.csv stops the sweep, left as it is (never overwritten)."""
        path = self.directory / RESULTS_FILE
        try:
            return read_sweep_csv(path.read_text(), self._first_seed)
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as error:
            raise PrunetuiError(f"cannot read {path}: {error}") from None
        except ValueError as error:
            raise PrunetuiError(
                f"{path} {error}; left as it is: repair or delete that line, or move the file away, to go on"
            ) from None

    def _requested(self) -> tuple[SweepPoint, ...]:
        found = (self._results.get(point_key(*point)) for point in self.spec.points())
        return tuple(point for point in found if point is not None)


def data_fingerprint(data: DataSet) -> str:
    """A short hash of the images and labels as loaded (after the subset and normalisation): equal only for
    the same data, whatever its files are called. Float images are hashed as the model is given them (a subset's
    test images are normalised batch by batch, and hash as they did when they were normalised whole); uint8 images
    as decoded, which their normalisation follows from."""
    digest = hashlib.blake2b(digest_size=8)
    for split in (data.train, data.test):
        images = split.take(slice(None)) if split.images.is_floating_point() else split.images
        for tensor in (images, split.labels):
            digest.update(tensor.detach().cpu().contiguous().numpy().data)
    return digest.hexdigest()


def _free_directory(path: Path) -> Path:
    """`path`, or path-2, path-3, …: a point redone (its row lost) never overwrites the run it saved before."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate
