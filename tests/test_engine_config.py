"""The config schema: validation messages that name the flag, TOML loading and round trips."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from prunetui.engine import ConfigError, ExperimentConfig
from prunetui.engine.core.config import (
    MODEL_LAYERS,
    format_layer_amounts,
    parse_layer_amounts,
    setting_type,
    toml_key,
)
from prunetui.engine.pruning.budget import capped_zeros

NON_DEFAULT = ExperimentConfig(
    model="lenet300",
    weights="/some/trained.pt",
    exclude_layers="fc1",
    output_layer="fc3",
    dataset="kmnist",
    data_dir="/some/where",
    image_size=32,
    augment="crop-flip",
    precision="bf16",
    data_path="stream",
    criterion="taylor",
    scope="global",
    schedule="agp",
    sparsity=0.75,
    rounds=7,
    epochs=5,
    finetune_epochs=0,
    rewind=True,
    rewind_step=100,
    reinit=True,
    agp_initial_sparsity=0.1,
    agp_start_step=10,
    agp_interval=50,
    structured_norm="l1",
    structured_importance="taylor",
    max_layer_sparsity=0.9,
    keep_output=True,
    optimizer="adam",
    momentum=0.5,
    nesterov=True,
    lr=0.001,
    weight_decay=5e-4,
    decay_norm_bias=False,
    label_smoothing=0.1,
    lr_schedule="step",
    lr_step_epochs=2,
    lr_gamma=0.5,
    lr_milestones="2,4",
    finetune_lr_milestones="1",
    finetune_lr=0.0005,
    init="kaiming-normal",
    batch_size=32,
    seed=42,
    device="cpu",
    train_subset=1000,
    validation_split=0.2,
)
# Per-layer targets go with layer scope only, so they get a config of their own.
# and a network of the user's own, whose layers are checked once built.
NON_DEFAULT_LAYERS = NON_DEFAULT.replace(
    scope="layer", layer_sparsity="fc1=0.95,fc2=0.5", model="nets/small.py:build", model_args='{"width": 8}'
)
CONFIGS = [ExperimentConfig(), NON_DEFAULT, NON_DEFAULT_LAYERS]
CONFIG_IDS = ["default", "non-default", "non-default-layers"]


def test_every_field_differs_from_the_default_in_a_non_default_config() -> None:
    # Guards the round-trip test below: a field left at its default would not be exercised.
    default = ExperimentConfig()
    assert [
        f.name
        for f in ExperimentConfig.fields()
        if getattr(default, f.name) == getattr(NON_DEFAULT, f.name) == getattr(NON_DEFAULT_LAYERS, f.name)
    ] == []


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_valid_configs_have_no_problems(config: ExperimentConfig) -> None:
    assert config.problems() == {}
    assert config.validate() is config


@pytest.mark.parametrize(
    ("changes", "flag", "words"),
    [
        ({"sparsity": 1.0}, "--sparsity", "[0, 1)"),
        ({"sparsity": -0.1}, "--sparsity", "[0, 1)"),
        ({"sparsity": float("nan")}, "--sparsity", "[0, 1)"),
        ({"epochs": -1}, "--epochs", "between 0 and 1,000"),
        ({"epochs": 1001}, "--epochs", "between 0 and 1,000"),
        ({"finetune_epochs": -1}, "--finetune-epochs", "between 0 and 1,000"),
        ({"rounds": 0}, "--rounds", "between 1 and 100"),
        ({"rounds": 99999999999999999999}, "--rounds", "between 1 and 100"),
        ({"max_layer_sparsity": 0.0}, "--max-layer-sparsity", "(0, 1]"),
        ({"lr": 0.0}, "--lr", "(0, 10]"),
        ({"batch_size": 0}, "--batch-size", "between 1 and 65,536"),
        ({"seed": -1}, "--seed", "between 0 and 9,223,372,036,854,775,807"),
        ({"seed": 2**63}, "--seed", "between 0 and 9,223,372,036,854,775,807"),
        ({"train_subset": -5}, "--train-subset", "between 0 and 10,000,000"),
        ({"validation_split": 0.6}, "--validation-split", "in [0, 0.5]"),
        ({"lr": float("inf")}, "--lr", "(0, 10]"),
        ({"weight_decay": -1e-4}, "--weight-decay", "[0, 1]"),
        ({"lr_schedule": "linear"}, "--lr-schedule", "constant, step, multistep, cosine"),
        ({"lr_step_epochs": 0}, "--lr-step-epochs", "between 1 and 1,000"),
        ({"lr_gamma": 0.0}, "--lr-gamma", "(0, 1]"),
        ({"lr_schedule": "multistep"}, "--lr-milestones", "e.g. 80,120"),
        ({"lr_milestones": "80,x"}, "--lr-milestones", "'x' is not an epoch"),
        ({"finetune_lr_milestones": "60,60"}, "--finetune-lr-milestones", "rising order"),
        ({"finetune_lr": 11.0}, "--finetune-lr", "[0, 10]"),
        ({"init": "orthogonal"}, "--init", "default, kaiming-normal, xavier-normal"),
        ({"model": "resnet"}, "--model", "lenet5, lenet300"),
        ({"criterion": "l2"}, "--criterion", "l1, random, taylor, ln-structured"),
        ({"device": "tpu"}, "--device", "auto, cpu, cuda, mps"),
        ({"epochs": "3"}, "--epochs", "whole number, got '3'"),
        ({"epochs": True}, "--epochs", "whole number, got True"),
        ({"epochs": 2.5}, "--epochs", "whole number, got 2.5"),
        ({"sparsity": True}, "--sparsity", "a number, got True"),
        ({"sparsity": "0.5"}, "--sparsity", "a number, got '0.5'"),
        ({"rewind": 1}, "--rewind", "true or false, got 1"),
        ({"model": 5}, "--model", "text, got 5"),
        ({"scope": "global", "criterion": "ln-structured"}, "--scope", "ln-structured"),
        ({"schedule": "agp", "epochs": 0}, "--epochs", "agp"),
        ({"rewind": True, "epochs": 0}, "--epochs", "rewind trains --epochs again after each prune"),
        ({"reinit": True, "epochs": 0}, "--epochs", "reinit trains --epochs again"),
        ({"rewind_step": -1}, "--rewind-step", "between 0 and 1,000,000,000"),
        ({"agp_interval": 1.5}, "--agp-interval", "whole number"),
        ({"structured_norm": "l3"}, "--structured-norm", "one of l1, l2; got 'l3'"),
        ({"structured_importance": "hessian"}, "--structured-importance", "one of magnitude, taylor, random"),
        ({"schedule": "agp", "agp_initial_sparsity": 0.95}, "--agp-initial-sparsity", "above the target sparsity 0.9"),
        (
            {"schedule": "agp", "agp_initial_sparsity": 0.3, "layer_sparsity": "conv1=0.2"},
            "--agp-initial-sparsity",
            "above the target sparsity 0.2",
        ),
        ({"layer_sparsity": "conv1"}, "--layer-sparsity", "'conv1' is not layer=fraction"),
        ({"layer_sparsity": "conv1=half"}, "--layer-sparsity", "'conv1=half' is not layer=fraction"),
        ({"layer_sparsity": "=0.5"}, "--layer-sparsity", "'=0.5' is not layer=fraction"),
        ({"layer_sparsity": "conv1=1"}, "--layer-sparsity", "conv1: 1 is not in [0, 1)"),
        ({"layer_sparsity": "fc1=0.5,fc1=0.6"}, "--layer-sparsity", "fc1 is named twice"),
        (
            {"layer_sparsity": "conv9=0.5"},
            "--layer-sparsity",
            "conv9 matches no layer this run prunes; those are conv1,",
        ),
        ({"layer_sparsity": "conv1=0.5", "model": "lenet300"}, "--layer-sparsity", "those are fc1, fc2, fc3"),
        ({"layer_sparsity": "fc3=0.5", "keep_output": True}, "--layer-sparsity", "fc3 matches no layer this run"),
        ({"layer_sparsity": "fc3=0.5", "criterion": "ln-structured"}, "--layer-sparsity", "fc3 matches no layer"),
        ({"layer_sparsity": "conv*=0.5,fc?=0.2", "scope": "global"}, "--layer-sparsity", "need layer scope"),
        ({"layer_sparsity": "layer3.*=0.8"}, "--layer-sparsity", "layer3.* matches no layer this run prunes"),
        ({"model": "nets.py:"}, "--model", "write package.module:factory or path/to/file.py:factory"),
        ({"model": "torchvision:vit_b_16"}, "--model", "is a transformer"),
        ({"model_args": "{width: 3}"}, "--model-args", "is not JSON"),
        ({"model_args": "[1]"}, "--model-args", "is not a JSON object"),
        ({"model_args": '{"width": 3}'}, "--model-args", "lenet5 takes none"),
        ({"exclude_layers": "conv9"}, "--exclude-layers", "conv9 matches no layer; the layers are conv1, conv2"),
        ({"output_layer": "fc9"}, "--output-layer", "fc9 is not a layer of lenet5"),
        ({"layer_sparsity": "fc1=0.5", "scope": "global"}, "--layer-sparsity", "need layer scope"),
    ],
)
def test_invalid_settings_are_rejected_naming_the_flag(changes: dict[str, Any], flag: str, words: str) -> None:
    config = ExperimentConfig().replace(**changes)
    with pytest.raises(ConfigError) as error:
        config.validate()
    message = str(error.value)
    assert message.startswith(f"invalid {flag}: ")
    assert words in message


def test_experiment_validates_its_config_before_doing_anything() -> None:
    from prunetui.engine import Experiment

    with pytest.raises(ConfigError, match="--sparsity"):
        Experiment(ExperimentConfig(sparsity=1.0))


def test_problems_lists_every_invalid_setting() -> None:
    config = ExperimentConfig(sparsity=2.0, epochs=-1, lr=0.0)
    assert set(config.problems()) == {"sparsity", "epochs", "lr"}


def test_ints_are_accepted_where_numbers_are_expected() -> None:
    assert ExperimentConfig(lr=1, sparsity=0).problems() == {}


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_toml_round_trip_gives_the_same_config(config: ExperimentConfig, tmp_path: Path) -> None:
    path = tmp_path / "experiment.toml"
    path.write_text(config.to_toml())
    assert ExperimentConfig.load(path) == config


def test_toml_uses_the_flag_spelling_and_from_mapping_accepts_both() -> None:
    assert "finetune-epochs = 0" in NON_DEFAULT.to_toml().splitlines()
    dashed = ExperimentConfig.from_mapping({"finetune-epochs": 4, "max-layer-sparsity": 0.5})
    underscored = ExperimentConfig.from_mapping({"finetune_epochs": 4, "max_layer_sparsity": 0.5})
    assert dashed == underscored == ExperimentConfig(finetune_epochs=4, max_layer_sparsity=0.5)


def test_an_unknown_key_is_answered_in_the_files_own_spelling() -> None:
    with pytest.raises(ConfigError) as error:
        ExperimentConfig.from_mapping({"batch_size": 64, "finetune_epoch": 2})
    assert str(error.value) == "unknown setting 'finetune_epoch'; did you mean finetune-epochs?"  # not all 50
    known = ", ".join(toml_key(f.name) for f in sorted(ExperimentConfig.fields(), key=lambda f: f.name))
    with pytest.raises(ConfigError) as error:  # nothing close: no guess, and every setting it could be
        ExperimentConfig.from_mapping({"colour": "red"})
    assert str(error.value) == f"unknown setting 'colour'; known settings: {known}"
    assert "batch-size, " in known and "_" not in known


def test_from_mapping_starts_from_the_base_config() -> None:
    assert ExperimentConfig.from_mapping({"seed": 3}, base=NON_DEFAULT) == NON_DEFAULT.replace(seed=3)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('model = "lenet5"\nlearning-rate = 0.1\n', "unknown setting 'learning-rate'"),
        ("[training]\nepochs = 3\n", "unknown setting 'training'"),
        ("epochs = = 3\n", "cannot read config file"),
        ("epochs = 3\nepochs = 4\n", "cannot read config file"),
        ("\xff\xfe", "cannot read config file"),
    ],
    ids=["unknown-key", "unknown-table", "bad-syntax", "duplicate-key", "not-utf8"],
)
def test_load_rejects_malformed_or_unknown_toml(text: str, words: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError, match="^" + words) as error:
        ExperimentConfig.load(path)
    assert error.value.__context__ is None or error.value.__suppress_context__  # the message only, no chained traceback
    if "unknown" in words:  # learning-rate is close to none of them, training neither
        assert "known settings: " in str(error.value) and "sparsity" in str(error.value)
    else:
        assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["missing.toml", ""], ids=["missing-file", "directory"])
def test_load_reports_a_missing_or_unreadable_path(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file") as error:
        ExperimentConfig.load(tmp_path / name)
    assert str(tmp_path / name) in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('epochs = "3"\n', r"^invalid --epochs: must be a whole number, got '3'$"),
        # a huge number is refused, not run (it would hang building its rounds)
        ("schedule = 'iterative'\nrounds = 99999999999999999999\n", r"^invalid --rounds: must be between 1 and 100$"),
    ],
)
def test_loaded_values_of_the_wrong_type_or_out_of_range_fail_validation_naming_the_flag(
    text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "loaded.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.load(path).validate()


def test_the_schema_says_which_settings_apply_and_what_they_are_to_the_analyses() -> None:
    names = [f.name for f in ExperimentConfig.fields()]

    def not_applicable(config: ExperimentConfig) -> dict[str, str]:
        return {name: why for name in names if (why := config.not_applicable(name)) is not None}

    agp_only = dict.fromkeys(("agp_initial_sparsity", "agp_start_step", "agp_interval"), "agp only")
    no_decay = {"decay_norm_bias": "no --weight-decay"}
    no_resize = {"image_size": "image folders only; fashion-mnist-mini's images keep their size"}
    assert not_applicable(ExperimentConfig()) == {
        **no_decay,
        **no_resize,
        "rounds": "one-shot prunes once",
        "rewind_step": "needs --rewind",
        **agp_only,
        "structured_norm": "ln-structured only",
        "structured_importance": "ln-structured only",
        "max_layer_sparsity": "global scope only",
        "lr_step_epochs": "step schedule only",
        "lr_gamma": "step and multistep schedules only",
        "lr_milestones": "multistep schedule only",
        "finetune_lr_milestones": "multistep schedule only",
    }
    on_agp = dict.fromkeys(("rewind", "rewind_step", "reinit"), "agp prunes during training")
    assert not_applicable(ExperimentConfig(scope="global", schedule="agp", rewind=True, lr_schedule="step")) == {
        **no_decay,
        **no_resize,
        **on_agp,
        "structured_norm": "ln-structured only",
        "structured_importance": "ln-structured only",
        "layer_sparsity": "layer scope only",
        "lr_milestones": "multistep schedule only",
        "finetune_lr_milestones": "multistep schedule only",
    }
    assert not_applicable(ExperimentConfig(lr_schedule="step", finetune_epochs=0, schedule="agp")) == {
        **no_decay,
        **no_resize,
        **on_agp,
        "structured_norm": "ln-structured only",
        "structured_importance": "ln-structured only",
        "finetune_lr": "no fine-tuning",
        "finetune_lr_milestones": "no fine-tuning",
        "max_layer_sparsity": "global scope only",
        "lr_milestones": "multistep schedule only",
    }
    assert "finetune_lr" not in not_applicable(ExperimentConfig(finetune_epochs=0, rewind=True))  # it retrains
    assert not_applicable(
        ExperimentConfig(criterion="ln-structured", schedule="iterative", rewind=True, lr_schedule="step")
    ) == {
        **no_decay,
        **no_resize,
        "finetune_epochs": "rewind retrains the full --epochs",
        **agp_only,
        "scope": "ln-structured prunes each of lenet5's layers on its own",
        "max_layer_sparsity": "global scope only",
        "lr_milestones": "multistep schedule only",
        "finetune_lr_milestones": "multistep schedule only",
    }
    assert not_applicable(ExperimentConfig(rounds=2, rewind=True, reinit=True)) == {
        **no_decay,
        **no_resize,
        "rounds": "one-shot prunes once",
        "finetune_epochs": "reinit retrains the full --epochs",
        "rewind": "reinit draws fresh weights instead",
        "rewind_step": "reinit draws fresh weights",
        **agp_only,
        "structured_norm": "ln-structured only",
        "structured_importance": "ln-structured only",
        "max_layer_sparsity": "global scope only",
        "lr_step_epochs": "step schedule only",
        "lr_gamma": "step and multistep schedules only",
        "lr_milestones": "multistep schedule only",
        "finetune_lr_milestones": "multistep schedule only",
    }
    assert "image_size" not in not_applicable(ExperimentConfig(dataset="imagefolder:pets", image_size=64))
    adamw = ExperimentConfig(optimizer="adamw", weight_decay=0.01, nesterov=True)
    sgd_only = "sgd only; adamw keeps its own running averages"
    assert not_applicable(adamw).items() >= {"momentum": sgd_only, "nesterov": sgd_only}.items()
    assert not {"momentum", "nesterov", "decay_norm_bias"} & not_applicable(adamw.replace(optimizer="sgd")).keys()
    assert ExperimentConfig.settings_with("point") == ("criterion", "scope", "schedule", "sparsity")
    assert ExperimentConfig.settings_with("place") == ("data_dir", "device")
    assert ExperimentConfig.settings_with("plan") == (
        "scope", "schedule", "sparsity", "rounds", "finetune_epochs", "rewind", "rewind_step", "reinit",
        "agp_initial_sparsity", "agp_start_step", "agp_interval", "max_layer_sparsity", "layer_sparsity", "finetune_lr",
        "finetune_lr_milestones",
    )  # fmt: skip
    runs = [
        ExperimentConfig(epochs=3, finetune_epochs=2, schedule=s, rounds=4) for s in ("one-shot", "iterative", "agp")
    ]
    assert [config.total_epochs for config in runs] == [3 + 2, 3 + 4 * 2, 3 + 2]  # agp fine-tunes once, at the end
    # Rewinding (or reinit) retrains the full 3 epochs after every round; agp prunes while training: no rewinding.
    assert [config.replace(rewind=True).total_epochs for config in runs] == [3 + 3, 3 + 4 * 3, 3 + 2]
    assert [config.replace(reinit=True).total_epochs for config in runs] == [3 + 3, 3 + 4 * 3, 3 + 2]
    assert runs[2].replace(agp_initial_sparsity=0.2).rounds_used == 5  # a first mask update, to s_i, at t0
    types = {f.name: setting_type(f) for f in ExperimentConfig.fields()}
    assert (types["model"], types["sparsity"], types["rounds"], types["rewind"]) == (str, float, int, bool)


def test_rounds_used_and_structured() -> None:
    assert ExperimentConfig(schedule="one-shot", rounds=5).rounds_used == 1
    assert ExperimentConfig(schedule="iterative", rounds=5).rounds_used == 5
    assert ExperimentConfig(criterion="ln-structured").structured
    assert not ExperimentConfig(criterion="l1").structured


def test_layer_targets_name_every_prunable_layer_with_its_own_or_the_global_target() -> None:
    config = ExperimentConfig(sparsity=0.8, layer_sparsity=" conv1 = 0.25 , fc1=0.95,")  # spaces, a trailing comma
    assert config.problems() == {}
    assert config.layer_targets() == {"conv1": 0.25, "conv2": 0.8, "fc1": 0.95, "fc2": 0.8, "fc3": 0.8}
    assert config.replace(keep_output=True).layer_targets() == {"conv1": 0.25, "conv2": 0.8, "fc1": 0.95, "fc2": 0.8}
    assert ExperimentConfig(sparsity=0.5).layer_targets() == dict.fromkeys(MODEL_LAYERS["lenet5"], 0.5)


def test_layer_amounts_format_and_parse_back() -> None:
    amounts = {"conv1": 0.3, "fc1": 0.95, "fc3": 0.0}
    assert format_layer_amounts(amounts) == "conv1=0.3,fc1=0.95,fc3=0"
    assert parse_layer_amounts(format_layer_amounts(amounts)) == amounts
    assert parse_layer_amounts("") == {}


def test_every_number_setting_has_an_interval() -> None:
    numbers = [f for f in ExperimentConfig.fields() if setting_type(f) in (int, float)]
    assert len(numbers) == 21 and [f.name for f in numbers if f.metadata["interval"] is None] == []


@pytest.mark.parametrize(
    ("changes", "reachable"),
    [
        # lenet5's weights: conv1 150, conv2 2,400, fc1 48,000, fc2 10,080, fc3 840; a 1 % cap keeps whole weights
        ({}, (1 + 24 + 480 + 100 + 8) / 61_470),
        ({"keep_output": True}, (1 + 24 + 480 + 100) / 60_630),
        ({"model": "lenet300"}, (2352 + 300 + 10) / 266_200),
    ],
)
def test_a_global_target_beyond_the_layer_cap_is_refused_naming_the_highest_reachable(
    changes: dict[str, Any], reachable: float
) -> None:
    config = ExperimentConfig(scope="global", max_layer_sparsity=0.01, sparsity=0.9, **changes)
    assert config.reachable_sparsity() == reachable
    floored = math.floor(reachable * 10_000) / 10_000
    assert config.problems() == {
        "sparsity": f"0.9 is out of reach: with --max-layer-sparsity 0.01, global scope reaches at most {floored:g}"
    }
    assert config.replace(sparsity=floored).problems() == {}


def test_the_cap_limits_only_global_scope() -> None:
    config = ExperimentConfig(scope="layer", max_layer_sparsity=0.5, sparsity=0.9, layer_sparsity="fc1=0.95")
    assert config.reachable_sparsity() == 1.0 and config.problems() == {}
    assert ExperimentConfig(scope="global", max_layer_sparsity=0.9, sparsity=0.9).problems() == {}
    assert capped_zeros(0.29, 100) == 29 and int(0.29 * 100) == 28  # the cap counts whole weights, as pruning does


def test_layer_sparsity_takes_shell_patterns_the_last_matching_one_winning() -> None:
    config = ExperimentConfig(sparsity=0.5, layer_sparsity="conv*=0.8,conv2=0.3,fc?=0.9")
    assert config.layer_targets() == {"conv1": 0.8, "conv2": 0.3, "fc1": 0.9, "fc2": 0.9, "fc3": 0.9}
    # a network built at the start of the run: its layers are handed in
    layers = ("conv1", "layer3.0.conv1", "layer3.0.conv2", "fc")
    targets = ExperimentConfig(sparsity=0.5, layer_sparsity="layer3.*=0.8", model="resnet20").layer_targets(layers)
    assert targets == {"conv1": 0.5, "layer3.0.conv1": 0.8, "layer3.0.conv2": 0.8, "fc": 0.5}


def test_excluded_layers_and_the_output_layer_leave_the_pruned_layers() -> None:
    config = ExperimentConfig(exclude_layers="conv*", criterion="ln-structured")
    assert config.prunable_layer_names == ("fc1", "fc2")  # fc3, the output, loses no rows
    assert ExperimentConfig(model="lenet300", output_layer="fc2", keep_output=True).prunable_layer_names == (
        "fc1",
        "fc3",
    )


def test_a_network_of_the_users_own_is_checked_for_form_without_importing_it(tmp_path: Path) -> None:
    config = ExperimentConfig(model=str(tmp_path / "missing.py") + ":build", layer_sparsity="anything.*=0.5")
    assert config.problems() == {}  # the file is read when the run builds the network, in the worker
    assert config.prunable_layer_names == () and not config.layers_known
