"""What the screen shows about a seed group the app runs: a RunState per seed, fed from the engine's group
stream (`engine.analyses.seed_group`), and the group's mean ± std (n) once it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prunetui.app.run_state import RUNNING, RunState

if TYPE_CHECKING:
    from prunetui.engine.analyses import SeedGroupEnded, SeedGroupEvent


@dataclass
class GroupState:
    seeds: tuple[int, ...]
    runs: dict[int, RunState] = field(default_factory=dict)  # by seed, from its first event
    current: int | None = None  # the seed whose run the panels show: the latest to report
    name: str = ""  # seeds-<first run>
    ended: SeedGroupEnded | None = None
    crashed: bool = False  # its worker thread itself failed
    # Shared by the seeds' states: the log tells the whole group, and the clock runs from the group's start.
    log: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)

    @property
    def active(self) -> bool:
        return self.ended is None and not self.crashed

    @property
    def shown(self) -> RunState:
        """The run the panels show: the current seed's, or one starting before the first seed reports."""
        if self.current is None:
            self.current = self.seeds[0]
        return self._state(self.current)

    def _state(self, seed: int) -> RunState:
        if seed not in self.runs:
            self.log.append(f"── seed {seed}, run {self.seeds.index(seed) + 1} of {len(self.seeds)}")
            self.runs[seed] = RunState(outcome=RUNNING, activity="starting …", started_at=self.started_at, log=self.log)
        return self.runs[seed]

    @property
    def number(self) -> int:
        """The shown seed's place in the group, from 1."""
        return self.seeds.index(self.current) + 1 if self.current in self.seeds else 1

    def done(self) -> list[int]:
        """The seeds whose run ended, in the group's order."""
        return [seed for seed in self.seeds if seed in self.runs and not self.runs[seed].active]

    def apply(self, events: tuple[SeedGroupEvent, ...]) -> None:
        from prunetui.engine.analyses import Progress, SeedEnded, SeedGroupEnded, SeedGroupStarted, seed_stage

        stages = {seed_stage(seed): seed for seed in self.seeds}
        for event in events:
            if isinstance(event, SeedGroupStarted):
                self.name = event.group
            elif isinstance(event, Progress):
                self.current = stages[event.stage]
                self.shown.apply((event.event,))
            elif isinstance(event, SeedEnded):
                state = self._state(event.seed)
                if state.active:  # its job failed without a run (or ran elsewhere): its end is all there is
                    state.apply((event.last,))
                if event.discarded:
                    state.log.append(f"nothing kept: the run failed before training ({event.directory} removed)")
            elif isinstance(event, SeedGroupEnded):
                self.ended = event
                for state in self.runs.values():
                    if state.active:  # stopped in a worker, not kept
                        state.fail("stopped before the end, not kept")
                self.log.append(self.text())

    def text(self, named: bool = True) -> str:
        """Which seed runs and how the others ended; at the end, the group's numbers as mean ± std (n), as
        `prunetui run --seeds` prints them (`named`: after the group's name, which the log has)."""
        from prunetui.describe import before_pruning, percent, percent_spread, seeds_text, times_spread

        if self.ended is None:
            finished = [f"seed {seed} {percent(self.runs[seed].current_accuracy)}" for seed in self.done()]
            done = f" · ended: {', '.join(finished)}" if finished else ""
            return f"seed group: seed {self.current}, run {self.number} of {len(self.seeds)}{done}"
        group = self.ended.group
        if group is None or not group.averaged:
            return f"seed group ({seeds_text(list(self.seeds))}): no seed finished, so there is no mean to give"
        n = len(group.averaged)
        before = before_pruning(group.config) if group.config else "dense"
        seeds = f"{group.name} ({seeds_text(group.seeds)})" if named else seeds_text(group.seeds)
        return (
            f"{seeds}, mean{' ± std' if n > 1 else ''} (n = {n}): accuracy "
            f"{before} {percent_spread(group.stat('dense_accuracy'))} → {percent_spread(group.stat('accuracy'))} · "
            f"sparsity {percent_spread(group.stat('sparsity'))} · compression {times_spread(group.stat('compression'))}"
        )
