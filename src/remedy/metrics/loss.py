"""Loss-based metrics: the mean loss (of a dataset or a slice), per-example losses, and the error rate."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.curvature import per_example_grads
from remedy.metrics.base import DataMetric, Where
from remedy.task import Examples, LossFn, cross_entropy


class Loss(DataMetric):
    """``M = mean loss(f(θ, x), y)`` over ``data`` (or the slice ``where``): the training objective's own
    criterion, and with ``data`` = the failures F_q, the quantity linear influence (Tanno eq. 9) explains."""

    name = "loss"

    def __init__(self, data: Examples | tuple[Tensor, Tensor], where: Where = None, loss: LossFn = cross_entropy):
        super().__init__(data, where)
        self.loss = loss

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        return self.loss(logits, y).mean()


class PerExampleLoss(Loss):
    """``M = [loss(z_1), …, loss(z_m)]`` over a reference set: the behaviour to keep, one entry per example."""

    name = "per-example-loss"

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        return self.loss(logits, y)

    def jacobian(self, model: nn.Module) -> Tensor:
        """Per-example gradients (``vmap`` over ``grad``), cheaper than a reverse-mode Jacobian."""
        device = next(model.parameters()).device
        return torch.cat([g for _, g in per_example_grads(model, self.loss, self.data.to(device))])


class Error(DataMetric):
    """Smooth: ``1 − mean p(y | x, θ)`` (the expected error); exact: the error rate (1 − accuracy)."""

    name = "error"

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        return 1 - torch.softmax(logits, -1).gather(1, y[:, None]).mean()

    def exact(self, logits: Tensor, y: Tensor) -> Tensor:
        return (logits.argmax(-1) != y).double().mean()
