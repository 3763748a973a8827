"""The form and the schedules' settings: what rewinding, reinit, agp, ln-structured and the learning-rate schedule
make (in)applicable."""

from __future__ import annotations

from typing import cast

from textual.widgets import Input, Static, Switch

from prunetui.app.app import PruneApp
from prunetui.app.widgets.choice import Choice
from prunetui.app.widgets.experiment_form import SettingRow
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


async def test_the_multistep_settings_apply_with_it_and_every_label_fits_at_80_columns(
    tiny_config: ExperimentConfig,
) -> None:
    app = PruneApp(tiny_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # the form's later rows are mounted after the first frame
        milestones = app.query_one("#setting-lr_milestones")
        assert milestones.disabled and "multistep schedule only" in shown(app.query_one("#note-lr_milestones", Static))
        app.query_one("#setting-lr_schedule", Choice).value = "multistep"
        await pilot.pause()
        assert not milestones.disabled and "e.g. 80,120" in shown(app.query_one("#note-lr_milestones", Static))
        cast(Input, milestones).value = "80,120"
        await pilot.pause()
        config, problems = app.main_screen.form.read()
        assert (config.lr_schedule, config.lr_milestones, problems) == ("multistep", "80,120", {})
        form = app.main_screen.form
        for row in form.query(".setting").results(SettingRow):
            control = row.children[0]
            assert len(row.label) < control.region.x - row.region.x, row.label  # not cut, a space before the control
        for row in form.query(".setting"):
            assert row.region.right <= 79  # within the form's border at 80 columns
