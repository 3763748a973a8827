"""Sweeps: methods by sparsities, each point pruned from one trained dense model and fine-tuned.

The dense model is trained once per sweep directory and kept there (dense.pt); each point starts from a
copy of it (agp points, which prune while training, train from scratch with the dense model's budget).
sweep.csv gets a row as each point finishes (written atomically), so a sweep stopped halfway resumes, in
the same directory, without redoing the points it has. sweep.toml holds the shared settings and a
fingerprint of the data loaded: a directory's dense model and points are reused only for both the same.

    sweep = Sweep(SweepSpec(config, methods, sparsities), directory)
    for event in sweep.run():      # SweepStarted, Progress…, SweepPoint…, SweepEnded
        ...
    sweep.stop()                   # from any thread
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Generator, Iterator
from pathlib import Path

import tomli_w
import torch
from torch import nn

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
)
from prunetui.engine.analyses.experiment_series import ExperimentSeries, Interrupted
from prunetui.engine.core.config import ExperimentConfig, flag_name
from prunetui.engine.core.data import DataSet, load_dataset
from prunetui.engine.core.errors import ConfigError, PrunetuiError, unexpected
from prunetui.engine.core.files import write_atomic
from prunetui.engine.core.models import build_model
from prunetui.engine.core.training import evaluate, resolve_device
from prunetui.engine.storage.csv_text import to_csv
from prunetui.engine.storage.export import load_model, save_state
from prunetui.engine.storage.runs import DENSE_MODEL_FILE

SETTINGS_FILE = "sweep.toml"
RESULTS_FILE = "sweep.csv"
FINGERPRINT_KEY = "data-fingerprint"


class Sweep(ExperimentSeries):
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
        device = resolve_device(spec.base.device)
        data = load_dataset(
            spec.base.dataset,
            spec.base.data_dir or None,
            device,
            train_subset=spec.base.train_subset,
            download=self._download,
            system_dir=self._system_data_dir,
        )
        self._check_settings(data_fingerprint(data))
        test = data.test
        del data  # each point loads its own copy; only the test images are needed here
        self._results = {point.key: point for point in self._read_results()}
        yield SweepStarted(str(self.directory), spec.base, spec.methods, spec.sparsities, self._requested())
        dense: dict[str, torch.Tensor] | None = None
        dense_accuracy = 0.0
        for method, sparsity in spec.points():
            if point_key(method, sparsity) in self._results:
                continue
            if dense is None:
                dense = yield from self._dense_state()
                dense_accuracy = evaluate(_model(spec.base.model, dense).to(device), test).accuracy
            stage = f"{method} at {sparsity * 100:g} %"
            config = spec.point_config(method, sparsity)
            start_from = None if config.trains_from_scratch else dense  # agp and rewinding train from scratch
            finished = yield from self.experiment(stage, config, start_from)
            summary = finished.summary
            assert summary.accuracy is not None and summary.test_loss is not None  # evaluated: it finished
            point = SweepPoint(
                method,
                sparsity,
                summary.sparsity.global_sparsity,
                summary.compression,
                dense_accuracy,
                finished.pruned[-1].accuracy,
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

    def _check_settings(self, fingerprint: str) -> None:
        """A directory holds one sweep: resuming with other shared settings, or on other data under the same
        names, would mix incomparable points and reuse a dense model trained on something else."""
        path = self.directory / SETTINGS_FILE
        mine = shared_settings(self.spec.base)
        if not path.is_file():
            kept = [name for name in (DENSE_MODEL_FILE, RESULTS_FILE) if (self.directory / name).exists()]
            if kept:
                raise ConfigError(
                    f"{self.directory} holds {kept[0]} but no {SETTINGS_FILE}, so nothing tells which settings and "
                    "data it came from; move it away or use another directory"
                )
            write_atomic(path, self.spec.base.to_toml() + tomli_w.dumps({FINGERPRINT_KEY: fingerprint}))
            return
        try:
            values = tomllib.loads(path.read_text())
            theirs_fingerprint = values.pop(FINGERPRINT_KEY, None)
            theirs = shared_settings(ExperimentConfig.from_mapping(values))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ConfigError) as error:
            raise ConfigError(f"cannot read {path}: {error}") from None
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
            return read_sweep_csv(path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as error:
            raise PrunetuiError(f"cannot read {path}: {error}") from None
        except ValueError as error:
            raise PrunetuiError(
                f"{path} {error}; left as it is: repair or delete that line, or move the file away, to go on"
            ) from None

    def _requested(self) -> tuple[SweepPoint, ...]:
        found = (self._results.get(point_key(method, sparsity)) for method, sparsity in self.spec.points())
        return tuple(point for point in found if point is not None)


def data_fingerprint(data: DataSet) -> str:
    """A short hash of the images and labels as loaded (after the subset and normalisation): equal only for
    the same data, whatever its files are called."""
    digest = hashlib.blake2b(digest_size=8)
    for split in (data.train, data.test):
        for tensor in (split.images, split.labels):
            digest.update(tensor.detach().cpu().contiguous().numpy())
    return digest.hexdigest()


def _model(name: str, state: dict[str, torch.Tensor]) -> nn.Module:
    model = build_model(name)
    model.load_state_dict(state)
    return model
