"""Reader for the IDX format of the MNIST files (gzipped or not), with strict validation."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from remedy.errors import RemedyError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path, expected_ndim: int | None = None) -> Tensor:
    """Read one IDX file into a tensor.

    The header is two zero bytes, a dtype code, the number of dimensions, then one
    big-endian uint32 per dimension. Raises :class:`RemedyError` naming the file for a
    bad magic number, an unexpected rank, or a payload whose size does not match the header.
    """
    path = Path(path)
    if not path.is_file():
        raise RemedyError(f"{path}: expected an IDX file, found nothing there")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise RemedyError(f"{path}: expected a valid gzip stream ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise RemedyError(
            f"{path}: expected an IDX magic number (00 00 <dtype> <ndim>), got {raw[:4].hex() or 'nothing'}"
        )
    ndim = raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise RemedyError(f"{path}: expected an IDX file of {expected_ndim} dimensions, header says {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RemedyError(f"{path}: expected {header} header bytes, file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise RemedyError(f"{path}: expected {expected} data bytes for shape {shape}, found {len(raw) - header}")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def load_idx_pair(images: str | Path, labels: str | Path) -> tuple[Tensor, Tensor]:
    """Read an MNIST-style image file ``[N, H, W]`` and label file ``[N]``; check they agree."""
    x = read_idx(images, expected_ndim=3)
    y = read_idx(labels, expected_ndim=1)
    if x.shape[0] != y.shape[0]:
        raise RemedyError(f"{labels}: expected {x.shape[0]} labels to match {images}, found {y.shape[0]}")
    return x, y.long()
