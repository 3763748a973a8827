"""The IDX format of MNIST-like data sets, read (plain or gzipped) into tensors and written back.

IDX: two zero bytes, a type byte (0x08: unsigned bytes), the number of dimensions, each dimension as a
big-endian 32-bit count, then the values. Images are N x 28 x 28, labels N.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import torch
from torch import Tensor

from prunetui.engine.core.errors import DataError

UBYTE = 0x08
IMAGE_SHAPE = (28, 28)


def read_idx(path: Path, kind: str) -> Tensor:
    """`kind` "images" (N x 28 x 28) or "labels" (N), as a uint8 tensor; DataError saying what is wrong."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:  # EOFError: a truncated .gz; zlib.error: a damaged one
        raise DataError(f"{path.name} cannot be read: {error}") from None
    return _parse(data, path.name, kind)


def _parse(data: bytes, name: str, kind: str) -> Tensor:
    ndim = 3 if kind == "images" else 1
    if len(data) < 4 or data[:3] != bytes((0, 0, UBYTE)) or data[3] != ndim:
        raise DataError(f"{name} is not an IDX {kind[:-1]} file")
    end = 4 + 4 * ndim
    if len(data) < end:
        raise DataError(f"{name} is truncated in its header")
    shape = struct.unpack(f">{ndim}I", data[4:end])
    if kind == "images" and shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{name} holds {shape[1]}x{shape[2]} images, not 28x28")
    expected = end + shape[0] * (IMAGE_SHAPE[0] * IMAGE_SHAPE[1] if kind == "images" else 1)
    if len(data) != expected:
        raise DataError(f"{name} is {len(data):,} bytes long, its header says {expected:,}")
    return torch.frombuffer(bytearray(memoryview(data)[end:]), dtype=torch.uint8).reshape(shape)


def encode_idx(values: Tensor) -> bytes:
    """A uint8 tensor as IDX bytes, what `read_idx` reads."""
    header = bytes((0, 0, UBYTE, values.dim())) + struct.pack(f">{values.dim()}I", *values.shape)
    return header + values.to(torch.uint8).contiguous().numpy().tobytes()
