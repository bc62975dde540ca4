"""Independent random streams from one user seed.

Two draws that use the same seed and the same length get the same permutation: ``flip_uniform(seed=0)``
once flipped exactly the examples that ``train_model(seed=0)`` then held out for early stopping, and
``Posterior.curvature(examples=300, seed=0)`` drew exactly those 300 held-out examples. Every random
choice in remedy therefore takes its generator from ``stream(seed, purpose)``: one stream per purpose.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator

import torch


def derive(seed: int, purpose: str) -> int:
    """The integer seed of ``purpose``'s stream: ``seed`` mixed with a stable hash of ``purpose``."""
    return (seed * 1_000_003 + zlib.crc32(purpose.encode())) % 2**63


def stream(seed: int, purpose: str) -> torch.Generator:
    """A CPU generator seeded by ``seed`` and ``purpose``: the same pair always gives the same draws."""
    return torch.Generator().manual_seed(derive(seed, purpose))


@contextlib.contextmanager
def seeded(seed: int, purpose: str) -> Iterator[None]:
    """Run a block under torch's global generator seeded by ``stream(seed, purpose)``, then restore the caller's
    state: for code that takes no generator argument, such as ``nn.Module`` initialisation."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive(seed, purpose))
        yield
