"""Detection curves: fraction of the corrupted examples found vs fraction of the training data inspected."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from remedy.errors import check


@dataclass(frozen=True)
class DetectionCurve:
    """``found[k-1]``: fraction of the corrupted examples among the first ``k`` inspected, for k = 1..N.

    ``auc`` is the mean of ``found`` over k (the area under the curve on a [0, 1] × [0, 1] grid);
    inspecting in random order gives ``(N + 1) / 2N`` in expectation, the oracle (all corrupted first)
    the largest area possible.
    """

    inspected: Tensor
    found: Tensor
    oracle: Tensor

    @property
    def auc(self) -> float:
        return float(self.found.mean())

    @property
    def random_auc(self) -> float:
        return float(self.inspected.mean())

    @property
    def oracle_auc(self) -> float:
        return float(self.oracle.mean())

    def found_at(self, fraction: float) -> float:
        """Fraction of the corrupted examples found after inspecting ``fraction`` of the training set."""
        check(0.0 < fraction <= 1.0, "fraction", f"a fraction in (0, 1], got {fraction}")
        k = max(1, round(fraction * len(self.found)))
        return float(self.found[k - 1])


def detection_curve(scores: Tensor, corrupted: Tensor) -> DetectionCurve:
    """Inspect training examples from the highest score down and count the corrupted ones found."""
    check(scores.shape == corrupted.shape and scores.ndim == 1, "corrupted", f"a mask of shape {tuple(scores.shape)}")
    corrupted = corrupted.bool().cpu()
    total = int(corrupted.sum())
    check(total > 0, "corrupted", "at least one corrupted example")
    n = len(scores)
    order = torch.argsort(scores.cpu(), descending=True, stable=True)
    k = torch.arange(1, n + 1, dtype=torch.float64)
    found = torch.cumsum(corrupted[order].double(), 0) / total
    return DetectionCurve(k / n, found, torch.clamp(k / total, max=1.0))
