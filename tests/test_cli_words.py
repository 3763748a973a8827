"""The command line's errors name the way out: the subcommand's help and the nearest flag, the value that works."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunetui.cli.main import main


def error_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--sparsty", "0.5"], "prunetui run: error: unrecognized arguments: --sparsty 0.5; did you mean "
         "--sparsity? (see prunetui run --help)"),
        (["sweep", "--methodz=l1"], "prunetui sweep: error: unrecognized argument: --methodz=l1; did you mean "
         "--methods? (see prunetui sweep --help)"),
        (["runs", "--xyzzy"], "prunetui runs: error: unrecognized argument: --xyzzy (see prunetui runs --help)"),
        (["rnus"], "prunetui: error: argument COMMAND: invalid choice: 'rnus' (choose from 'run', 'runs', 'sweep', "
         "'sensitivity', 'presets', 'data', 'export'); did you mean runs? (see prunetui --help)"),
    ],
)  # fmt: skip
def test_an_unknown_flag_names_the_subcommands_help_and_the_nearest_flag(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert error_of(argv, capsys) == (2, expected)


def test_ln_structured_with_global_scope_names_the_scope_that_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, error = error_of(["run", "--criterion", "ln-structured", "--scope", "global"], capsys)
    assert code == 2 and error.startswith("prunetui: error: invalid --scope: ")
    assert error.endswith(
        "ln-structured prunes lenet5's rows per layer; global scope ranks the channels of other "
        "networks (resnet20, torchvision:NAME, your file): use --scope layer"
    )


def test_agp_with_fewer_epochs_says_that_interval_0_spreads_the_updates(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--preset", "zhu-gupta-agp", "--data-dir", str(tiny_data), "--epochs", "1", "--device", "cpu"]
    assert main([*argv, "--runs-dir", str(tmp_path)]) == 2  # a setting that cannot work: bad input
    printed = capsys.readouterr().err
    assert "is not within training" in printed and "--agp-interval 0 spreads the updates over the training" in printed


@pytest.mark.parametrize(
    ("command", "second"), [([], "With no command, opens the app"), (["runs"], "--json (a list of objects)")]
)
def test_help_fills_its_paragraphs_to_80_columns(
    command: list[str], second: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    assert all(len(line) <= 80 for line in text.splitlines()), text  # no line a terminal breaks mid-word
    assert text.split("\n\n")[2].startswith(second)  # after the usage and the first: paragraphs kept apart
    if command:
        assert "non-zero" in text and "non-\n" not in text  # never broken at a hyphen
