"""PUMA data valuation (PUMA blog eq. 7–8; SPEC §5): ``ψ(z) = ∇M(θ̂)ᵀ H⁻¹ ∇L_t(z, θ̂)`` for every training example."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from remedy.curvature.solvers import ihvp
from remedy.errors import check
from remedy.metrics import Metric
from remedy.posterior import Posterior


def metric_directions(
    posterior: Posterior,
    metric: Metric,
    *,
    curvature: str = "ggn",
    solver: str = "cg",
    damping: float = 1e-3,
    curvature_examples: int | None = None,
    seed: int = 0,
    **solver_options: Any,
) -> Tensor:
    """``S = (H + δI)⁻¹ ∇M(θ̂)ᵀ``, ``[P, m]``: one batched iHVP per metric entry (H: the named curvature of the
    training objective at θ̂, on ``curvature_examples`` training examples drawn with ``seed`` if given)."""
    check(isinstance(metric, Metric), "metric", f"a remedy.metrics.Metric, got {type(metric).__name__}")
    jacobian = metric.jacobian(posterior.model)
    operator = posterior.curvature(curvature, curvature_examples, seed)
    return ihvp(operator, jacobian.T.contiguous(), damping, solver, **solver_options).reshape(jacobian.shape[1], -1)


def valuation(posterior: Posterior, metric: Metric, **options: Any) -> Tensor:
    """``ψ [N, m]``: ``ψ[i, j] = ∂M_j/∂θ · H⁻¹ ∇L_t(z_i)`` (options: see :func:`metric_directions`).

    Removing ``z_i`` (weight −1/N) changes ``M`` by ``≈ +ψ[i]/N`` (upweighting by ε changes it by ``−ε ψ[i]``),
    so for a lower-is-better ``M``, ``ψ < 0`` marks an example whose removal would improve ``M``: harmful.
    With ``M`` = the mean loss of the failures, ``−ψ`` is Tanno's linear influence (eq. 9).
    """
    return posterior.train_products(metric_directions(posterior, metric, **options))
