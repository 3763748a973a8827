"""Sweeps: methods by sparsities, each point pruned from one trained dense model and fine-tuned.

The dense model is trained once per sweep directory and kept there (dense.pt); each point starts from a
copy of it. sweep.csv gets a row as each point finishes (written atomically), so a sweep stopped halfway
resumes, in the same directory, without redoing the points it has.

    sweep = Sweep(SweepSpec(config, methods, sparsities), directory)
    for event in sweep.run():      # SweepStarted, Progress…, SweepPoint…, SweepEnded
        ...
    sweep.stop()                   # from any thread
"""

from __future__ import annotations

import tomllib
from collections.abc import Generator, Iterator
from pathlib import Path

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
    to_csv,
)
from prunetui.engine.config import ExperimentConfig, flag_name
from prunetui.engine.errors import ConfigError, PrunetuiError, unexpected
from prunetui.engine.export import load_model, save_state
from prunetui.engine.files import write_atomic
from prunetui.engine.runs import DENSE_MODEL_FILE
from prunetui.engine.stages import Interrupted, Stages

SETTINGS_FILE = "sweep.toml"
RESULTS_FILE = "sweep.csv"


class Sweep(Stages):
    def __init__(
        self, spec: SweepSpec, directory: str | Path, *, system_data_dir: Path | None = None, download: bool = True
    ) -> None:
        super().__init__(system_data_dir=system_data_dir, download=download)
        self.spec = spec.validate()
        self.directory = Path(directory)
        self._results: dict[tuple[str, float], SweepPoint] = {}

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
        spec = self.spec
        self._check_settings()
        self._results = {point.key: point for point in self._read_results()}
        yield SweepStarted(str(self.directory), spec.base, spec.methods, spec.sparsities, self._requested())
        dense: dict[str, torch.Tensor] | None = None
        for method, sparsity in spec.points():
            if point_key(method, sparsity) in self._results:
                continue
            if dense is None:
                dense = yield from self._dense_state()
            stage = f"{method} at {sparsity * 100:g} %"
            ran = yield from self.experiment(stage, spec.point_config(method, sparsity), dense)
            summary = ran.summary
            assert summary.accuracy is not None and summary.test_loss is not None  # evaluated: it finished
            point = SweepPoint(
                method,
                sparsity,
                summary.sparsity.global_sparsity,
                summary.compression,
                ran.pruned[0].accuracy_before,
                ran.pruned[-1].accuracy,
                summary.accuracy,
                summary.test_loss,
                summary.seconds,
            )
            self._results[point.key] = point
            write_atomic(self.directory / RESULTS_FILE, to_csv(self._results.values(), SweepPoint))
            yield point

    def _dense_state(self) -> Generator[Progress, None, dict[str, torch.Tensor]]:
        """The trained dense model: from dense.pt when an earlier session trained it, else trained now."""
        path = self.directory / DENSE_MODEL_FILE
        if path.is_file():
            return load_model(path).state_dict()
        state = yield from self.train_dense(self.spec.base)
        save_state(state, self.spec.base.model, path)
        return state

    def _check_settings(self) -> None:
        """A directory holds one sweep: resuming with other shared settings would mix incomparable points."""
        path = self.directory / SETTINGS_FILE
        mine = shared_settings(self.spec.base)
        if path.is_file():
            try:
                theirs = shared_settings(ExperimentConfig.from_mapping(tomllib.loads(path.read_text())))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ConfigError) as error:
                raise ConfigError(f"cannot read {path}: {error}") from None
            differ = [name for name in mine if mine[name] != theirs[name]]
            if differ:
                name = differ[0]
                raise ConfigError(
                    f"{self.directory} holds a sweep with other settings ({flag_name(name)} {theirs[name]} there, "
                    f"{mine[name]} here); use those settings to resume it, or another directory"
                )
        else:
            write_atomic(path, self.spec.base.to_toml())

    def _read_results(self) -> list[SweepPoint]:
        try:
            return read_sweep_csv((self.directory / RESULTS_FILE).read_text())
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as error:
            raise PrunetuiError(f"cannot read {self.directory / RESULTS_FILE}: {error}") from None

    def _requested(self) -> tuple[SweepPoint, ...]:
        found = (self._results.get(point_key(method, sparsity)) for method, sparsity in self.spec.points())
        return tuple(point for point in found if point is not None)
