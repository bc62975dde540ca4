"""Ground truths for influence estimates (Bae et al. 2022; SPEC §6): how a measurement responds when one
training example is removed, under leave-one-out retraining and under the proximal Bregman response function.

Every response is ``Δm = m(θ_variant) − m(θ_reference)`` for a measurement ``m(θ) -> [Q]`` (e.g. the losses of
Q test examples), removing training example ``j`` (its loss weight changes by ε = −1/N):

- ``loo_scratch``: J_{−j} retrained from a fresh initialisation, against J retrained from the same one (per seed);
- ``loo_warm``: J_{−j} retrained from θ̂, against θ̂;
- ``proximal``: argmin J_{−j}(θ) + λ/2 ‖θ − θ̂‖² from θ̂;
- ``pbrf``: argmin (1/N) Σ_i D_L(f(θ, x_i), f(θ̂, x_i)) + ε L(f(θ, x_j), y_j) + λ/2 ‖θ − θ̂‖², D_L the Bregman
  divergence of the loss in output space (softmax cross-entropy: KL(p(θ̂) ‖ p(θ))); the issue's "− ε L" with
  ε = −1/N is the same removal written with the opposite sign of ε;
- ``linearized``: the PBRF's first-order solution, Δθ = −ε (G + λI)⁻¹ ∇L_j(θ̂), G the GGN of the mean loss.

J(θ) = (1/N) Σ_i L_i(θ) + (weight_decay/2) ‖θ‖². Weight decay is not part of the PBRF, so with
λ = weight_decay at an optimum of J its linearisation is influence with J's Hessian. "Retrained" is
``retrain(objective, start)``: by default full-batch L-BFGS to ``tol`` (an optimum), or the recipe that produced
θ̂ (e.g. :class:`~remedy.fidelity.optimise.GradientDescent` for a fixed number of steps), so that LOO means what
retraining means for this model. The proximal and PBRF objectives are always solved to ``tol`` from θ̂. All of
this is full-batch: for models and data small enough to optimise that way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from remedy.curvature import build_curvature, weighted_gradient
from remedy.curvature.functional import FunctionalModel
from remedy.curvature.operator import DENSE_LIMIT
from remedy.curvature.solvers import ihvp
from remedy.errors import check
from remedy.examples import Examples
from remedy.fidelity.agreement import TRUTHS
from remedy.fidelity.optimise import Trainer, minimise, penalised_loss
from remedy.metrics import DataMetric
from remedy.posterior import Posterior

Measurement = Callable[[Tensor], Tensor]
"""``m(θ) -> [Q]`` on a flat parameter vector."""


class Responses:
    """The responses of a measurement — a ``DataMetric`` (e.g. ``PerExampleLoss(test)``, ``ECE(test)``) or any
    ``m(θ) -> [Q]`` on flat parameters — to removing training examples of ``posterior``'s data."""

    def __init__(
        self,
        posterior: Posterior,
        measurement: Measurement | DataMetric,
        proximity: float,
        tol: float = 1e-9,
        retrain: Trainer | None = None,
    ) -> None:
        check(proximity >= 0, "proximity", f"a non-negative λ, got {proximity}")
        check(
            isinstance(posterior.train, Examples),
            "posterior",
            "training data in memory (the ground truths are full-batch)",
        )
        self.posterior, self.proximity, self.tol = posterior, proximity, tol
        self.retrain: Trainer = retrain or self._solve
        self.worst_gradient = 0.0
        """The largest final gradient entry of any solve to ``tol`` so far (above ``tol``: one did not converge)."""
        self.f = FunctionalModel(posterior.model)
        self.theta = posterior.theta()
        self.measurement = self._as_measurement(measurement)
        data = posterior.train
        self.weights = torch.full((posterior.n,), 1.0 / posterior.n, dtype=self.theta.dtype)
        with torch.no_grad():
            self.outputs = self.f(self.theta, data.x)
        o = self.outputs.clone().requires_grad_(True)
        losses = posterior.loss(o, data.y)
        (self.output_grads,) = torch.autograd.grad(losses.sum(), o)
        self.output_losses = losses.detach()

    def _as_measurement(self, measurement: Measurement | DataMetric) -> Measurement:
        """A metric's smooth values as a function of the flat parameters; a callable as it is."""
        if not isinstance(measurement, DataMetric):
            check(callable(measurement), "measurement", "a DataMetric or a callable m(θ) -> [Q]")
            return measurement
        data = measurement.data.to(self.theta.device)
        x, y = data.x, data.y
        return lambda theta: measurement.smooth(self.f(theta, x), y).reshape(-1)

    def objective(self, j: int | Tensor | None) -> Callable[[Tensor], Tensor]:
        """J with example ``j`` removed (or the examples an index or boolean tensor ``j`` selects; ``None``: all
        kept). The others keep their weight 1/N, so removing a group is the sum of its single removals'
        perturbations, as additive influence assumes."""
        weights = self.weights.clone()
        if j is not None:
            weights[j] = 0.0
        posterior = self.posterior
        return penalised_loss(self.f, posterior.train, posterior.loss, weights, posterior.weight_decay)

    def _solve(self, objective: Callable[[Tensor], Tensor], start: Tensor) -> Tensor:
        """The local argmin of ``objective`` from ``start`` to ``tol``, recording the final gradient in
        ``worst_gradient`` (``inf`` if the search left every local minimum: a PBRF whose removal term outweighs
        the proximity, ``1/N ≳ λ``, can be unbounded below; its response is then NaN)."""
        theta = minimise(objective, start, self.tol).requires_grad_(True)
        (gradient,) = torch.autograd.grad(objective(theta), theta)
        largest = float(gradient.abs().max()) if bool(torch.isfinite(gradient).all()) else float("inf")
        self.worst_gradient = max(self.worst_gradient, largest)
        return theta.detach()

    def _change(self, theta: Tensor, reference: Tensor) -> Tensor:
        with torch.no_grad():
            return self.measurement(theta) - self.measurement(reference)

    def loo_warm(self, j: int) -> Tensor:
        return self._change(self.retrain(self.objective(j), self.theta), self.theta)

    def loo_scratch(self, j: int | Tensor, seeds: tuple[int, ...] = (0,)) -> Tensor:
        """Mean over ``seeds`` of m(θ_s^{−j}) − m(θ_s), both from the same fresh initialisation (``j`` may select a
        group, as in :meth:`objective`: the retraining behind the linear datamodeling score)."""
        changes = []
        for seed in seeds:
            start, full = self._scratch_fit(seed)
            changes.append(self._change(self.retrain(self.objective(j), start), full))
        return torch.stack(changes).mean(0)

    @functools.cache  # noqa: B019  (one fit per seed for the lifetime of these responses)
    def _scratch_fit(self, seed: int) -> tuple[Tensor, Tensor]:
        """A fresh initialisation for ``seed`` and J retrained from it (shared by every removed example)."""
        start = FunctionalModel(self.posterior.fresh_model(seed)).theta.to(self.theta.dtype)
        return start, self.retrain(self.objective(None), start)

    def proximal(self, j: int) -> Tensor:
        objective, lam = self.objective(j), self.proximity
        return self._change(
            self._solve(lambda t: objective(t) + 0.5 * lam * (t - self.theta).square().sum(), self.theta),
            self.theta,
        )

    def pbrf_parameters(self, j: int, epsilon: float) -> Tensor:
        """θ(ε) of the PBRF for example ``j`` (ε = −1/N removes it; ε = 0 gives θ̂)."""
        data, lam, theta_hat = self.posterior.train, self.proximity, self.theta

        def objective(theta: Tensor) -> Tensor:
            o = self.f(theta, data.x)
            delta = o - self.outputs
            bregman = self.posterior.loss(o, data.y) - self.output_losses - (self.output_grads * delta).sum(1)
            one = data[j : j + 1]
            removed = self.posterior.loss(self.f(theta, one.x), one.y).sum()
            return bregman.mean() + epsilon * removed + 0.5 * lam * (theta - theta_hat).square().sum()

        return self._solve(objective, theta_hat)

    def pbrf(self, j: int) -> Tensor:
        return self._change(self.pbrf_parameters(j, -1.0 / self.posterior.n), self.theta)

    def linearized(self, j: int) -> Tensor:
        """The PBRF to first order in ε: ``∇m(θ̂)ᵀ (G + λI)⁻¹ ∇L_j(θ̂) / N``, solved exactly (see ``_sensitivity``)."""
        posterior = self.posterior
        weights = torch.zeros(posterior.n, dtype=self.theta.dtype)
        weights[j] = 1.0
        g = weighted_gradient(posterior.model, posterior.loss, posterior.train, weights)
        return self._sensitivity @ g / posterior.n

    @functools.cached_property
    def _sensitivity(self) -> Tensor:
        """``∇m(θ̂)ᵀ (G + λI)⁻¹``, ``[Q, P]``, built once and shared by every removed example: a dense solve up to
        :data:`~remedy.curvature.operator.DENSE_LIMIT` parameters, else CG to a relative residual of 1e-10."""
        posterior = self.posterior
        ggn = build_curvature("ggn", posterior.model, posterior.loss, posterior.train)
        jacobian = torch.func.jacrev(self.measurement)(self.theta)
        if ggn.n_params <= DENSE_LIMIT:
            eye = torch.eye(ggn.n_params, dtype=ggn.dtype)
            return torch.linalg.solve(ggn.dense() + self.proximity * eye, jacobian.T).T
        return ihvp(ggn, jacobian.T, self.proximity, "cg", tol=1e-10, max_iter=10 * ggn.n_params).T

    def table(self, points: Sequence[int], seeds: tuple[int, ...] = (0,)) -> dict[str, Tensor]:
        """Every ground truth in :data:`TRUTHS` for removing each of ``points``: ``{name: [len(points), Q]}``."""
        rows: dict[str, list[Tensor]] = {name: [] for name in TRUTHS}
        for j in tqdm(points, desc="ground truths", disable=None, leave=False):
            rows["loo_scratch"].append(self.loo_scratch(int(j), seeds))
            for name in TRUTHS[1:]:
                rows[name].append(getattr(self, name)(int(j)))
        return {name: torch.stack(values) for name, values in rows.items()}
