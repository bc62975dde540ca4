"""Causes chosen per confusion cell: confident learning's estimate of how many labels of each (given, true) cell are
wrong (Northcutt et al. 2021, through cleanlab) sets how many causes each cell gives, a scorer's order says which.

A ranking of single-example effects can take nearly every flip of one direction of a confusion and few of the other
(``docs/causes.md``, "Which flipped labels the repair needs gone"); counting per cell makes the set cover every
direction the failures point at, in proportion to its estimated errors, and gives the count with it."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from cleanlab.count import calibrate_confident_joint, compute_confident_joint
from torch import Tensor

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.identify.registry import SCORERS, base_scores
from remedy.identify.scores import Selection
from remedy.models.crossval import out_of_sample
from remedy.models.crossval import probabilities as model_probabilities
from remedy.posterior import Posterior

PROBABILITIES = ("model", "out-of-sample")


def cell_counts(labels: Tensor, probs: Tensor) -> Tensor:
    """``[K, K]`` estimated number of training examples with given label i whose true label is j (off the
    diagonal: the label errors of cell (i, j)): cleanlab's confident joint, calibrated so that row i sums to the
    number of examples labelled i, rounded."""
    y, p = labels.cpu().numpy(), probs.double().cpu().numpy()
    joint = calibrate_confident_joint(compute_confident_joint(y, p, calibrate=False), y)
    return torch.from_numpy(np.rint(joint)).long()


def suspected(labels: Tensor, probs: Tensor) -> Tensor:
    """For every example, the class it most likely belongs to if its given label is wrong: ``argmax_{j ≠ y} p_j``."""
    others = probs.double().clone()
    others[torch.arange(len(labels)), labels.cpu()] = -1.0
    return others.argmax(1)


def pointed_cells(query: QueryHalf, classes: int) -> Tensor | None:
    """``[K, K]`` mask of the cells the failures point at: a failure of true class a predicted b is pulled there by
    examples labelled b that belong to a, cell (b, a). ``None`` when the failures' predictions are unknown."""
    modes = query.modes()
    if not modes or any(p < 0 for _, p in modes):
        return None
    mask = torch.zeros(classes, classes, dtype=torch.bool)
    for true, predicted in modes:
        mask[predicted, true] = True
    return mask


def per_cell_order(values: Tensor, cell: Tensor, counts: dict[int, int]) -> tuple[Tensor, int]:
    """The order of a set built per cell: in each cell c (``cell[i]`` = c, −1 for none) its ``counts[c]`` examples
    of largest ``values``, interleaved so that every prefix holds each cell in proportion to its count (priority
    ``(rank + ½) / count``, smaller first; ties by value); then every other example by ``values``. Returns the order
    and the size of the set."""
    chosen, keys = [], []
    for c, k in counts.items():
        members = torch.nonzero(cell == c).flatten()
        if k < 1 or len(members) == 0:
            continue
        top = members[torch.argsort(values[members], descending=True, stable=True)[:k]]
        chosen.append(top)
        keys.append((torch.arange(len(top), dtype=torch.float64) + 0.5) / k)
    if not chosen:
        return torch.argsort(values, descending=True, stable=True), 0
    members, key = torch.cat(chosen), torch.cat(keys)
    first = members[np.lexsort((-values[members].numpy(), key.numpy()))]
    rest = torch.ones(len(values), dtype=torch.bool)
    rest[first] = False
    others = torch.nonzero(rest).flatten()
    others = others[torch.argsort(values[others], descending=True, stable=True)]
    return torch.cat([first, others]), len(first)


@SCORERS.register("cells", wraps=True)
def cells(
    posterior: Posterior,
    query: QueryHalf,
    *,
    base: str = "trak",
    probabilities: str = "model",
    within: str = "failures",
    folds: int = 5,
    seed: int = 0,
    inverse: InverseSettings = DEFAULT_INVERSE,
    metric: str = "loss",
) -> Selection:
    """Selection priorities, larger = chosen earlier (a cause more harmful as a member of the set), and the count.

    1. Probabilities ``p(z)`` of every training example: θ̂'s own (``probabilities="model"``, free; right when
       θ̂ does not fit its wrong labels) or K-fold out-of-sample (``"out-of-sample"``, ``folds`` trainings, shared
       with the ``cleanlab`` scorer).
    2. ``n_ij``: cleanlab's calibrated confident joint, the estimated number of examples labelled i that belong to j.
    3. Each example labelled i goes to cell (i, j*), ``j* = argmax_{j≠i} p_j``.
    4. The cells taken: those the failures point at (``within="failures"``: a failure a → b points at cell (b, a)),
       or every cell (``"all"``).
    5. From each, the ``n_ij`` examples the ``base`` scorer calls most harmful (larger = more harmful), interleaved
       across cells in proportion to ``n_ij``; then everything else in the base scorer's order.

    The estimated count is ``Σ n_ij`` over the cells taken. Costs the base scorer, plus the trainings of
    ``out-of-sample``."""
    check(probabilities in PROBABILITIES, "probabilities", f"one of {', '.join(PROBABILITIES)}")
    check(within in ("failures", "all"), "within", f"'failures' or 'all', got {within!r}")
    shared: dict[str, Any] = {"seed": seed, "inverse": inverse, "metric": metric}
    values = base_scores(posterior, query, base, shared)
    probs = (
        model_probabilities(posterior.model, posterior.train)
        if probabilities == "model"
        else out_of_sample(posterior, folds, seed)
    )
    labels = posterior.train.labels.cpu()
    k = probs.shape[1]
    counts = cell_counts(labels, probs)
    taken = ~torch.eye(k, dtype=torch.bool)
    pointed = pointed_cells(query, k) if within == "failures" else None
    if pointed is not None:
        taken &= pointed
    cell = labels * k + suspected(labels, probs)
    wanted = {int(i * k + j): int(counts[i, j]) for i, j in torch.nonzero(taken).tolist() if counts[i, j] > 0}
    order, count = per_cell_order(values, cell, wanted)
    priority = torch.empty(len(values), dtype=torch.float64)
    priority[order] = torch.arange(len(values), 0, -1, dtype=torch.float64)
    details = {
        "base": base,
        "cells": {f"{c // k} → {c % k}": n for c, n in sorted(wanted.items(), key=lambda item: -item[1])},
        "estimated_errors": int(counts.sum() - counts.diagonal().sum()),
    }
    return Selection(priority, count, details)
