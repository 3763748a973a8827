"""What the screen shows about a run, derived only from the engine's event stream (no training here)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prunetui.engine.core.chart_lines import Series

if TYPE_CHECKING:  # the events, and the words for them, are imported with the first event: not needed to paint
    from prunetui.engine.core.events import EpochEnd, Event, Pruned, RunStarted, RunSummary, SparsityReport

SMOOTHING = 0.6  # weight of the previous smoothed loss (exponential moving average)

# A run's outcome: idle before the first start, then running (or stopping), then one of the last three.
IDLE, RUNNING, STOPPING, FINISHED, STOPPED, FAILED = "idle", "running", "stopping", "finished", "stopped", "failed"


def clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"


def eta(pace: tuple[int, float] | None, done: int, total: int) -> float | None:
    """Seconds left for `total - done` more units, at the pace since `pace` = (done then, time then)."""
    if pace is None or not pace[0] < done < total:
        return None
    return (time.monotonic() - pace[1]) / (done - pace[0]) * (total - done)


@dataclass
class RunState:
    """Fed events in order on the UI thread; every panel reads what it shows from here."""

    outcome: str = IDLE
    activity: str | None = None  # the latest Status, until training goes on
    error: str | None = None  # why the run failed
    started: RunStarted | None = None
    started_at: float | None = None  # time.monotonic() when the run was started
    ended_at: float | None = None  # set from the start for a run that had ended when the app opened it
    phase: str = "train"  # the engine's "train" or "finetune", or "prune" from a prune to the next batch
    round: int = 0
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    epochs_done: int = 0  # over the whole run: training plus fine-tuning
    step: int = 0
    images_per_s: float = 0.0
    # Over optimizer steps
    train_loss: Series = field(default_factory=Series.empty)  # smoothed
    test_loss: Series = field(default_factory=Series.empty)
    accuracy: Series = field(default_factory=Series.empty)
    prune_steps: list[int] = field(default_factory=list)
    sparsity: SparsityReport | None = None
    dense_accuracy: float | None = None
    current_accuracy: float | None = None
    summary: RunSummary | None = None
    log: list[str] = field(default_factory=list)
    _last_prune: Pruned | None = None
    _epoch_began: float | None = None  # time.monotonic() when the current epoch began (after the last one ended)
    _epoch_pace: tuple[int, float] | None = None  # (batch, time.monotonic()) when this epoch's batches first showed
    _run_pace: tuple[int, float] | None = None  # (batches of the run done, time.monotonic()) at the first batch

    @classmethod
    def begin(cls, since: datetime | None = None, until: datetime | None = None) -> RunState:
        """A run that starts now, or that another process started `since` then (the clock counts from there) and
        ended `until` then, if it has: elapsed is then its own time, not the time since it started."""
        ago = max(0.0, (datetime.now(UTC) - since).total_seconds()) if since and since.tzinfo else 0.0
        started_at = time.monotonic() - ago
        took = (until - since).total_seconds() if since and until and since.tzinfo and until.tzinfo else None
        ended_at = started_at + max(0.0, took) if took is not None else None
        return cls(outcome=RUNNING, activity="starting …", started_at=started_at, ended_at=ended_at)

    @property
    def active(self) -> bool:
        return self.outcome in (RUNNING, STOPPING)

    @property
    def rounds(self) -> int:
        return self.started.config.rounds_used if self.started else 0

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at if self.ended_at is not None else time.monotonic()) - self.started_at

    @property
    def run_progress(self) -> tuple[int, int]:
        """(batches done, batches in the whole run), counting every training and fine-tuning epoch."""
        if self.started is None:
            return 0, 0
        per_epoch = self.started.steps_per_epoch
        done = self.epochs_done * per_epoch + (self.batch if self.batch < self.batches else 0)
        return done, self.started.total_epochs * per_epoch

    @property
    def epoch_eta(self) -> float | None:
        """Seconds until the current epoch's last batch, at the pace of its batches so far."""
        return eta(self._epoch_pace, self.batch, self.batches) if self.active else None

    @property
    def run_eta(self) -> float | None:
        """Seconds until the run's end, at its pace so far (evaluations and prunes included)."""
        return eta(self._run_pace, *self.run_progress) if self.active else None

    @property
    def phase_text(self) -> str:
        if not self.active:
            return {IDLE: "ready", FINISHED: "done", STOPPED: "stopped", FAILED: "failed"}[self.outcome]
        if self.outcome == STOPPING:
            return "stopping after this batch …"
        if self.activity is not None:
            return self.activity
        if self.phase == "prune":
            return f"pruned, round {self.round}/{self.rounds}"
        if self.phase != "train":  # fine-tuning or retraining
            from prunetui.describe import phase_words

            return f"{phase_words(self.phase).noun}, round {self.round}/{self.rounds}"
        if self.round:  # agp prunes while it trains
            return f"training and pruning, round {self.round}/{self.rounds}"
        return "training"

    @property
    def compression(self) -> float | None:
        """All parameters over non-zero ones, biases included."""
        return self.sparsity.compression if self.sparsity else None

    @property
    def weight_compression(self) -> float | None:
        """Weights over non-zero weights, biases left out: what papers count."""
        return self.sparsity.weight_compression if self.sparsity else None

    def stopping(self) -> None:
        if self.active:
            self.outcome = STOPPING
            self.log.append("stop requested: the run ends after the current batch")

    def _end_time(self) -> float:
        """Now, or for a run that had ended when it was opened, its end as recorded."""
        return self.ended_at if self.ended_at is not None else time.monotonic()

    def fail(self, message: str) -> None:
        """The run ended without a terminal event (the worker itself failed)."""
        self.outcome, self.error, self.ended_at = FAILED, message, self._end_time()
        self.log.append(f"failed: {message}")

    def apply(self, events: tuple[Event, ...]) -> None:
        from prunetui.describe import describe
        from prunetui.engine.core import events as ev

        for event in events:
            line = describe(event)
            if line is not None and isinstance(event, ev.EpochEnd) and self._epoch_began is not None:
                line += f"; took {clock(time.monotonic() - self._epoch_began)}"
            if line is not None:
                self.log.append(line)
            self._apply(event)

    def _apply(self, event: Event) -> None:
        from prunetui.engine.core import events as ev

        match event:
            case ev.Status():
                self.activity = event.message
            case ev.RunStarted():
                self.started, self._epoch_began = event, time.monotonic()
            case ev.StepLoss():
                now = time.monotonic()
                if self._epoch_pace is None or event.batch < self._epoch_pace[0]:  # the first batches of an epoch
                    self._epoch_pace = (event.batch, now)
                self._progress(event.phase, event.round, event.epoch, event.epochs, event.step)
                self.batch, self.batches, self.images_per_s = event.batch, event.batches, event.images_per_s
                self._run_pace = self._run_pace or (self.run_progress[0], now)
                previous = self.train_loss.ys[-1] if self.train_loss.ys else event.loss
                self.train_loss.add(event.step, SMOOTHING * previous + (1 - SMOOTHING) * event.loss)
            case ev.EpochEnd():
                self._progress(event.phase, event.round, event.epoch, event.epochs, event.step)
                self.epochs_done += 1
                self.batch = self.batches
                self.test_loss.add(event.step, event.test_loss)
                self.accuracy.add(event.step, event.accuracy)
                self.current_accuracy = event.accuracy
                self._log_finetuned(event)
                self._epoch_began, self._epoch_pace = time.monotonic(), None
            case ev.Pruned():
                self.phase, self.round, self.step, self._last_prune = "prune", event.round, event.step, event
                self.sparsity = event.sparsity
                if self.dense_accuracy is None:
                    self.dense_accuracy = event.accuracy_before
                self.prune_steps.append(event.step)
                self.accuracy.add(event.step, event.accuracy_before)
                self.accuracy.add(event.step, event.accuracy)
                self.test_loss.add(event.step, event.test_loss)
                self.current_accuracy = event.accuracy
                if self.batch >= self.batches:  # between epochs; agp prunes in the middle of one
                    self._epoch_began, self._epoch_pace = time.monotonic(), None
            case ev.Rewound():
                self.accuracy.add(event.step, event.accuracy)
                self.current_accuracy = event.accuracy
                self._epoch_began = time.monotonic()
            case ev.Finished() | ev.Stopped():
                self._end(FINISHED if isinstance(event, ev.Finished) else STOPPED, event.summary)
            case ev.Failed():
                self.error = event.message
                self._end(FAILED, event.summary)

    def _progress(self, phase: str, round_: int, epoch: int, epochs: int, step: int) -> None:
        self.activity = None
        self.phase, self.round, self.epoch, self.epochs, self.step = phase, round_, epoch, epochs, step

    def _log_finetuned(self, event: EpochEnd) -> None:
        """After a round's last fine-tuning epoch, one line tells the whole round."""
        from prunetui.describe import percent, phase_words

        prune = self._last_prune
        if prune is None or event.phase == "train" or event.epoch != event.epochs:
            return
        self.log.append(
            f"round {event.round}/{prune.rounds}: pruned to {percent(prune.sparsity.global_sparsity)}, "
            f"accuracy {percent(prune.accuracy)} → {phase_words(event.phase).done} {percent(event.accuracy)}"
        )

    def _end(self, outcome: str, summary: RunSummary | None) -> None:
        self.outcome, self.summary, self.ended_at = outcome, summary, self._end_time()
        if summary is not None:
            self.sparsity = summary.sparsity
            self.dense_accuracy = summary.dense_accuracy
            self.current_accuracy = summary.accuracy
            self.images_per_s = summary.images_per_s or self.images_per_s
            from prunetui.describe import cost_text, per_class_text

            for line in (cost_text(summary.dense_cost, summary.cost), per_class_text(summary)):
                if line:
                    self.log.append(line)
