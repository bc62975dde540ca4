from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import torch

from remedy.data import load_idx_pair, load_mnist, read_idx
from remedy.errors import RemedyError


def idx_bytes(array: torch.Tensor) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.to(torch.uint8).numpy().tobytes()


def test_reads_plain_and_gzipped(tmp_path: Path) -> None:
    images = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8)
    labels = torch.tensor([1, 7, 9], dtype=torch.uint8)
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "lab.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    x, y = load_idx_pair(tmp_path / "img", tmp_path / "lab.gz")
    assert torch.equal(x, images) and torch.equal(y, labels.long())


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"\x00\x01", "magic number"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x01", "expected 5 data bytes"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 1), "header bytes"),
    ],
)
def test_rejects_corrupt_files(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(RemedyError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_rejects_wrong_rank_and_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(torch.zeros(4, dtype=torch.uint8)))
    with pytest.raises(RemedyError, match="3 dimensions"):
        read_idx(path, expected_ndim=3)
    broken = tmp_path / "x.gz"
    broken.write_bytes(gzip.compress(idx_bytes(torch.zeros(4, dtype=torch.uint8)))[:-6])
    with pytest.raises(RemedyError, match="gzip"):
        read_idx(broken)


def test_bundled_mnist_is_the_real_test_set() -> None:
    x, y = load_mnist()
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
