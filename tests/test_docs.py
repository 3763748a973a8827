"""The manual's generated option reference covers every setting and flag; the README stays short and its links
resolve."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from prunetui.cli.main import build_parser
from prunetui.cli.reference import options_page
from prunetui.engine.core.config import ExperimentConfig, flag_name, toml_key

ROOT = Path(__file__).resolve().parents[1]


def _sections(page: str) -> dict[str, str]:
    """The page's `### `prunetui …`` sections by command ("" for the bare `prunetui`)."""
    parts = re.split(r"^### `prunetui ?([a-z]*)` .*$", page, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _setting_rows(page: str) -> dict[str, list[str]]:
    """The settings table's rows by flag: [flag, TOML key, default, allowed, meaning]."""
    table = page.split("## Experiment settings", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in table.splitlines() if line.startswith("| `--")]
    return {row[0].strip("` "): [cell.strip() for cell in row] for row in rows}


def test_every_setting_has_a_row_with_its_toml_key_default_choices_and_help() -> None:
    rows = _setting_rows(options_page())
    fields = ExperimentConfig.fields()
    assert [flag_name(f.name) for f in fields] == list(rows)  # each once, in the schema's order
    for f in fields:
        _, key, default, allowed, meaning = rows[flag_name(f.name)]
        assert key == f"`{toml_key(f.name)}`"
        unescaped = meaning.replace("\\|", "|").replace("&lt;", "<").replace("\\*", "*")  # the cell's Markdown escapes
        assert unescaped == " ".join(f.metadata["help"].split())
        if isinstance(f.default, bool):
            assert default == "off"
        elif f.default != "":
            assert default == f"`{f.default}`"
        for choice in f.metadata["choices"]:
            assert f"`{choice}`" in allowed
        if f.metadata["interval"]:
            assert allowed == str(f.metadata["interval"])


def test_every_flag_of_every_command_is_in_its_section() -> None:
    parser = build_parser()
    sections = _sections(options_page())
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(sections) == {"", *commands}
    settings = {f.name for f in ExperimentConfig.fields()}
    for name, command in [("", parser), *commands.items()]:
        for action in command._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if action.dest in settings:  # listed once in the settings table; the section names those it lacks
                continue
            shown = max(action.option_strings, key=len) if action.option_strings else action.metavar
            assert f"`{shown}" in sections[name], f"prunetui {name}: {shown} is missing"
        lacking = [flag_name(f) for f in settings if f not in {a.dest for a in command._actions}]
        if lacking and len(lacking) < len(settings):  # sweep and sensitivity: the settings but a few
            takes = next(line for line in sections[name].splitlines() if line.startswith("Takes the"))
            assert all(f"`{flag}`" in takes for flag in lacking)


def test_markup_in_help_is_escaped_outside_code() -> None:
    page = options_page()
    assert "/usr/share/datasets/&lt;name>" in page  # not an HTML tag that hides the word
    assert "\\*_std" in page  # not emphasis between two *_std
    assert "`prunetui run --seeds`" in page  # code spans are left alone


def test_the_manual_build_hook_adds_the_reference_and_the_screenshots(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    from mkdocs.config import load_config
    from mkdocs.structure.files import Files

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path))
    files = config.plugins.on_files(Files([]), config=config)  # the hooks of mkdocs.yml, run as a build runs them
    reference = files.get_file_from_path("reference/options.md")
    assert reference is not None and reference.content_string == options_page()
    assert files.get_file_from_path("screenshots/mid-run.svg") is not None


def test_the_manuals_screenshots_are_in_the_checkout() -> None:
    # The pages link to ../screenshots/… (right on GitHub); the build hook serves them from the same folder.
    pictures = [
        p
        for page in (ROOT / "docs").glob("*.md")
        for p in re.findall(r"\]\(\.\./(screenshots/[^)]+)\)", page.read_text())
    ]
    assert "screenshots/mid-run.svg" in pictures
    for picture in pictures:
        assert (ROOT / picture).is_file(), picture


def test_readme_fits_a_screen_keeps_the_test_command_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "python -m pytest" in readme  # .ci/run greps for it
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local  # the manual and the screenshot at least
    for link in local:
        assert (ROOT / link).exists(), link
