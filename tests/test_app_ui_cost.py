"""What the app costs training: while a run goes, the live charts replot no more often than keeps their replots
under REPLOT_SHARE of a core at the cost their last replot measured, yet a new point shows within REPLOT_AT_MOST
seconds; both charts replot together. Through the pilot, after a real run, with the charts' clock faked. A new log
line and a new phase repaint their own widgets, with no layout of the whole screen."""

from __future__ import annotations

import time

from prunetui.app.app import PruneApp
from prunetui.app.run_state import RunState
from prunetui.app.widgets.charts import REPLOT_AT_MOST, REPLOT_EVERY, REPLOT_SHARE, RunChart
from prunetui.app.widgets.event_log import EventLog
from prunetui.app.widgets.status_panel import StatusPanel
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import Series
from prunetui.engine.core.events import Failed
from tests.test_app import chart_lines, shown, wait_until


def plotted_loss(chart: RunChart) -> list[float]:
    lines, _ = chart_lines(chart)
    return lines[0] if lines else []


async def test_the_charts_replot_at_the_pace_their_cost_allows_and_show_new_points_in_time(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not app.main_screen.run_state.active)
        finished = app.main_screen.run_state
        loss, accuracy = (app.query_one(f"#{name}-chart", RunChart) for name in ("loss", "accuracy"))
        clock = [time.monotonic() + REPLOT_AT_MOST]  # the charts last replotted on the real clock, when the run ended
        for chart in (loss, accuracy):
            chart.clock = lambda: clock[0]
        # A run going, its loss line growing a point at a time (the finished run's points)
        going = RunState.begin()
        going.train_loss = Series(finished.train_loss.xs[:2], finished.train_loss.ys[:2])
        going.accuracy = finished.accuracy
        going.step = int(going.train_loss.xs[-1])

        def grow(points: int) -> None:
            going.train_loss.add(going.train_loss.xs[-1] + 1, finished.train_loss.ys[0])
            going.step = int(going.train_loss.xs[-1])
            assert len(going.train_loss.xs) == points

        def show() -> None:
            for chart in (loss, accuracy):
                chart.show(going)

        show()
        await pilot.pause()  # the paint, where plotext builds the charts: their cost is measured there
        pace = loss.pace
        assert accuracy.pace is pace and set(pace.costs) == {"loss-chart", "accuracy-chart"}
        assert all(cost > 0 for cost in pace.costs.values())
        assert pace.every == min(max(REPLOT_EVERY, sum(pace.costs.values()) / REPLOT_SHARE), REPLOT_AT_MOST)
        assert len(plotted_loss(loss)) == 2

        grow(3)
        clock[0] += pace.every * 0.9
        show()
        assert len(plotted_loss(loss)) == 2  # too soon: the chart waits
        clock[0] += pace.every * 0.2
        show()
        assert len(plotted_loss(loss)) == 3  # the new point shows
        assert accuracy.plt.monitor.xlim == loss.plt.monitor.xlim  # type: ignore[attr-defined]  # both replotted

        pace.costs = {"loss-chart": 10.0, "accuracy-chart": 10.0}  # a replot that took seconds: the slowest pace
        assert pace.every == REPLOT_AT_MOST
        grow(4)
        clock[0] += REPLOT_AT_MOST
        show()
        assert len(plotted_loss(loss)) == 4

        pace.costs = {"loss-chart": 0.0001, "accuracy-chart": 0.0001}  # cheap: at most once a second
        assert pace.every == REPLOT_EVERY
        grow(5)
        clock[0] += REPLOT_EVERY
        show()
        assert len(plotted_loss(loss)) == 5


async def test_log_lines_and_phases_show_at_once_without_a_layout_of_the_screen(tiny_config: ExperimentConfig) -> None:
    """The log grows line by line and shows its last line at its foot, its scrollbar's thumb following; the phase
    line shows each new phase, one line while the run goes, however long. None of it lays the screen out, but an
    end that wraps onto more lines (an error in full), or stops."""
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(app.query(EventLog)))
        await pilot.pause()
        screen, log, status = app.main_screen, app.query_one(EventLog), app.query_one(StatusPanel)
        phase = status.query_one("#phase")
        layouts: list[object] = []
        screen.screen_layout_refresh_signal.subscribe(screen, layouts.append, immediate=True)
        state = RunState.begin()
        for number in range(log.size.height + 5):  # past the log's height: it scrolls
            state.log.append(f"line {number}")
            state.activity = f"phase {number}"
            log.show(state)
            status.show(state)
            await pilot.pause()
            seen = [log.render_line(y).text.split() for y in range(log.scrollable_content_region.height)]
            assert [words for words in seen if words][-1][1:] == ["line", str(number)]  # after the time
            assert shown(phase) == f"phase {number}"
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y
        assert log.vertical_scrollbar.window_virtual_size == log.virtual_size.height == len(log.lines)
        assert layouts == []
        state.activity = "a phase too long for one line " * 4
        status.show(state)
        await pilot.pause()
        assert layouts == [] and phase.size.height == 1
        state.apply((Failed("an error too long for one line " * 4, None),))
        status.show(state)
        await pilot.pause()
        assert layouts and phase.size.height > 1
        wrapped = len(layouts)
        state = RunState.begin()  # the next run
        state.activity = "a short one"
        status.show(state)
        await pilot.pause()
        assert len(layouts) > wrapped and phase.size.height == 1
