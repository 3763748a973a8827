"""What the app does and which keys do it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from prunetui.app.keys import KEYS

HELP = """\
# prunetui

Escape (or F1) closes this help.

Train a small network, prune it on a schedule, fine-tune it, and watch accuracy and sparsity as it goes.

1. **Set up** the experiment on the left (on top in a narrow terminal). Each setting explains itself below
   the form when it has focus; a setting that is invalid turns red and says why, and Start waits until all
   are valid.
2. **Start** the run. The settings lock while it goes; **Stop** ends it after the current batch and keeps
   what it reached. In a small terminal the form folds away while the run goes, so that status, charts and
   bars fit (F8 brings it back). The form remembers the last settings for the next session; F7 puts the
   defaults back.
3. **Watch**: the loss chart shows the smoothed training loss and the test loss after each epoch; the
   accuracy chart marks each prune with a red line, so the dip and the recovery during fine-tuning show.
   The bars show each layer's pruned share with exact counts; the log tells the run in words (Tab to it:
   the arrows and PageUp/PageDown scroll it, Enter zooms it to the whole view and back).
4. **Compare**: Runs (F3) overlays saved runs, Sweep (F4) draws accuracy against sparsity for several
   methods, Sensitivity (F5) prunes one layer at a time (ctrl+l there puts the per-layer amounts it suggests
   into the form), and Weights (F6) shows a run's weights as a heat map, before and after pruning.

## Keys

{keys}

Tab and Shift+Tab move between settings and panels; the mouse works too.
Settings files are TOML, the same format as `prunetui --config`.
"""


SCREEN_HELP = """\
Escape (or F1) closes this help.

{about}

## Keys

{keys}

F3 Runs, F4 Sweep, F5 Sensitivity and F6 Weights go from one screen to another; Escape goes back.
"""


class HelpScreen(ModalScreen[None]):
    """The app's help, or with `about` and `keys`, the help of the screen in front."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close help")]

    def __init__(self, about: str | None = None, keys: list[Binding] | None = None) -> None:
        super().__init__()
        self.about = about
        self.keys = keys

    def compose(self) -> ComposeResult:
        bindings = self.keys if self.keys is not None else KEYS
        keys = "\n".join(
            f"- **{self.app.get_key_display(binding)}** {binding.description}"
            + (f": {binding.tooltip}" if binding.tooltip else "")
            for binding in bindings
            if binding.description
        )
        text = HELP.format(keys=keys) if self.about is None else SCREEN_HELP.format(about=self.about, keys=keys)
        with VerticalScroll(classes="dialog help"):
            yield Markdown(text)
