"""Make the embedded `fashion-mnist-mini` data set from the full Fashion-MNIST.

    python scripts/make_fashion_mnist_mini.py [SOURCE_DIR]   (default /usr/share/datasets/fashion-mnist)

Takes the first 1,000 training and 200 test images of each of the 10 classes, in the files' own order (which
is already shuffled), and writes them gzipped (reproducibly: no time stamp) as IDX files into the package,
with Fashion-MNIST's licence notice.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import torch

from prunetui.engine.core.data.idx import encode_idx, read_idx
from prunetui.engine.core.data.sources import EMBEDDED_DIR, SYSTEM_DATA_DIR, find_idx_files

PER_CLASS = {"train": 1000, "t10k": 200}


def balanced_subset(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Indices of the first `per_class` images of every class, in their original order."""
    chosen = [torch.nonzero(labels == label).flatten()[:per_class] for label in labels.unique()]
    return torch.cat(chosen).sort().values


def main(source: Path) -> None:
    found = find_idx_files(source)
    if found is None:
        sys.exit(f"the four Fashion-MNIST IDX files are not in {source}")
    images_and_labels = iter(found.files)
    for split, per_class in PER_CLASS.items():
        images, labels = read_idx(next(images_and_labels), "images"), read_idx(next(images_and_labels), "labels")
        keep = balanced_subset(labels, per_class)
        for kind, values in (("images-idx3", images[keep]), ("labels-idx1", labels[keep])):
            path = EMBEDDED_DIR / f"{split}-{kind}-ubyte.gz"
            path.write_bytes(gzip.compress(encode_idx(values), compresslevel=9, mtime=0))
            print(f"{path}: {len(keep):,} {kind.split('-')[0]}, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SYSTEM_DATA_DIR / "fashion-mnist")
