"""Ground truths for influence estimates (Bae et al. 2022; SPEC §6): how a measurement responds when one
training example is removed, under leave-one-out retraining and under the proximal Bregman response function.

Every response is ``Δm = m(θ_variant) − m(θ_reference)`` for a measurement ``m(θ) -> [Q]`` (e.g. the losses of
Q test examples), removing training example ``j`` (its loss weight changes by ε = −1/N):

- ``loo_scratch``: argmin J_{−j} from a fresh initialisation, against argmin J from the same one (per seed);
- ``loo_warm``: argmin J_{−j} started from θ̂, against θ̂;
- ``proximal``: argmin J_{−j}(θ) + λ/2 ‖θ − θ̂‖² from θ̂;
- ``pbrf``: argmin (1/N) Σ_i D_L(f(θ, x_i), f(θ̂, x_i)) + ε L(f(θ, x_j), y_j) + λ/2 ‖θ − θ̂‖², D_L the Bregman
  divergence of the loss in output space (softmax cross-entropy: KL(p(θ̂) ‖ p(θ))); the issue's "− ε L" with
  ε = −1/N is the same removal written with the opposite sign of ε;
- ``linearized``: the PBRF's first-order solution, Δθ = −ε (G + λI)⁻¹ ∇L_j(θ̂), G the GGN of the mean loss.

J(θ) = (1/N) Σ_i L_i(θ) + (weight_decay/2) ‖θ‖². Weight decay is not part of the PBRF, so with
λ = weight_decay at an optimum of J its linearisation is influence with J's Hessian. Minimisers use
full-batch L-BFGS to ``tol`` on the gradient norm, so these are for models and data small enough for
full-batch optimisation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from remedy.curvature import build_curvature, weighted_gradient
from remedy.curvature.functional import FunctionalModel
from remedy.errors import check
from remedy.posterior import Posterior

Measurement = Callable[[Tensor], Tensor]
"""``m(θ) -> [Q]`` on a flat parameter vector."""


def minimise(objective: Callable[[Tensor], Tensor], start: Tensor, tol: float = 1e-9, max_iter: int = 2000) -> Tensor:
    """argmin of ``objective`` (flat θ → scalar) from ``start`` by full-batch L-BFGS with a strong-Wolfe search."""
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


class Responses:
    """The responses of a measurement to removing single training examples of ``posterior``'s data."""

    def __init__(self, posterior: Posterior, measurement: Measurement, proximity: float, tol: float = 1e-9) -> None:
        check(proximity >= 0, "proximity", f"a non-negative λ, got {proximity}")
        self.posterior, self.measurement, self.proximity, self.tol = posterior, measurement, proximity, tol
        self.f = FunctionalModel(posterior.model)
        self.theta = posterior.theta()
        data = posterior.train
        self.weights = torch.full((posterior.n,), 1.0 / posterior.n, dtype=self.theta.dtype)
        with torch.no_grad():
            self.outputs = self.f(self.theta, data.x)
        o = self.outputs.clone().requires_grad_(True)
        losses = posterior.loss(o, data.y)
        (self.output_grads,) = torch.autograd.grad(losses.sum(), o)
        self.output_losses = losses.detach()

    def _data_loss(self, theta: Tensor, weights: Tensor) -> Tensor:
        data = self.posterior.train
        return self.posterior.loss(self.f(theta, data.x), data.y) @ weights

    def objective(self, j: int | None) -> Callable[[Tensor], Tensor]:
        """J with example ``j`` removed (``None``: all kept)."""
        weights = self.weights.clone()
        if j is not None:
            weights[j] = 0.0
        wd = self.posterior.weight_decay
        return lambda theta: self._data_loss(theta, weights) + 0.5 * wd * theta.square().sum()

    def _change(self, theta: Tensor, reference: Tensor) -> Tensor:
        with torch.no_grad():
            return self.measurement(theta) - self.measurement(reference)

    def loo_warm(self, j: int) -> Tensor:
        return self._change(minimise(self.objective(j), self.theta, self.tol), self.theta)

    def loo_scratch(self, j: int, seeds: tuple[int, ...] = (0,)) -> Tensor:
        """Mean over ``seeds`` of m(θ_s^{−j}) − m(θ_s), both from the same fresh initialisation."""
        changes = []
        for seed in seeds:
            start, full = self._scratch_fit(seed)
            changes.append(self._change(minimise(self.objective(j), start, self.tol), full))
        return torch.stack(changes).mean(0)

    @functools.cache  # noqa: B019  (one fit per seed for the lifetime of these responses)
    def _scratch_fit(self, seed: int) -> tuple[Tensor, Tensor]:
        """A fresh initialisation for ``seed`` and argmin J from it (shared by every removed example)."""
        start = FunctionalModel(self.posterior.fresh_model(seed)).theta.to(self.theta.dtype)
        return start, minimise(self.objective(None), start, self.tol)

    def proximal(self, j: int) -> Tensor:
        objective, lam = self.objective(j), self.proximity
        return self._change(
            minimise(lambda t: objective(t) + 0.5 * lam * (t - self.theta).square().sum(), self.theta, self.tol),
            self.theta,
        )

    def pbrf_parameters(self, j: int, epsilon: float) -> Tensor:
        """θ(ε) of the PBRF for example ``j`` (ε = −1/N removes it; ε = 0 gives θ̂)."""
        data, lam, theta_hat = self.posterior.train, self.proximity, self.theta

        def objective(theta: Tensor) -> Tensor:
            o = self.f(theta, data.x)
            delta = o - self.outputs
            bregman = self.posterior.loss(o, data.y) - self.output_losses - (self.output_grads * delta).sum(1)
            removed = self.posterior.loss(self.f(theta, data.x[j : j + 1]), data.y[j : j + 1]).sum()
            return bregman.mean() + epsilon * removed + 0.5 * lam * (theta - theta_hat).square().sum()

        return minimise(objective, theta_hat, self.tol)

    def pbrf(self, j: int) -> Tensor:
        return self._change(self.pbrf_parameters(j, -1.0 / self.posterior.n), self.theta)

    def linearized(self, j: int) -> Tensor:
        """The PBRF to first order in ε: ``∇m(θ̂)ᵀ (G + λI)⁻¹ ∇L_j(θ̂) / N`` (exact dense solve: small models)."""
        posterior = self.posterior
        weights = torch.zeros(posterior.n, dtype=self.theta.dtype)
        weights[j] = 1.0
        g = weighted_gradient(posterior.model, posterior.loss, posterior.train, weights)
        return self._sensitivity @ g / posterior.n

    @functools.cached_property
    def _sensitivity(self) -> Tensor:
        """``∇m(θ̂)ᵀ (G + λI)⁻¹``, ``[Q, P]``: built once, shared by every removed example."""
        posterior = self.posterior
        ggn = build_curvature("ggn", posterior.model, posterior.loss, posterior.train).dense()
        jacobian = torch.func.jacrev(self.measurement)(self.theta)
        eye = torch.eye(len(ggn), dtype=ggn.dtype)
        return torch.linalg.solve(ggn + self.proximity * eye, jacobian.T).T
