"""The form and the schedules' settings: what rewinding, reinit, agp and ln-structured make (in)applicable."""

from __future__ import annotations

from textual.widgets import Static, Switch

from prunetui.app.app import PruneApp
from prunetui.app.widgets.choice import Choice
from prunetui.engine import ExperimentConfig
from tests.test_app import SIZE, shown


async def test_rewind_and_agp_settings_are_enabled_only_where_they_apply(tiny_config: ExperimentConfig) -> None:
    app = PruneApp(tiny_config.replace(schedule="iterative"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the form's later rows are mounted after the first frame

        def disabled(name: str) -> bool:
            return app.query_one(f"#setting-{name}").disabled

        assert disabled("rewind_step") and not disabled("finetune_epochs")
        assert "needs rewind" in shown(app.query_one("#note-rewind_step", Static))
        app.query_one("#setting-rewind", Switch).value = True
        await pilot.pause()
        assert not disabled("rewind_step") and disabled("finetune_epochs")
        assert "rewind retrains the full epochs" in shown(app.query_one("#note-finetune_epochs", Static))
        assert disabled("agp_interval") and disabled("structured_norm")
        app.query_one("#setting-schedule", Choice).value = "agp"
        app.query_one("#setting-criterion", Choice).value = "ln-structured"
        await pilot.pause()
        assert not disabled("agp_interval") and not disabled("structured_norm") and not disabled("finetune_epochs")
        assert disabled("rewind") and "agp prunes during training" in shown(app.query_one("#note-rewind", Static))
        config, problems = app.main_screen.form.read()
        assert (config.schedule, config.criterion, problems) == ("agp", "ln-structured", {})
