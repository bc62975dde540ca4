"""Training-set corruptions that keep a ground-truth mask of what they changed.

Every corruption returns a :class:`Corruption`: the corrupted inputs and labels, the
clean labels, and ``mask[i] = True`` exactly for the examples it altered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

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


def salt_and_pepper(
    x: Tensor,
    y: Tensor,
    classes: list[int],
    fraction: float,
    amount: float,
    seed: int,
    low: float = 0.0,
    high: float = 1.0,
) -> Corruption:
    """Set a random ``amount`` of the pixels of ``fraction`` of each chosen class's images to ``low`` or ``high``
    (black or white; Tanno §4.1); labels are kept."""
    check(0.0 < amount <= 1.0, "amount", f"a fraction in (0, 1], got {amount}")
    gen = stream(seed, "salt-and-pepper")
    mask = _noisy_subset(y, classes, fraction, gen)
    noisy = x.clone()
    picked = noisy[mask]
    hit = torch.rand(picked.shape, generator=gen) < amount
    salt = torch.rand(picked.shape, generator=gen) < 0.5
    noisy[mask] = torch.where(hit, torch.where(salt, high, low).to(x.dtype), picked)
    return Corruption(noisy, y, y, mask)


def gaussian_noise(x: Tensor, y: Tensor, classes: list[int], fraction: float, std: float, seed: int) -> Corruption:
    """Add N(0, std²) noise to ``fraction`` of each chosen class's inputs."""
    check(std > 0.0, "std", f"a positive standard deviation, got {std}")
    gen = stream(seed, "gaussian-noise")
    mask = _noisy_subset(y, classes, fraction, gen)
    noisy = x.clone()
    noisy[mask] = noisy[mask] + std * torch.randn(noisy[mask].shape, generator=gen)
    return Corruption(noisy, y, y, mask)


def _mean_probability(models: Sequence[nn.Module], x: Tensor) -> Tensor:
    return torch.stack([torch.softmax(m(x), -1) for m in models]).mean(0)


def fgsm(
    x: Tensor,
    y: Tensor,
    victims: Sequence[nn.Module],
    epsilon: float,
    low: float | None = None,
    high: float | None = None,
    batch_size: int = 512,
) -> tuple[Tensor, Tensor]:
    """The fast gradient sign method (Goodfellow et al. 2015) against an ensemble of ``victims``: ``x' = clip(x + ε
    sign(∇_x L(x, y)), low, high)`` with L the cross-entropy of the victims' mean probability; returns ``x'`` and the
    victims' prediction on it (argmax of the mean probability)."""
    check(epsilon > 0, "epsilon", f"a positive step, got {epsilon}")
    check(len(victims) > 0, "victims", "at least one model to attack")
    adversarial, predicted = [], []
    for start in range(0, len(x), batch_size):
        part = x[start : start + batch_size].detach().clone().requires_grad_(True)
        loss = torch.nn.functional.nll_loss(
            _mean_probability(victims, part).clamp_min(1e-12).log(), y[start : start + batch_size]
        )
        (step,) = torch.autograd.grad(loss, part)
        moved = part.detach() + epsilon * step.sign()
        if low is not None or high is not None:
            moved = moved.clamp(low, high)
        with torch.no_grad():
            predicted.append(_mean_probability(victims, moved).argmax(-1))
        adversarial.append(moved)
    return torch.cat(adversarial), torch.cat(predicted)


def fgsm_poison(
    x: Tensor,
    y: Tensor,
    classes: list[int],
    fraction: float,
    epsilon: float,
    victims: Sequence[nn.Module],
    seed: int,
    low: float | None = None,
    high: float | None = None,
) -> Corruption:
    """Replace ``fraction`` of each chosen class's images by :func:`fgsm` images crafted against separately trained
    ``victims``, each labelled with the victims' prediction on it (Tanno et al. §4.1, Fig. 4c); ``mask`` marks every
    replaced image (those whose label the attack changed are ``true_y != y``)."""
    gen = stream(seed, "fgsm-poison")
    mask = _noisy_subset(y, classes, fraction, gen)
    poisoned, labels = x.clone(), y.clone()
    moved, predicted = fgsm(x[mask], y[mask], victims, epsilon, low, high)
    poisoned[mask], labels[mask] = moved.to(x.dtype), predicted.to(y.dtype)
    return Corruption(poisoned, labels, y, mask)
