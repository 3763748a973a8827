"""The engine's series of experiments and the events a run records as it goes: a serial seed group writes each seed
in place in its run directory while it runs; events.jsonl reads back as the events the run yielded, the training
loss thinned to about ten points an epoch, and a line not yet whole waits for the next read."""

from __future__ import annotations

import json
from pathlib import Path

from prunetui.engine import EpochEnd, ExperimentConfig, Finished, StepLoss
from prunetui.engine.analyses import Progress, SeedEnded, SeedGroupEnded, SeedGroupStarted
from prunetui.engine.analyses.seed_group import SeedGroup
from prunetui.engine.analyses.sweep_jobs import DataPlace
from prunetui.engine.core.experiment import Experiment
from prunetui.engine.storage.event_log import LOSS_POINTS, EventTail, event_record
from prunetui.engine.storage.recording import record_run
from prunetui.engine.storage.runs import EVENTS_FILE, list_runs, read_run


def test_a_serial_seed_group_records_each_seed_in_place_while_it_runs(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    configs = [tiny_config.replace(seed=seed, sparsity=0.5) for seed in (0, 1)]
    root = tmp_path / "runs"  # beside the data cache the tests keep in tmp_path
    group = SeedGroup(configs, root, place=DataPlace(download=False))
    seen_running: dict[int, list[str]] = {}
    events = []
    for event in group.run():
        events.append(event)
        if isinstance(event, Progress) and isinstance(event.event, EpochEnd):
            seed = int(event.stage.split()[-1])  # "seed 1"
            runs = list_runs(root)  # the run is in the runs root already, held by its writer
            seen_running[seed] = [run.status for run in runs if run.config and run.config.seed == seed]
    started, ended = events[0], events[-1]
    assert isinstance(started, SeedGroupStarted) and started.seeds == (0, 1)
    assert seen_running == {0: ["running"], 1: ["running"]}
    seed_ends = [event for event in events if isinstance(event, SeedEnded)]
    assert [(end.seed, type(end.last)) for end in seed_ends] == [(0, Finished), (1, Finished)]
    assert [read_run(end.directory).group for end in seed_ends] == [started.group] * 2
    assert isinstance(ended, SeedGroupEnded) and ended.status == "finished" and ended.group is not None
    assert ended.group.name == started.group and len(ended.group.averaged) == 2
    assert sorted(path.name for path in root.iterdir()) == sorted(Path(end.directory).name for end in seed_ends)


def test_the_event_log_reads_back_the_run_s_events_with_the_loss_thinned(
    tiny_config: ExperimentConfig, tmp_path: Path
) -> None:
    config = tiny_config.replace(batch_size=8, epochs=2, sparsity=0.5)  # some 60 batches an epoch, a loss every 20
    experiment = Experiment(config, download=False)
    yielded = list(record_run(experiment, tmp_path / "run"))
    recorded = EventTail(tmp_path / "run").read()
    assert isinstance(recorded[-1], Finished) and recorded[-1] == yielded[-1]  # the summary, config and all
    assert [event for event in recorded if not isinstance(event, StepLoss)] == [
        event for event in yielded if not isinstance(event, StepLoss)
    ]
    losses = [event for event in yielded if isinstance(event, StepLoss)]
    kept = [event for event in recorded if isinstance(event, StepLoss)]
    assert set(kept) <= set(losses) and 0 < len(kept) <= (LOSS_POINTS + 1) * 3  # two epochs and one of fine-tuning
    tenths = {(e.phase, e.epoch, e.batch * LOSS_POINTS // e.batches) for e in losses}
    assert len(kept) == len(tenths)  # the first report of each tenth of an epoch


def test_a_line_not_yet_whole_waits_for_the_next_read(tiny_config: ExperimentConfig, tmp_path: Path) -> None:
    line = json.dumps(event_record(EpochEnd("train", 0, 1, 2, 8, 0.5, 0.4, 0.9, 100.0))) + "\n"
    tail = EventTail(tmp_path)
    assert tail.read() == []  # no file yet
    with open(tmp_path / EVENTS_FILE, "w") as file:
        file.write(line + line[:20])
        file.flush()
        assert tail.read() == [EpochEnd("train", 0, 1, 2, 8, 0.5, 0.4, 0.9, 100.0)]
        file.write(line[20:] + '{"event": "FromALaterVersion"}\n')
        file.flush()
        assert tail.read() == [EpochEnd("train", 0, 1, 2, 8, 0.5, 0.4, 0.9, 100.0)]  # the unknown line is skipped
        assert tail.read() == []
