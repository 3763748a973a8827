"""Deleting a run from the Runs screen: `d`, shown in the footer, asks first and refuses a run still running."""

from __future__ import annotations

from textual.widgets import DataTable, Static
from textual.widgets._footer import FooterKey

from prunetui.app.app import PruneApp
from prunetui.app.screens.confirm import ConfirmScreen
from prunetui.app.screens.runs import RunsScreen
from prunetui.engine import ExperimentConfig
from prunetui.engine.storage.runs import list_runs, runs_root
from tests.test_app import opened, shown, wait_until
from tests.test_cli_pipeline import finished, running_run, saved_run

SIZE = (140, 44)


async def test_d_deletes_the_highlighted_run_after_asking(tiny_config: ExperimentConfig) -> None:
    root = runs_root()
    kept = saved_run(
        root, "20260201-120000-bbbbbb", ExperimentConfig(), **finished(0.9, 0.5, "2026-02-01T12:00:00+0000")
    )
    doomed = saved_run(
        root, "20260301-120000-aaaaaa", ExperimentConfig(), **finished(0.8, 0.9, "2026-03-01T12:00:00+0000")
    )
    app = PruneApp(tiny_config)
    with running_run(tiny_config) as running:
        async with app.run_test(size=SIZE) as pilot:
            screen = await opened(pilot, "f3", RunsScreen)
            await wait_until(pilot, lambda: bool(screen.query(FooterKey)))  # the footer fills after the screen shows
            assert ("d", "Delete") in [(key.key, key.description) for key in screen.query(FooterKey)]
            table = screen.query_one(DataTable)

            await pilot.press("d")  # the newest run is highlighted: the one still running
            await pilot.pause()
            assert app.screen is screen
            detail = shown(screen.query_one("#runs-detail", Static))
            assert f"not deleted: run {running.name} is still running" in detail

            await pilot.press("down", "d")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen) and doomed.name in app.screen.question
            await pilot.press("n")
            await pilot.pause()
            assert app.screen is screen and doomed.is_dir() and table.row_count == 3

            await pilot.press("d", "y")
            await pilot.pause()
            assert app.screen is screen and not doomed.exists()
            assert [str(table.get_row_at(i)[1]) for i in range(table.row_count)] == [running.name, kept.name]
            assert [run.path for run in list_runs(root)] == [running, kept]
