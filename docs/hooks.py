"""MkDocs hooks: the option reference is made at each build from the code, so it cannot drift from `--help`; the
screenshots are served from the checkout's screenshots/ (where the screenshot script writes them), not copied."""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from prunetui.cli.reference import options_page

REFERENCE = "reference/options.md"
SCREENSHOTS = "screenshots"
# The pages link to the screenshots as ../screenshots/…, which is where they are in the checkout (so the pages
# show them on GitHub too); in the site they sit at the top of it, beside the pages.
IN_CHECKOUT = f"](../{SCREENSHOTS}/"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, REFERENCE, content=options_page()))
    root = Path(config.config_file_path).parent
    for picture in sorted((root / SCREENSHOTS).glob("*.svg")):
        files.append(File(f"{SCREENSHOTS}/{picture.name}", str(root), config.site_dir, config.use_directory_urls))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if "/" in page.file.src_uri:  # every page that shows a screenshot is at the top of docs/
        return markdown
    return markdown.replace(IN_CHECKOUT, f"]({SCREENSHOTS}/")
