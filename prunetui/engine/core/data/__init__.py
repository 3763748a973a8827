"""Data sets: where their files are (`sources`, torch-free), reading IDX files, a decoded cache, downloads,
and loading them as normalised tensors (`loading`, which imports torch)."""

from typing import TYPE_CHECKING

from prunetui.engine.core.data.sources import (
    EMBEDDED,
    IDX_FILES,
    NOT_AVAILABLE,
    availability,
    default_data_dir,
    download_reachable,
    embedded_misfit,
    missing_text,
    places_looked,
)

if TYPE_CHECKING:  # what `__getattr__` gives, for the type checker
    from prunetui.engine.core.data.loading import (
        DataSet,
        Split,
        dataset_loading,
        load_dataset,
        load_run_data,
        run_data_loading,
    )

__all__ = [
    "EMBEDDED",
    "IDX_FILES",
    "NOT_AVAILABLE",
    "DataSet",
    "Split",
    "availability",
    "dataset_loading",
    "default_data_dir",
    "download_reachable",
    "embedded_misfit",
    "load_dataset",
    "load_run_data",
    "missing_text",
    "places_looked",
    "run_data_loading",
]


def __getattr__(name: str) -> object:
    # The loaders import torch; the form asks `availability` before torch is loaded.
    if name in ("DataSet", "Split", "dataset_loading", "load_dataset", "load_run_data", "run_data_loading"):
        from prunetui.engine.core.data import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
