"""An Input whose value, when longer than its box, shows that it is cut."""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from textual.strip import Strip

from prunetui.app.widgets.ordered_input import OrderedInput

ELLIPSIS = "…"


class CutInput(OrderedInput):
    """Without focus, a value wider than its box shows an ellipsis at each edge where it goes on, so that a cut
    value never reads as another (`fc3=0` for `fc3=0.74`); with focus it scrolls as any Input does."""

    def update_node_styles(self, animate: bool = True) -> None:
        # Input's __init__ sets its value and its classes one by one, each restyling the input before it is mounted,
        # where it is styled anyway: 63 of the 118 style updates of the app's start (bench_app_mount).
        if self.is_attached:
            super().update_node_styles(animate)

    def on_mount(self) -> None:
        self.cursor_position = 0  # the start shows, also focused: a list's tail alone would read as another list

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        width = self.scrollable_content_region.width
        scroll_x = int(self.scroll_offset.x)
        left, right = scroll_x > 0, cell_len(self.value) > scroll_x + width
        if y or self.has_focus or width < 3 or not (left or right):
            return strip
        segments = list(strip.crop(0, width))
        style = segments[0].style if segments else None
        middle = Strip(segments).crop(1 if left else 0, width - 1 if right else width)
        return Strip(
            [*([Segment(ELLIPSIS, style)] if left else []), *middle, *([Segment(ELLIPSIS, style)] if right else [])]
        ).extend_cell_length(strip.cell_length, style)
