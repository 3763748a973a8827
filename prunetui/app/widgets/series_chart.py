"""A line chart of named series (textual-plotext), redrawn only when its data changes: the analysis screens'
accuracy-vs-sparsity, per-layer sensitivity, run comparison and weight histogram charts."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from prunetui.engine.analyses import Series


class SeriesChart(PlotextPlot):
    can_focus = True

    def __init__(self, x_label: str, y_label: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.x_label = x_label
        self.y_label = y_label
        self.series: Series = {}
        self._shown: tuple[str, bool] | None = None

    def on_mount(self) -> None:
        self.plt.xlabel(self.x_label)
        self.plt.ylabel(self.y_label)

    def show(self, series: Series, *, log_x: bool = False, x_label: str | None = None) -> None:
        key = (repr(series), log_x)
        if key == self._shown:
            return
        self._shown, self.series = key, series
        self.plt.clear_data()
        self.plt.xscale("log" if log_x else "linear")
        self.plt.xlabel(x_label or self.x_label)
        for label, (xs, ys) in series.items():
            self.plt.plot(xs, ys, label=label, marker="braille")
        self.refresh()
