"""Loss-based metrics: the mean loss (of a dataset or a slice), per-example losses, and the error rate."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.curvature import per_example_grads
from remedy.errors import check
from remedy.examples import Examples
from remedy.metrics.base import DataMetric, Where
from remedy.task import LossFn, cross_entropy


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
    """Exact: the error rate (1 − accuracy). Smooth: ``1 − mean p(y | x, θ)`` (the expected error), or with a
    ``temperature`` τ, ``mean σ(−margin/τ)`` with margin = logit_y − max_{c≠y} logit_c: a soft count of the
    errors that does not move when the model only grows more or less confident far from its decision boundary."""

    name = "error"

    def __init__(self, data: Examples | tuple[Tensor, Tensor], where: Where = None, temperature: float | None = None):
        check(temperature is None or temperature > 0, "temperature", f"a positive temperature, got {temperature}")
        super().__init__(data, where)
        self.temperature = temperature

    def smooth(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.temperature is None:
            return 1 - torch.softmax(logits, -1).gather(1, y[:, None]).mean()
        own = logits.gather(1, y[:, None])[:, 0]
        rival = logits.scatter(1, y[:, None], float("-inf")).max(1).values
        return torch.sigmoid((rival - own) / self.temperature).mean()

    def exact(self, logits: Tensor, y: Tensor) -> Tensor:
        return (logits.argmax(-1) != y).double().mean()
