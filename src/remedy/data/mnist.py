"""The 10,000 real MNIST test digits shipped with remedy, split as in Tanno et al. (App. C)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from torch import Tensor

from remedy.data.idx import load_idx_pair

SPLIT_SEED = 20220301
"""The train/test split of the bundled digits is fixed: every run sees the same 3,000 training images."""


def bundled_mnist_path() -> Path:
    return Path(str(files("remedy.data") / "files"))


def load_mnist(path: str | Path | None = None, prefix: str = "t10k") -> tuple[Tensor, Tensor]:
    """Images ``[N, 1, 28, 28]`` scaled to [0, 1] and labels ``[N]`` from ``{prefix}-images-idx3-ubyte[.gz]``."""
    folder = Path(path) if path is not None else bundled_mnist_path()

    def find(stem: str) -> Path:
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
        return folder / f"{stem}.gz"

    x, y = load_idx_pair(find(f"{prefix}-images-idx3-ubyte"), find(f"{prefix}-labels-idx1-ubyte"))
    return x.float().div_(255.0).unsqueeze(1), y
