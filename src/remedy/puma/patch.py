"""PUMA model patching (blog eq. 10; SPEC §5): remove marked examples while a chosen metric stays within δ.

``θ_mod = θ̂ + η H⁻¹ [Σ_{k∈C} ∇L_t(z_k) − Σ_{j∈D_up} λ*_j ∇L_t(z_j)]`` — the marked examples' influence
directions ``φ = H⁻¹∇L_t`` minus the compensating ones, with ``λ*`` from :func:`compensation_weights` so
that the first-order change of the preserved metric, ``η (Σ_k ψ_k − Σ_j λ*_j ψ_j)``, cancels. ``η`` is the
largest of ``max_step · 2⁻ᵏ`` whose *measured* change of the guard metric is at most δ.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from remedy.curvature import DEFAULT_INVERSE, InverseSettings, weighted_gradient
from remedy.errors import check
from remedy.metrics import Metric
from remedy.posterior import Posterior
from remedy.puma.compensation import compensation_weights
from remedy.puma.valuation import metric_directions


@dataclass
class Patch:
    """A patched model and the evidence: the step, the weights, and the guard metric measured before/after."""

    model: nn.Module
    step: float
    up: Tensor
    weights: Tensor
    residual: float
    guard_before: float
    guard_after: float
    delta: float
    predicted_change: Tensor
    tried: list[tuple[float, float]] = field(default_factory=list)

    @property
    def n_nonzero(self) -> int:
        """How many examples of D_up carry a non-zero compensating weight."""
        return int((self.weights != 0).sum())

    @property
    def guard_change(self) -> float:
        return self.guard_after - self.guard_before


def patch(
    posterior: Posterior,
    causes: Tensor,
    preserve: Metric,
    *,
    guard: Metric | None = None,
    delta: float = 0.01,
    up: Tensor | None = None,
    compensate: bool = True,
    alpha: float = 1e-3,
    l1_ratio: float = 0.5,
    max_step: float | None = None,
    halvings: int = 16,
    one_sided: bool = False,
    inverse: InverseSettings = DEFAULT_INVERSE,
) -> Patch:
    """Patch θ̂ to remove ``causes`` while keeping ``preserve`` (``[m]`` criteria: per-example losses of a
    reference set, several metrics, ...) to first order and the *measured* mean of ``guard`` (default:
    ``preserve``) within ``delta`` of its value at θ̂.

    ``up``: the training indices allowed to compensate (default: all kept ones); ``compensate=False`` gives
    naive influence removal (λ = 0). ``max_step`` defaults to 1/N, the first-order size of removing the
    causes from a mean-loss objective. ``inverse``: the damped inverse H⁻¹ (curvature, solver, damping, examples).
    ``one_sided``: only a rise of ``guard`` counts against δ (for a guard where lower is better and a fall is
    welcome, such as an error rate); by default the change is bounded both ways, as the blog's |ΔM| ≤ δ. Never
    modifies the posterior's model.
    """
    causes = posterior.causes(causes)
    check(delta >= 0, "delta", f"a non-negative bound on the guard metric's change, got {delta}")
    check(halvings >= 0, "halvings", f"a non-negative number of step halvings, got {halvings}")
    kept = torch.ones(posterior.n, dtype=torch.bool)
    kept[causes] = False
    up = torch.nonzero(kept).flatten() if up is None else posterior.causes(up, "up")
    up = up[kept[up]]
    directions = metric_directions(posterior, preserve, inverse)
    psi = posterior.passes.train_products(directions).double().cpu()  # [N, m]
    target = psi[causes].sum(0)
    weights = (
        compensation_weights(psi[up], target, alpha, l1_ratio)
        if compensate and len(up)
        else torch.zeros(len(up), dtype=psi.dtype)
    )
    residual = float((psi[up].T @ weights - target).norm() / target.norm().clamp_min(1e-30))
    per_example = torch.zeros(posterior.n, dtype=torch.float64)
    per_example[causes] = 1.0
    per_example[up] -= weights
    gradient = weighted_gradient(posterior.model, posterior.loss, posterior.train, per_example.to(posterior.device))
    direction = posterior.curvatures.inverse(inverse) @ gradient
    guard = guard or preserve
    theta = posterior.theta()
    before = float(guard.measure(posterior.model).double().mean())
    step = max_step if max_step is not None else 1.0 / posterior.n
    tried: list[tuple[float, float]] = []
    for _ in range(halvings + 1):
        after = float(guard.measure(posterior.model_at(theta + step * direction)).double().mean())
        tried.append((step, after - before))
        if (after - before if one_sided else abs(after - before)) <= delta:
            break
        step /= 2
    else:
        message = f"puma: no step within {halvings} halvings kept the guard within δ = {delta:g}; θ̂ kept"
        warnings.warn(message, stacklevel=2)
        step, after = 0.0, before
    model = posterior.model_at(theta + step * direction)
    predicted = step * (directions.T.double().cpu() @ gradient.double().cpu())
    return Patch(model, step, up, weights, residual, before, after, delta, predicted, tried)
