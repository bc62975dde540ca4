"""Training-set corruptions that keep a ground-truth mask of what they changed.

Every corruption returns a :class:`Corruption`: the corrupted inputs and labels, the
clean labels, and ``mask[i] = True`` exactly for the examples it altered.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from remedy.errors import RemedyError, check
from remedy.seeds import stream


@dataclass(frozen=True)
class Corruption:
    x: Tensor
    y: Tensor
    true_y: Tensor
    mask: Tensor

    @property
    def n_corrupted(self) -> int:
        return int(self.mask.sum())


def parse_pairs(spec: str) -> list[tuple[int, int, float]]:
    """Parse ``"1-7:0.3,4-9:0.3"`` into ``[(1, 7, 0.3), (4, 9, 0.3)]`` (each direction flips with that probability)."""
    pairs = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        try:
            classes, prob = item.split(":")
            a, b = (int(c) for c in classes.split("-"))
            p = float(prob)
        except ValueError as err:
            raise RemedyError(f"--flip: expected items like '1-7:0.3', got {item!r}") from err
        check(0.0 <= p <= 1.0 and a != b, "--flip", f"two different classes and a probability in [0, 1], got {item!r}")
        pairs.append((a, b, p))
    check(bool(pairs), "--flip", "at least one pair like '1-7:0.3'")
    return pairs


def pair_matrix(pairs: list[tuple[int, int, float]], num_classes: int) -> Tensor:
    """Row-stochastic flip matrix ``P[c, c'] = p(given c' | true c)`` from symmetric class pairs."""
    matrix = torch.eye(num_classes, dtype=torch.float64)
    for a, b, p in pairs:
        check(
            0 <= a < num_classes and 0 <= b < num_classes, "--flip", f"classes in [0, {num_classes - 1}], got {a}-{b}"
        )
        for src, dst in ((a, b), (b, a)):
            matrix[src, dst] += p
            matrix[src, src] -= p
    check(bool((matrix >= -1e-12).all()), "--flip", "flip probabilities per class summing to at most 1")
    return matrix.clamp_min(0.0)


def flip_labels(x: Tensor, y: Tensor, matrix: Tensor, seed: int) -> Corruption:
    """Draw each given label from row ``matrix[y_i]`` of a confusion matrix (class-dependent label noise)."""
    k = matrix.shape[0]
    check(matrix.shape == (k, k), "matrix", f"a square [C, C] matrix, got {tuple(matrix.shape)}")
    check(
        bool(torch.allclose(matrix.sum(1), torch.ones(k, dtype=matrix.dtype), atol=1e-6)), "matrix", "rows summing to 1"
    )
    gen = stream(seed, "flip-labels")
    given = torch.multinomial(matrix[y].double(), 1, generator=gen).flatten()
    return Corruption(x, given, y, given != y)


def flip_uniform(x: Tensor, y: Tensor, rate: float, num_classes: int, seed: int) -> Corruption:
    """Flip a ``rate`` fraction of labels (chosen at random) to a different class chosen uniformly."""
    check(0.0 <= rate <= 1.0, "--flip-rate", f"a fraction in [0, 1], got {rate}")
    check(num_classes >= 2, "num_classes", "at least 2 classes")
    gen = stream(seed, "flip-uniform")
    chosen = torch.randperm(len(y), generator=gen)[: round(rate * len(y))]
    offset = torch.randint(1, num_classes, (len(chosen),), generator=gen)
    given = y.clone()
    given[chosen] = (y[chosen] + offset) % num_classes
    return Corruption(x, given, y, given != y)


def _noisy_subset(y: Tensor, classes: list[int], fraction: float, gen: torch.Generator) -> Tensor:
    check(0.0 <= fraction <= 1.0, "fraction", f"a fraction in [0, 1], got {fraction}")
    mask = torch.zeros(len(y), dtype=torch.bool)
    for c in classes:
        members = torch.nonzero(y == c).flatten()
        mask[members[torch.randperm(len(members), generator=gen)[: round(fraction * len(members))]]] = True
    return mask


def salt_and_pepper(x: Tensor, y: Tensor, classes: list[int], fraction: float, amount: float, seed: int) -> Corruption:
    """Set a random ``amount`` of the pixels of ``fraction`` of each chosen class's images to 0 or 1 (Tanno §4.1)."""
    check(0.0 < amount <= 1.0, "amount", f"a fraction in (0, 1], got {amount}")
    gen = stream(seed, "salt-and-pepper")
    mask = _noisy_subset(y, classes, fraction, gen)
    noisy = x.clone()
    picked = noisy[mask]
    hit = torch.rand(picked.shape, generator=gen) < amount
    salt = torch.rand(picked.shape, generator=gen) < 0.5
    noisy[mask] = torch.where(hit, salt.to(x.dtype), picked)
    return Corruption(noisy, y, y, mask)


def gaussian_noise(x: Tensor, y: Tensor, classes: list[int], fraction: float, std: float, seed: int) -> Corruption:
    """Add N(0, std²) noise to ``fraction`` of each chosen class's inputs."""
    check(std > 0.0, "std", f"a positive standard deviation, got {std}")
    gen = stream(seed, "gaussian-noise")
    mask = _noisy_subset(y, classes, fraction, gen)
    noisy = x.clone()
    noisy[mask] = noisy[mask] + std * torch.randn(noisy[mask].shape, generator=gen)
    return Corruption(noisy, y, y, mask)
