"""Per-failure attribution: score every training example against every query failure, normalise against
gradient-norm dominance, and aggregate across failures against class-level dominance.

A pairwise scorer gives ``h(z, q)``, the harm of training example z to query failure q (larger = more
harmful), for linear influence, TracIn and representer points alike. Summed over the failures, a few
training examples with large gradients, or one class of failures, can dominate the ranking (the demo's top
images were correctly labelled 6s that fitting the x → 6 failures makes less likely). The remedies:

normalisations (of ``h(z, q)``)
    ``none``; ``unit``: divide by the training gradient's norm ‖g_z‖ (renormalised influence, Hammoudeh &
    Lowd 2022); ``theta-relative``: by ‖H⁻¹ g_z‖ and ``l-relative``: by √(g_zᵀ H⁻¹ g_z) (RelatIF, Barshan et
    al. 2020); ``cosine``: by the norms of both sides in the scorer's geometry (Hanawa et al. 2021; for TracIn
    with unit gradients this is Hammoudeh & Lowd's GAS).
aggregations (over the failures q of F_q)
    ``sum``: ``Σ_q h(z, q)``; ``mean-rank``: minus the mean over q of z's rank by ``h(·, q)`` (rank 1 = most
    harmful), as a fraction of N, so every failure counts once; ``class-max``: the largest over classes c of
    the mean of ``h(z, q)`` over the failures whose true class is c — Nguyen-Duc et al. 2023's class-based
    minimum, in the harm convention.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from remedy.errors import check
from remedy.examples import Examples

NORMALIZATIONS = ("none", "unit", "theta-relative", "l-relative", "cosine")
AGGREGATIONS = ("sum", "mean-rank", "class-max")


class Pairwise(Protocol):
    """A scorer that can score every training example against every query separately."""

    normalizations: tuple[str, ...]
    """The normalisations it supports."""

    def harm(self, queries: Examples, normalize: str, weights: Tensor | None = None) -> Tensor:
        """``[N, Q]``: ``h(z_i, q_j)`` normalised by ``normalize``; with ``weights [Q, G]``, ``[N, G]``:
        ``Σ_j w_jg h(z_i, q_j)`` (computed without forming the ``[N, Q]`` matrix)."""
        ...

    def own(self) -> Tensor:
        """``[N]``: ``h(z_i, z_i)``, every training example's harm to its own loss (self-attribution). Training on z
        lowers its own loss, so this is negative, and most negative for the examples the model had to bend most to
        fit: ``−own()`` is the self-attribution score that mislabel detection ranks by (dattri's protocol)."""
        ...


def check_choice(pairs: Pairwise, normalize: str, aggregate: str) -> None:
    """One-line errors for an unknown or unsupported normalisation or aggregation."""
    check(normalize in NORMALIZATIONS, "normalize", f"one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")
    check(
        normalize in pairs.normalizations,
        "normalize",
        f"one of {', '.join(pairs.normalizations)} for this scorer, got {normalize!r}",
    )
    check(aggregate in AGGREGATIONS, "aggregate", f"one of {', '.join(AGGREGATIONS)}, got {aggregate!r}")


def rank_fraction(values: Tensor) -> Tensor:
    """Per column, each row's rank by decreasing value as a fraction in (0, 1] (the largest gets 1/N)."""
    order = torch.argsort(values, dim=0, descending=True, stable=True)
    ranks = torch.empty_like(order)
    positions = torch.arange(1, values.shape[0] + 1, device=values.device)[:, None].expand_as(order)
    ranks.scatter_(0, order, positions)
    return ranks.double() / values.shape[0]


def attribute(
    pairs: Pairwise, queries: Examples, normalize: str = "none", aggregate: str = "sum", block: int = 256
) -> Tensor:
    """``[N]`` scores (larger = more harmful) from the pairwise harms of every training example to ``queries``,
    normalised and aggregated as the module describes. ``mean-rank`` streams the ``[N, Q]`` matrix in blocks of
    ``block`` queries; ``sum`` and ``class-max`` never form it (one weighted direction per class)."""
    check_choice(pairs, normalize, aggregate)
    q = len(queries)
    if aggregate == "sum":
        return pairs.harm(queries, normalize, torch.ones(q, 1, dtype=torch.float64))[:, 0]
    if aggregate == "class-max":
        labels = queries.y.cpu()
        members = torch.stack([labels == c for c in torch.unique(labels).tolist()], 1).double()  # [Q, classes]
        return pairs.harm(queries, normalize, members / members.sum(0)).max(1).values
    total: Tensor | None = None
    for start in range(0, q, block):
        ranks = rank_fraction(pairs.harm(queries[start : start + block], normalize).double().cpu()).sum(1)
        total = ranks if total is None else total + ranks
    assert total is not None
    return -total / q


def group_harm(pairs: Pairwise, queries: Examples, groups: list[Tensor], normalize: str = "none") -> Tensor:
    """``[N, G]``: the mean harm of every training example to each group of queries (boolean masks), e.g. one
    group per failure mode for the report's per-mode causes."""
    check_choice(pairs, normalize, "sum")
    members = torch.stack([mask.cpu() for mask in groups], 1).double()
    return pairs.harm(queries, normalize, members / members.sum(0).clamp_min(1))


def combine(columns: Tensor, aggregate: str, classes: Tensor, sizes: Tensor) -> Tensor:
    """``[N]`` scores from ``[N, G]`` scores of groups of failures (``classes [G]``: each group's true class, −1
    when mixed; ``sizes [G]``: failures per group), aggregated as :func:`attribute` aggregates single failures:
    ``sum`` weighs each group by its size, ``mean-rank`` averages the size-weighted rank fractions, ``class-max``
    takes the largest size-weighted class mean (a mixed group is a class of its own)."""
    check(aggregate in AGGREGATIONS, "aggregate", f"one of {', '.join(AGGREGATIONS)}, got {aggregate!r}")
    columns, weights = columns.double().cpu(), sizes.double().cpu()
    if aggregate == "sum":
        return columns @ weights
    if aggregate == "mean-rank":
        return -(rank_fraction(columns) @ weights) / weights.sum()
    groups = classes.cpu().clone()
    groups[groups < 0] = -1 - torch.arange(int((groups < 0).sum()))  # every mixed group alone
    per_class = [
        columns[:, groups == c] @ (weights[groups == c] / weights[groups == c].sum())
        for c in torch.unique(groups).tolist()
    ]
    return torch.stack(per_class, 1).max(1).values
