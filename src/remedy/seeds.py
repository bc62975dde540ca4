"""Independent random streams from one user seed.

Two draws that use the same seed and the same length get the same permutation: ``flip_uniform(seed=0)``
once flipped exactly the examples that ``train_model(seed=0)`` then held out for early stopping.
``stream(seed, purpose)`` gives each purpose its own generator.
"""

from __future__ import annotations

import zlib

import torch


def stream(seed: int, purpose: str) -> torch.Generator:
    """A generator seeded by ``seed`` and a stable hash of ``purpose``."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(purpose.encode())) % 2**63)
