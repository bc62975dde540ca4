"""The two ways a ground truth is trained: to a tolerance (L-BFGS), or by a fixed training recipe (gradient descent
for a set number of steps, as a network is trained in practice, usually short of an optimum)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from remedy.errors import check
from remedy.examples import Examples
from remedy.task import LossFn

Objective = Callable[[Tensor], Tensor]
"""A scalar function of a flat parameter vector."""

Trainer = Callable[[Objective, Tensor], Tensor]
"""``trainer(objective, start) -> θ``: how a model is (re)trained on an objective from a starting point."""


def penalised_loss(
    f: Callable[[Tensor, Tensor], Tensor], data: Examples, loss: LossFn, weights: Tensor, weight_decay: float
) -> Objective:
    """``θ ↦ Σ_i weights_i · loss(f(θ, x_i), y_i) + weight_decay/2 ‖θ‖²``: the training objective J with
    per-example weights (1/N each for the mean; 0 for a removed example)."""
    return lambda theta: loss(f(theta, data.x), data.y) @ weights + 0.5 * weight_decay * theta.square().sum()


def minimise(objective: Objective, start: Tensor, tol: float = 1e-9, max_iter: int = 2000) -> Tensor:
    """argmin of ``objective`` from ``start`` by full-batch L-BFGS with a strong-Wolfe search, to ``tol`` on the
    largest gradient entry."""
    theta = start.detach().clone().requires_grad_(True)
    optimiser = torch.optim.LBFGS(
        [theta],
        lr=1,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=0,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimiser.zero_grad()
        value = objective(theta)
        value.backward()
        return value

    optimiser.step(closure)
    return theta.detach()


@dataclass(frozen=True)
class GradientDescent:
    """Full-batch gradient descent with heavy-ball momentum for ``steps`` steps: deterministic, so retraining with
    one example removed differs from the original run only through that example."""

    steps: int
    lr: float = 0.2
    momentum: float = 0.9

    def __post_init__(self) -> None:
        check(self.steps > 0, "steps", f"a positive number of steps, got {self.steps}")
        check(self.lr > 0, "lr", f"a positive learning rate, got {self.lr}")

    def __call__(self, objective: Objective, start: Tensor) -> Tensor:
        theta = start.detach().clone().requires_grad_(True)
        optimiser = torch.optim.SGD([theta], lr=self.lr, momentum=self.momentum)
        for _ in range(self.steps):
            optimiser.zero_grad()
            objective(theta).backward()
            optimiser.step()
        return theta.detach()
