"""The experiment's settings as a form built from the config schema, checked as you type.

Every field of `ExperimentConfig` gets a row: a Choice when the field has choices, a Switch for a flag and
an Input otherwise (also for the data set, any spec --dataset takes: its note says what the data set is, read in a
worker), so a setting added to the engine appears here without touching the app. Below the seed, a
Seeds row that is not a setting of one run: `0-2` runs a seed group, one run per seed, as `run --seeds` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import DescendantBlur, DescendantFocus
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static, Switch

from prunetui.app.widgets.choice import Choice
from prunetui.app.widgets.cut_input import CutInput
from prunetui.app.words import as_fields
from prunetui.engine.core.config import ExperimentConfig, flag_name, setting_type
from prunetui.engine.core.data import EMBEDDED, NOT_AVAILABLE, availability, download_reachable, missing_text
from prunetui.engine.core.data.facts import DataFacts
from prunetui.engine.core.data.sources import AVAILABLE_TO_DOWNLOAD
from prunetui.engine.core.data.specs import DATASETS
from prunetui.engine.core.errors import ConfigError, PrunetuiError, unexpected
from prunetui.engine.core.networks.checks import missing_sources
from prunetui.engine.core.seed_stats import parse_seeds

PARSERS: dict[type, tuple[Callable[[str], Any], str]] = {
    int: (int, "must be a whole number"),
    float: (float, "must be a number"),
}


DATASET = "dataset"  # free text, as --dataset takes it: the built-ins are suggested and listed, any spec typed
DATA_READ_DELAY = 0.5  # seconds the typed data spec must stay unchanged before it is read (a path is typed in bursts)
Control = Input | Choice | Switch  # a setting's, by its type (`_control`)
DataKey = tuple[str, str, int]  # what a data set's facts depend on: the spec, the data directory, the image size


def _showable(f: dataclasses.Field[Any], value: Any) -> bool:
    """Whether the field's control can hold the value: a Choice only its choices, a Switch only a bool."""
    if f.metadata["choices"] and f.name != DATASET:
        return value in tuple(f.metadata["choices"])
    return (setting_type(f) is bool) == (type(value) is bool)


def dataset_help(states: dict[str, str]) -> str:
    """The data set field's help: the built-ins grouped by availability, those not on this machine last, then the
    specs typed (where the help's lines are too few, those are what is cut)."""
    by_state: dict[str, list[str]] = {}
    for name, state in sorted(states.items(), key=lambda item: item[1] == NOT_AVAILABLE):
        by_state.setdefault(state, []).append(name)
    built_ins = "; ".join(f"{', '.join(names)} ({state})" for state, names in by_state.items())
    return f"{built_ins}; or imagefolder:PATH, file.py:factory"


# The settings box's lines at 80x24: the rows that fill them are in the first frame, the others come after it
# (each row styled before it cost 6-8 ms of it; bench_app_startup, 3 repeats on a loaded 2-core machine: first paint
# 1.42 times a minimal Textual app's this way, 2.26 with every row in the first frame).
FIRST_LINES = 11


def first_rows(config: ExperimentConfig) -> int:
    """How many rows fill FIRST_LINES for this config: a row takes a line, and its note another where it shows."""
    lines = 0
    for count, f in enumerate(ExperimentConfig.fields()):
        lines += 1 + (config.not_applicable(f.name) is not None or f.name == DATASET)  # the data set's says what it is
        if lines >= FIRST_LINES:
            return count + 1
    return len(ExperimentConfig.fields())


SEEDS_PLACEHOLDER = "empty: one run with the seed above; 0-2: one run per seed"
SEEDS_HELP = (
    "a seed group: the experiment once per seed (0-2, or 0,1,5), each a run of its own, told as mean ± std over "
    "the seeds, as `prunetui run --seeds` does; empty: one run with the seed above"
)


def label_for(name: str) -> str:
    return name.replace("_", " ")


class SettingRow(Horizontal):
    """A setting's control with its name drawn left of it by the row: a Label per row was a fifth of the main
    screen's widgets, each styled, laid out and painted as the app opens. The name lights up while the control
    has focus: a class set here, since Textual restyles on focus only below a widget with its own :focus-within
    rule, and one on every row would restyle the whole form before the first paint."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"setting-row--label"}

    def __init__(self, label: str, control: Widget, *, id: str) -> None:
        super().__init__(control, classes="setting", id=id)
        self.label = label

    def render(self) -> Text:
        """The name; the control covers the row from .setting's margin on."""
        return Text(self.label, self.get_component_rich_style("setting-row--label"), no_wrap=True, end="")

    def on_descendant_focus(self) -> None:
        self.add_class("-focused")

    def on_descendant_blur(self) -> None:
        self.remove_class("-focused")


class ExperimentForm(Vertical):
    """One row per setting; `read()` gives the config the form shows and what is wrong with it."""

    @dataclasses.dataclass
    class Checked(Message):
        """The settings were checked again: `problems`, by setting name (none: a run can start)."""

        problems: dict[str, str]

    @dataclasses.dataclass
    class OnlineKnown(Message):
        """Whether a data set could be downloaded now, found out in a worker."""

        online: bool

    def __init__(self, config: ExperimentConfig | None = None, *, id: str | None = None) -> None:
        """`config`: the settings it will show first (`show_config`), which decide the rows of the first frame."""
        super().__init__(id=id)
        self._config = ExperimentConfig()
        self._first_rows = first_rows(config or self._config)
        self.problems: dict[str, str] = {}
        self._check_pending = False
        self._help = ""  # the markup of the help shown, cut again to the panel when the layout changes
        self._checked: dict[Control, object] = {}  # each control's value at the last check
        self._controls: dict[str, Control] = {}  # by setting name, as their rows are built
        self._rows: dict[str, SettingRow] = {}  # the same, and the Seeds row
        self._notes: dict[str, Static] = {}  # the notes mounted (`_show_note`)
        self._seeds: Input | None = None  # the Seeds row's, once built
        self._locked = False  # while a run goes: every control disabled
        self.online: bool | None = None  # whether a download could be tried: unknown until a worker has asked
        self._states = self._availability((config or self._config).data_dir)  # each built-in's, for its note
        self.data_facts: dict[DataKey, DataFacts | str] = {}  # what each data set read is, or why it cannot be read
        self._reading: DataKey | None = None  # the data set a worker reads now
        self._read_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="settings", can_focus=False):
            for f in ExperimentConfig.fields()[: self._first_rows]:
                yield from self._row(f)
        yield Static("", id="setting-help")
        yield Static("", id="form-status")

    def _row(self, f: dataclasses.Field[Any]) -> Iterator[Widget]:
        """The setting's row (its name and control) and, where the form's config gives it one, the line below it
        for a problem or a note: built as `_check` would show them, since a widget restyled once mounted costs
        twice."""
        control = self._controls[f.name] = self._control(f, getattr(self._config, f.name))
        text, kind = self._note(f.name, self._config, None)
        control.disabled = self._locked or kind == "-note"
        yield self._new_row(f.name, control)
        if kind != "-empty":
            yield self._new_note(f.name, text, kind)
        if f.name == "seed":
            yield self._seeds_row()

    def _seeds_row(self) -> SettingRow:
        """Seeds: empty for one run with the seed above; `0-2` or `0,1,5` for a seed group."""
        self._seeds = CutInput(
            "", placeholder=SEEDS_PLACEHOLDER, compact=True, id="setting-seeds", disabled=self._locked
        )
        self._seeds.tooltip = SEEDS_HELP
        return self._new_row("seeds", self._seeds)

    def _new_row(self, name: str, control: Widget) -> SettingRow:
        row = self._rows[name] = SettingRow(label_for(name), control, id=f"row-{name}")
        return row

    def _new_note(self, name: str, text: str, kind: str) -> Static:
        note = self._notes[name] = Static(text, classes=f"setting-note {kind}", id=f"note-{name}")
        return note

    def _control(self, f: dataclasses.Field[Any], value: Any) -> Control:
        widget_id, help = f"setting-{f.name}", f.metadata["help"]
        control: Control
        if f.metadata["choices"] and f.name != DATASET:
            control = Choice([(c, c) for c in f.metadata["choices"]], value, id=widget_id)
        elif setting_type(f) is bool:
            control = Switch(value, id=widget_id)
        else:
            suggester = SuggestFromList(DATASETS) if f.name == DATASET else None  # right arrow takes the rest
            placeholder = f.metadata["empty"] or help
            control = CutInput(str(value), placeholder=placeholder, compact=True, suggester=suggester, id=widget_id)
        control.tooltip = help
        return control

    def on_mount(self) -> None:
        self._rows_added()
        self._ask_online()

    def _availability(self, data_dir: str) -> dict[str, str]:
        """Each data set's state; "will download" only once a download is known to be possible."""
        return availability(data_dir or None, download=bool(self.online))

    @work(thread=True, exit_on_error=False, group="online")
    def _ask_online(self) -> None:
        """Whether torchvision's mirrors answer: a second or more offline, so never on the UI thread."""
        self.post_message(self.OnlineKnown(download_reachable()))

    def on_experiment_form_online_known(self, message: OnlineKnown) -> None:
        self.online = message.online
        self._show_states(self.query_one("#setting-data_dir", Input).value if self._has("data_dir") else "")

    def _has(self, name: str) -> bool:
        return name in self._controls

    @dataclasses.dataclass
    class DataRead(Message):
        """A worker read the data set `key` names: what it is, or the one line that says why it cannot be read."""

        key: DataKey
        facts: DataFacts | str

    def _data_key(self, config: ExperimentConfig) -> DataKey:
        return (config.dataset, config.data_dir, config.image_size)

    def _read_data_soon(self) -> None:
        """Read the data set once its spec has stayed unchanged a moment: not a half-typed path or file."""
        if self._read_timer is not None:
            self._read_timer.stop()
        self._read_timer = self.set_timer(DATA_READ_DELAY, self._read_data)

    def _read_data(self) -> None:
        """What the form's data set is, read in a worker as a run would read it (on the CPU, nothing downloaded):
        only where it is here to read and not read already (a data set that could not be is tried again: its
        files may have been fixed meanwhile)."""
        config, problems = self.read()
        key = self._data_key(config)
        if isinstance(self.data_facts.get(key), str):
            del self.data_facts[key]
        unavailable = self._states.get(config.dataset) in (NOT_AVAILABLE, AVAILABLE_TO_DOWNLOAD)
        if DATASET in problems or unavailable or key in self.data_facts or key == self._reading:
            return
        self._reading = key
        self._check()
        self._read_facts(key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="data")
    def _read_facts(self, key: DataKey) -> None:
        """Loads torch and the data set: seconds, so never on the UI thread."""
        spec, data_dir, image_size = key
        facts: DataFacts | str
        try:
            import torch

            from prunetui.engine.core.data.loading import load_dataset

            cpu = torch.device("cpu")
            facts = load_dataset(spec, data_dir or None, cpu, download=False, image_size=image_size).facts
        except PrunetuiError as error:
            facts = str(error)
        except Exception as error:  # a user's factory or files: one line, never a traceback
            facts = unexpected(error)
        self.post_message(self.DataRead(key, facts))

    def on_experiment_form_data_read(self, message: DataRead) -> None:
        self.data_facts[message.key] = message.facts
        if self._reading == message.key:
            self._reading = None
        self._changed()

    def _data_note(self, config: ExperimentConfig) -> tuple[str, str]:
        """The note under the data set field and its class: what the data set is (once read) or its state, and
        why it cannot be read."""
        key = self._data_key(config)
        state = self._states.get(config.dataset)
        known = self.data_facts.get(key)
        if isinstance(known, str):
            return known, "-error"
        prefix = f"{state} · " if state else ""
        if known is not None:
            return f"{prefix}{known.line()}", "-info"
        if key == self._reading:
            return f"{prefix}reading {config.dataset} …", "-info"
        return (state or "what it holds is read when this field has focus"), "-info"

    def missing_data(self, config: ExperimentConfig | None = None) -> str | None:
        """Why the chosen data set (`config`'s, by default the form's) cannot be used now and where prunetui
        looked; None when it can, or while it is not known yet whether it could be downloaded."""
        config = config or self.read()[0]
        if self.online is None or self._states.get(config.dataset) != NOT_AVAILABLE:
            return None
        return missing_text(config.dataset, config.data_dir or None)

    async def add_rows(self) -> None:
        """The rows below those of the first frame (a row is two widgets, three with a note). Until they are
        mounted, `read()` takes their values from `_config`."""
        rows = [widget for f in ExperimentConfig.fields()[self._first_rows :] for widget in self._row(f)]
        await self.query_one("#settings").mount_all(rows)
        if self.is_attached:  # else the app closed before they were mounted
            self._rows_added()

    def _rows_added(self) -> None:
        for control in self.query(Input):
            control.cursor_position = 0  # a long path shows its start, not its tail
        self._changed()  # with the changes the new controls report as they mount: one check for all

    def show_config(self, config: ExperimentConfig) -> None:
        """Put a config's values into the controls; ConfigError if one cannot be shown (not among the choices)."""
        for f in ExperimentConfig.fields():
            if not _showable(f, getattr(config, f.name)):
                why = config.problems().get(f.name, f"{getattr(config, f.name)!r} is not among its choices")
                raise ConfigError(f"invalid {flag_name(f.name)}: {why}")
        for name, control in self._controls.items():
            value = getattr(config, name)
            if isinstance(control, Input):
                control.value = str(value)
                control.cursor_position = 0  # a long path shows its start, not its tail
            else:
                control.value = value
        self._config = config
        self._states = self._availability(config.data_dir)  # before its Input says it changed: no stale note
        self._check()
        if DATASET in self._controls and self._controls[DATASET].has_focus:
            self._read_data_soon()

    def read(self) -> tuple[ExperimentConfig, dict[str, str]]:
        """The config as the controls show it (an unparsable text keeps its last good value) and its problems."""
        values: dict[str, Any] = {}
        unparsable: dict[str, str] = {}
        for f in ExperimentConfig.fields():
            control = self._controls.get(f.name)
            if control is None:
                continue  # not mounted yet: it will show `_config`'s value
            if not isinstance(control, Input):
                values[f.name] = control.value
            elif setting_type(f) in PARSERS:
                parse, why = PARSERS[setting_type(f)]
                try:
                    values[f.name] = parse(control.value.strip())
                except ValueError:
                    unparsable[f.name] = why
            else:
                values[f.name] = control.value
        config = self._config.replace(**values)
        seeds = {"seeds": problem} if (problem := self._seeds_problem()) else {}
        files = missing_sources(config.model, config.weights)  # the run would fail on them at once
        return config, {**files, **config.problems(), **unparsable, **seeds}

    @property
    def seeds(self) -> tuple[int, ...]:
        """The Seeds row's seeds; () for one run (empty, or a problem that `read()` reports)."""
        if self._seeds is None or not self._seeds.value.strip() or self._seeds_problem():
            return ()
        return parse_seeds(self._seeds.value)

    def _seeds_problem(self) -> str | None:
        if self._seeds is None or not self._seeds.value.strip():
            return None
        try:
            parse_seeds(self._seeds.value)
        except ConfigError as error:
            return str(error).removeprefix("invalid --seeds: ")
        return None

    @property
    def locked(self) -> bool:
        return self._locked

    @locked.setter
    def locked(self, locked: bool) -> None:
        """Locked, each control is disabled, not the rows' container: Textual restyles every widget under one that
        is disabled (113 at 160x48, 45-50 ms on the project's machine, at each Start and each end), and only the
        controls look different (dimmed) or take keys."""
        self._locked = locked
        self._check()

    def focus_first_problem(self) -> None:
        if self.problems:
            name = next(iter(self.problems))
            control = self._seeds if name == "seeds" else self._controls[name]
            if control is not None:
                control.focus()

    @on(Input.Changed, "#setting-data_dir")
    def _show_availability(self, event: Input.Changed) -> None:
        """What is on disk depends on the data directory."""
        self._show_states(event.value)

    @on(Input.Changed, "#setting-dataset")
    @on(Input.Changed, "#setting-data_dir")
    @on(Input.Changed, "#setting-image_size")
    def _data_changed(self, event: Input.Changed) -> None:
        """Typed, not shown on mounting: the first frame comes before torch, which reading the data loads."""
        if event.input.has_focus:
            self._read_data_soon()

    def _show_states(self, data_dir: str) -> None:
        self._states = self._availability(data_dir)
        if self._controls[DATASET].has_focus:
            self._show_help(DATASET)
        self._changed()

    @on(Input.Changed)
    @on(Choice.Changed)
    @on(Switch.Changed)
    def _control_changed(self, event: Input.Changed | Choice.Changed | Switch.Changed) -> None:
        """Every control reports its first value once mounted, and each value a config put in, which the check
        that followed (`show_config`'s) read already: only a value not checked yet needs a check."""
        if self._checked.get(event.control, self) != event.value:
            self._changed()

    def _changed(self) -> None:
        """One check for a burst of changes: a loaded config changes many at once."""
        if not self._check_pending:
            self._check_pending = True
            self.call_later(self._check_if_pending)

    def _check_if_pending(self) -> None:
        if self._check_pending:  # else a check came meanwhile (show_config's)
            self._check()

    def _check(self) -> None:
        self._check_pending = False
        controls = [*self._controls.values(), *([self._seeds] if self._seeds is not None else [])]
        self._checked = {control: control.value for control in controls}
        config, self.problems = self.read()
        for name, control in self._controls.items():
            problem = self.problems.get(name)
            control.disabled = self._locked or (problem is None and config.not_applicable(name) is not None)
            self._show_note(name, problem is not None, *self._note(name, config, problem))
        if self._seeds is not None:
            self._seeds.disabled = self._locked
            problem = self.problems.get("seeds")
            self._show_note("seeds", problem is not None, problem or "", "-error" if problem else "-empty")
        known = self.data_facts.get(self._data_key(config))
        unreadable = isinstance(known, str)
        self._say("#form-status", self._status_text(self.missing_data(config), config.dataset, unreadable))
        self.post_message(self.Checked(self.problems))

    def _note(self, name: str, config: ExperimentConfig, problem: str | None) -> tuple[str, str]:
        """The line below a setting's row and its class: the setting's problem, why it does not apply (the reason
        shown in place of the control) or, for the data set, what it is; "-empty" for none."""
        not_applicable = config.not_applicable(name)
        missing = self.missing_data(config) if name == DATASET else None  # said before Start, not after
        if name == DATASET and not (problem or missing):
            return self._data_note(config)
        text = as_fields(problem or not_applicable or missing or "")
        return text, "-error" if problem or missing else "-note" if not_applicable else "-empty"

    def _show_note(self, name: str, invalid: bool, text: str, kind: str) -> None:
        """The row's mark and the line below it: a note is mounted the first time one shows (most rows never have
        one, and a hidden widget costs as much to open the app as a shown one), then kept, hidden while empty."""
        row = self._rows[name]
        row.set_class(invalid, "-invalid")
        note = self._notes.get(name)
        if note is None:
            if kind != "-empty":
                self.query_one("#settings").mount(self._new_note(name, text, kind), after=row)
            return
        if note.content != text:  # each update lays out the whole screen again
            note.update(text)
        note.set_classes(["setting-note", kind])

    def _status_text(self, missing: str | None, dataset: str, unreadable: bool) -> str:
        if self.locked:
            return "locked while the run goes on"
        if self.problems:
            count = len(self.problems)
            return f"[b]{count} setting{'s' if count > 1 else ''} to fix[/b] before a run can start"
        if missing is not None:  # the data set field says where prunetui looked
            return f"[b]cannot start as is[/b]: no {dataset} here; {EMBEDDED} is built in"
        if unreadable:  # its note says why, in red
            return "[b]cannot start as is[/b]: the data set cannot be read"
        return "ready to start"

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if event.widget is self._seeds:
            self._say_help(f"[b]seeds[/b]: {SEEDS_HELP}")
            return
        name = (event.widget.id or "").removeprefix("setting-")
        self._show_help(name)
        if name == DATASET:
            self._read_data()

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        if event.widget is self._controls.get(DATASET):
            self._read_data()

    def _show_help(self, name: str) -> None:
        f = next((f for f in ExperimentConfig.fields() if f.name == name), None)
        if f is not None:
            help = dataset_help(self._states) if name == DATASET else f.metadata["help"]
            self._say_help(f"[b]{label_for(f.name)}[/b]: {help}")

    def on_resize(self) -> None:
        if self._help:  # the panel's width and lines change with the layout (-wide has four)
            self.call_after_refresh(self._say_help, self._help)

    def _say_help(self, markup: str) -> None:
        """The help of the focused setting, in the lines its panel has: a text longer than those ends in "…", not
        cut off mid-sentence with nothing to say so."""
        self._help = markup
        panel = self.query_one("#setting-help", Static)
        width, lines = panel.content_region.size  # none before the first layout: cut once laid out (on_resize)
        text = Text.from_markup(markup)
        wrapped = text.wrap(self.app.console, width) if width and lines else [text]
        if len(wrapped) > lines > 0:
            last = wrapped[lines - 1]
            last.rstrip()
            last.truncate(width - 1)
            text = Text("\n").join([*wrapped[: lines - 1], Text.assemble(last, "…")])
        panel.update(text, layout=False)

    def _say(self, line: str, text: str) -> None:
        """The help's or the status's text: their sizes are fixed (app.tcss), so a new text repaints them without a
        layout of the screen (one at each focus move otherwise)."""
        self.query_one(line, Static).update(text, layout=False)
