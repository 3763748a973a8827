"""Downloads through torchvision's mirrors and checksums; torchvision is imported here only (it takes seconds)."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from prunetui.engine.core.data.sources import FOLDERS
from prunetui.engine.core.errors import DataError
from prunetui.engine.core.preload import before_foreign_code


def download(name: str, raw: Path) -> None:
    """Fetch the four gzipped IDX files into `raw`. They are fetched into a folder of their own and moved into
    place only once all four arrived and match their checksums, so a failure leaves nothing behind: not even the
    folders made for them.
    DataError with the reason (every mirror tried and what it answered)."""
    before_foreign_code()  # torchvision imports torch's compiler too
    from torchvision import datasets
    from torchvision.datasets.utils import download_url

    cls = getattr(datasets, FOLDERS[name])
    staging = raw / f".download-{secrets.token_hex(4)}"
    created = [folder for folder in (raw, *raw.parents) if not folder.exists()]  # deepest first
    try:
        for filename, md5 in cls.resources:
            failures = []
            for mirror in cls.mirrors:
                try:
                    download_url(f"{mirror}{filename}", str(staging), filename, md5)
                    break
                except (OSError, RuntimeError) as error:  # URLError is an OSError; a bad checksum a RuntimeError
                    failures.append(f"{mirror}: {one_line(error)}")
            else:
                raise DataError(f"{filename} from {'; '.join(failures)}")
        for path in staging.iterdir():
            path.replace(raw / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)  # after a failure, e.g. ~/.cache/prunetui/MNIST/raw; after a success raw holds the files


def _remove_empty(folders: list[Path]) -> None:
    """Remove these folders, deepest first, as long as they are empty (another process may have filled one)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def one_line(error: BaseException) -> str:
    """An error's whole message on one line, or its type when the message is empty."""
    return " ".join(str(error).split()) or type(error).__name__
