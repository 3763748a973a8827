"""MkDocs hooks: the option reference is made at each build from the code, so it cannot drift from `--help`; the
screenshots are served from the checkout's screenshots/ (where the screenshot script writes them), not copied."""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from prunetui.cli.reference import options_page

REFERENCE = "reference/options.md"
SCREENSHOTS = "screenshots"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, REFERENCE, content=options_page()))
    root = Path(config.config_file_path).parent
    for picture in sorted((root / SCREENSHOTS).glob("*.svg")):
        files.append(File(f"{SCREENSHOTS}/{picture.name}", str(root), config.site_dir, config.use_directory_urls))
    return files
