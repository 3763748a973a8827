"""The criteria and schedules by name: the names are the config schema's choices, so registering one here makes it
a --criterion / --schedule value, an option of the app's form and something a run can use."""

from __future__ import annotations

from prunetui.engine.pruning.criterion import Criterion
from prunetui.engine.pruning.l1 import L1
from prunetui.engine.pruning.ln_structured import LnStructured
from prunetui.engine.pruning.random_weights import RandomWeights
from prunetui.engine.pruning.schedules import AGP, Iterative, OneShot, Schedule
from prunetui.engine.pruning.taylor import Taylor

CRITERIA: dict[str, Criterion] = {
    criterion.name: criterion for criterion in (L1(), RandomWeights(), Taylor(), LnStructured())
}
SCHEDULES: dict[str, Schedule] = {schedule.name: schedule for schedule in (OneShot(), Iterative(), AGP())}
