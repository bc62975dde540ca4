"""Expected calibration error: the binned ECE for reports and a smooth surrogate for gradients."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.errors import check
from remedy.examples import Examples
from remedy.metrics.base import DataMetric, Where


def ece(logits: Tensor, y: Tensor, bins: int = 15) -> Tensor:
    """``Σ_b |B_b|/n · |acc(B_b) − conf(B_b)|`` over ``bins`` equal-width bins of the top-class confidence."""
    conf, pred = torch.softmax(logits.double(), -1).max(-1)
    correct = (pred == y).double()
    index = torch.clamp((conf * bins).long(), max=bins - 1)
    total = torch.zeros(bins, dtype=torch.float64, device=logits.device)
    count = total.index_add(0, index, torch.ones_like(conf))
    gap = total.index_add(0, index, correct) - total.index_add(0, index, conf)
    return gap.abs().sum() / len(y) if count.sum() > 0 else total.sum()


def reliability(logits: Tensor, y: Tensor, bins: int = 15) -> dict[str, list[float]]:
    """Per-bin mean confidence, accuracy and count: the points of a reliability diagram."""
    conf, pred = torch.softmax(logits.double(), -1).max(-1)
    index = torch.clamp((conf * bins).long(), max=bins - 1)
    rows: dict[str, list[float]] = {"confidence": [], "accuracy": [], "count": []}
    for b in range(bins):
        inside = index == b
        if bool(inside.any()):
            rows["confidence"].append(float(conf[inside].mean()))
            rows["accuracy"].append(float((pred[inside] == y[inside]).double().mean()))
            rows["count"].append(int(inside.sum()))
    return rows


class ECE(DataMetric):
    """Exact: the binned ECE. Smooth: the same sum with soft bin memberships ``softmax_b(−(c − centre_b)² / τ²)``
    of the confidence c and ``|·|`` replaced by ``sqrt(· ² + ε²)``; correctness enters as a constant (its gradient
    is zero almost everywhere). It tends to the binned ECE as ``τ → 0``."""

    name = "ece"

    def __init__(
        self,
        data: Examples | tuple[Tensor, Tensor],
        where: Where = None,
        bins: int = 15,
        temperature: float | None = None,
        eps: float = 1e-4,
    ) -> None:
        check(bins >= 1, "bins", f"a positive number of bins, got {bins}")
        super().__init__(data, where)
        self.bins, self.eps = bins, eps
        self.temperature = temperature if temperature is not None else 0.5 / bins

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        probs = torch.softmax(logits, -1)
        conf, pred = probs.max(-1)
        correct = (pred == y).to(conf.dtype)
        centres = (torch.arange(self.bins, dtype=conf.dtype, device=conf.device) + 0.5) / self.bins
        weights = torch.softmax(-((conf[:, None] - centres) ** 2) / self.temperature**2, dim=1)  # [n, bins]
        gap = weights.T @ (correct - conf)  # per bin: Σ_i w_ib (correct_i − conf_i)
        return torch.sqrt(gap**2 + self.eps**2).sum() / len(y)

    def exact(self, logits: Tensor, y: Tensor) -> Tensor:
        return ece(logits, y, self.bins)
