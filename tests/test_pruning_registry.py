"""A criterion registered in one place is a --criterion choice, an option of the app's form and something a run
prunes by: nothing else names it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from torch import Tensor, nn

from prunetui.app.app import PruneApp
from prunetui.app.widgets.choice import Choice
from prunetui.cli.main import main
from prunetui.engine import ExperimentConfig
from prunetui.engine.analyses import sensitivity_criteria
from prunetui.engine.core.metrics import weight_layers
from prunetui.engine.pruning.criterion import Batches, Criterion, Layers, Scores
from prunetui.engine.pruning.registry import CRITERIA
from prunetui.engine.storage.export import load_model
from tests.analysis_helpers import tiny_flags


class Largest(Criterion):
    """The opposite of l1: the weights of largest magnitude go."""

    name = "largest"

    def scores(self, model: nn.Module, layers: Layers, batches: Batches) -> Scores:
        return {name: 1 / (module.weight.detach().abs() + 1e-12) for name, module in layers}


@pytest.fixture
def largest() -> Iterator[None]:
    CRITERIA["largest"] = Largest()
    try:
        yield
    finally:
        del CRITERIA["largest"]


def test_a_registered_criterion_is_a_cli_choice_and_prunes_a_run(
    largest: None, tiny_config: ExperimentConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "{l1,random,taylor,ln-structured,largest}" in capsys.readouterr().out
    out = tmp_path / "run"
    flags = ["--criterion", "largest", "--sparsity", "0.5", "--epochs", "1", "--finetune-epochs", "0"]
    assert main(["run", *tiny_flags(tiny_config), *flags, "--out", str(out)]) == 0
    assert ExperimentConfig.load(out / "config.toml").criterion == "largest"
    dense, pruned = dict(weight_layers(load_model(out / "dense.pt"))), weight_layers(load_model(out / "model.pt"))
    for name, module in pruned:
        before: Tensor = dense[name].weight.detach().abs()
        gone = module.weight == 0
        assert int(gone.sum()) == round(0.5 * gone.numel()), name
        assert before[gone].min() >= before[~gone].max(), name  # the largest went, every one of them


async def test_a_registered_criterion_is_an_option_of_the_form_and_of_sensitivity(
    largest: None, tiny_config: ExperimentConfig
) -> None:
    assert sensitivity_criteria() == ["l1", "random", "ln-structured", "largest"]  # it needs no batches
    app = PruneApp(tiny_config)
    async with app.run_test(size=(140, 44)) as pilot:
        app.query_one("#setting-criterion", Choice).value = "largest"  # a Choice refuses a value not among its options
        await pilot.pause()
        config, problems = app.main_screen.form.read()
        assert (config.criterion, problems) == ("largest", {})
