"""PruneApp: the main screen (`screens/main.py`) and what is the app's own: the screens it opens, Help, a
screenshot, quitting, the command palette, and where runs go."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterable
from functools import cache, cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import events
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen

from prunetui.app.keys import APP_KEYS, KEYS, MAIN_SCREEN_ACTIONS
from prunetui.app.screens.main import MainScreen
from prunetui.app.screens.too_small import TooSmallScreen
from prunetui.app.screens.tool_screen import TOOLS
from prunetui.engine.core.config import ExperimentConfig
from prunetui.engine.core.preload import load_torch_optim

if TYPE_CHECKING:
    from prunetui.app.screens.analysis import AnalysisScreen, Kept
    from prunetui.app.screens.sensitivity import SensitivityScreen

QUIT_WAIT = 1.5  # seconds to let a stopped run save itself before the app exits anyway
ANALYSIS_WORDS = {"sweep": "a sweep", "sensitivity": "a sensitivity analysis"}
MIN_SIZE = (80, 24)  # the run view (status, both charts, the bars) needs this much; below it a notice says so


def breakpoint(size: int, breakpoints: list[tuple[int, str]]) -> str:
    """The class Textual gives a screen `size` cells wide (or high) for these breakpoints."""
    return next(name for edge, name in sorted(breakpoints, reverse=True) if size >= edge)


@cache
def freeze_imports() -> None:
    """What the imports made lives as long as the process: frozen, the collections during the first frame need not
    walk it (one full collection took 25 ms of a 250 ms first paint; bench_app_startup, 3 repeats on a loaded 2-core
    machine: first paint 1.42 times a minimal Textual app's with it, 1.64 without). Once a process: a later app
    (tests open many) would freeze the garbage of the one before; and not by asking `gc.get_freeze_count`, which
    walks every frozen object (36 ms once torch is loaded)."""
    gc.freeze()


class PruneApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute, so subclasses defined elsewhere find it
    TITLE = "prunetui"
    SUB_TITLE = "neural-network pruning experiments"
    # Textual declares these instance variables (so no ClassVar), read, never changed.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = list(APP_KEYS)  # the main screen has the others

    def __init__(self, config: ExperimentConfig | None = None, *, runs_dir: Path | None = None) -> None:
        """`config` goes into the form; without one, the settings remembered from the last session do. `runs_dir`:
        where runs are saved and read, and sweeps and sensitivity results go (default: the runs root, as
        `runs_root` finds it)."""
        super().__init__()
        freeze_imports()
        self._runs_dir = runs_dir
        self._config = config
        self._main_screen: MainScreen | None = None
        self._kept: dict[str, Kept] = {}  # Sweep's and Sensitivity's inputs and results, for the session
        self._analyses: dict[str, AnalysisScreen] = {}  # by tool: the screen of an analysis started, kept when left

    def get_default_screen(self) -> Screen:
        """The main screen with the breakpoint classes for the terminal's size already set. Textual sets them on
        the first resize, after the first styling, and styling every widget again made the first paint slower."""
        width, height = self.size
        classes = (breakpoint(width, self.HORIZONTAL_BREAKPOINTS), breakpoint(height, self.VERTICAL_BREAKPOINTS))
        self._main_screen = MainScreen(self._config, self._runs_dir, id="_default", classes=" ".join(classes))
        return self._main_screen

    @cached_property
    def runs_dir(self) -> Path:
        """Where runs are saved and read: found when first needed (the runs module is not needed to paint)."""
        from prunetui.engine.storage.runs import runs_root

        return runs_root(self._runs_dir)

    @property
    def main_screen(self) -> MainScreen:
        """The screen with the form and the run, beneath any other."""
        assert self._main_screen is not None, "the app has not started"
        return self._main_screen

    async def on_ready(self) -> None:
        await self.main_screen.after_first_frame()
        # torch and torch.optim (whose first optimizer imports torch's compiler) take seconds: they load in a thread
        # while the user fills the form, so Start trains at once. A daemon thread, not a worker: quitting never waits.
        load_torch_optim()

    def on_resize(self, event: events.Resize) -> None:
        too_small = event.size.width < MIN_SIZE[0] or event.size.height < MIN_SIZE[1]
        if too_small and not isinstance(self.screen, TooSmallScreen):
            self.push_screen(TooSmallScreen(*MIN_SIZE))
        elif not too_small and isinstance(self.screen, TooSmallScreen):
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, TooSmallScreen):
            return action == "quit"  # no screen opens over the notice: it would stay when the terminal grows
        # Another screen in front (Runs, Sweep …) has its own keys; the analyses open from the main screen.
        return action != "open" or self.screen is self.main_screen

    def on_sensitivity_screen_amounts_chosen(self, message: SensitivityScreen.AmountsChosen) -> None:
        self.main_screen.use_layer_amounts(message.model, message.amounts)

    # -- the rest ---------------------------------------------------------------------------------------

    def action_take_screenshot(self) -> None:
        path = self.save_screenshot()
        self.notify(f"Saved {path}", title="Screenshot")

    def action_open(self, name: str) -> None:
        """Open an analysis screen (imported only now: numpy, plotext); Sweep and Sensitivity start from the
        form's settings."""
        from prunetui.app.screens.runs import RunsScreen
        from prunetui.app.screens.sensitivity import SensitivityScreen
        from prunetui.app.screens.sweep import SweepScreen
        from prunetui.app.screens.weights import WeightsScreen

        if name in ("runs", "weights"):
            self.push_screen(RunsScreen(self.runs_dir) if name == "runs" else WeightsScreen(self.runs_dir))
            return
        config, _ = self.main_screen.form.read()  # the screens check the settings when they start
        kept = self._analyses.get(name)
        if kept is not None and (kept.running or kept.config == config):
            self.push_screen(kept)  # the analysis as it goes (or went): same settings, or still running
            return
        if kept is not None:
            self._forget_analysis(kept)  # finished with other settings: a new screen, its inputs restored
        screen = SweepScreen if name == "sweep" else SensitivityScreen
        self.push_screen(screen(config, self.runs_dir, self._kept))

    def keep_analysis(self, screen: AnalysisScreen) -> None:
        """Keep a screen whose analysis starts: leaving it (Escape, F3-F6) no longer removes it, so the analysis
        goes on, and its key brings it back as it is."""
        kept = self._analyses.get(screen.TOOL)
        if kept is screen:
            return
        if kept is not None:
            self._forget_analysis(kept)
        self.install_screen(screen, f"analysis-{screen.TOOL}")
        self._analyses[screen.TOOL] = screen

    def _forget_analysis(self, screen: AnalysisScreen) -> None:
        """A kept screen whose analysis is over, replaced: removed as Textual removes a screen left."""
        del self._analyses[screen.TOOL]
        self.uninstall_screen(screen)
        screen.remove()
        self._show_analyses()

    def on_analysis_screen_changed(self, message: AnalysisScreen.Changed) -> None:
        self._show_analyses()

    def _show_analyses(self) -> None:
        """The main screen's status says what each kept analysis does, and which key shows it: while it runs, and
        how it ended until its screen is shown (a line each, which the charts below give up rows for)."""
        lines = [
            f"{TOOLS[screen.TOOL]} [b]{screen.TOOL.capitalize()}[/b]{' running' if screen.running else ''}: "
            f"{escape(screen.progress_text)}"
            for screen in self._analyses.values()
            if screen.running or screen.end_unseen
        ]
        if self._main_screen is not None and self._main_screen.is_attached:
            self._main_screen.show_analyses(lines)

    def going(self) -> list[str]:
        """What runs now, in words: "a run", "a sweep", "a sensitivity analysis"."""
        following = self.main_screen.follower is not None  # another process's run: it goes on after the app
        words = ["a run"] if self.main_screen.running and not following else []
        return words + [ANALYSIS_WORDS[tool] for tool, screen in self._analyses.items() if screen.running]

    def action_help(self) -> None:
        from prunetui.app.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for binding in KEYS:
            if binding.action != "quit":  # Textual's own commands include Quit
                target = self.main_screen if binding.action in MAIN_SCREEN_ACTIONS else self
                yield SystemCommand(
                    binding.description, binding.tooltip, partial(self.run_action, binding.action, target)
                )
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        self.main_screen.leave_followed()  # a run followed goes on in its own process
        going = self.going()
        if going:
            from prunetui.app.screens.confirm_quit import ConfirmQuitScreen

            self.push_screen(ConfirmQuitScreen(going), self._quit_answered)
            return
        self.main_screen.remember_form()
        self.exit()

    async def _quit_answered(self, stop: bool | None) -> None:
        """Stop the run and the analyses and give them a moment to save what they finished (the run as stopped,
        a sweep's points as each ended, a sensitivity analysis its rows); the process then ends at once
        (`run_app`), without waiting for torch to tear down."""
        if not stop:
            return
        self.main_screen.action_stop()
        for screen in self._analyses.values():
            screen.action_stop()
        # Polled, not `wait_for(worker.wait())`: a timeout there cancels the worker's task and marks it
        # cancelled, while its thread goes on saving the run.
        deadline = time.monotonic() + QUIT_WAIT
        while any(not worker.is_finished for worker in self.workers) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.exit()
