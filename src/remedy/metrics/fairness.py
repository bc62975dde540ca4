"""Group fairness: the gap in mean predicted probability (or loss) between two groups."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.errors import check
from remedy.examples import Examples
from remedy.metrics.base import DataMetric
from remedy.task import LossFn, cross_entropy


class FairnessGap(DataMetric):
    """``|mean_{g=1} s − mean_{g=0} s|`` with ``s`` = p(``positive`` | x, θ) (``kind="probability"``: demographic
    parity) or the per-example loss (``kind="loss"``). Smooth: ``sqrt(Δ² + ε²)``; exact: the gap in the rate of
    predicting ``positive`` (or in mean loss)."""

    name = "fairness-gap"

    def __init__(
        self,
        data: Examples | tuple[Tensor, Tensor],
        groups: Tensor,
        kind: str = "probability",
        positive: int = 1,
        loss: LossFn = cross_entropy,
        eps: float = 1e-4,
    ) -> None:
        super().__init__(data)
        groups = torch.as_tensor(groups)
        check(kind in ("probability", "loss"), "kind", f"'probability' or 'loss', got {kind!r}")
        check(groups.shape == (len(self.data),), "groups", f"one group id per example of data ({len(self.data)})")
        check(bool(((groups == 0) | (groups == 1)).all()), "groups", "group ids 0 or 1")
        self.groups = groups.bool()
        check(bool(self.groups.any()) and bool((~self.groups).any()), "groups", "examples of both groups")
        self.kind, self.positive, self.loss, self.eps = kind, positive, loss, eps

    def _gap(self, s: Tensor) -> Tensor:
        g = self.groups.to(s.device)
        return s[g].mean() - s[~g].mean()

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        s = torch.softmax(logits, -1)[:, self.positive] if self.kind == "probability" else self.loss(logits, y)
        return torch.sqrt(self._gap(s) ** 2 + self.eps**2)

    def exact(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.kind == "probability":
            return self._gap((logits.argmax(-1) == self.positive).double()).abs()
        return self._gap(self.loss(logits, y)).abs()
