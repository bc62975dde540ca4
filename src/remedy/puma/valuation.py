"""PUMA data valuation (PUMA blog eq. 7–8; SPEC §5): ``ψ(z) = ∇M(θ̂)ᵀ H⁻¹ ∇L_t(z, θ̂)`` for every training example."""

from __future__ import annotations

from torch import Tensor

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.errors import check
from remedy.metrics import Metric
from remedy.posterior import Posterior


def metric_directions(posterior: Posterior, metric: Metric, inverse: InverseSettings = DEFAULT_INVERSE) -> Tensor:
    """``S = (C + δI)⁻¹ ∇M(θ̂)ᵀ``, ``[P, m]``: one batched application of the damped inverse ``inverse`` (C: its
    curvature of the training objective at θ̂) to the metric's Jacobian."""
    check(isinstance(metric, Metric), "metric", f"a remedy.metrics.Metric, got {type(metric).__name__}")
    jacobian = metric.jacobian(posterior.model)
    return (posterior.curvatures.inverse(inverse) @ jacobian.T.contiguous()).reshape(jacobian.shape[1], -1)


def valuation(posterior: Posterior, metric: Metric, inverse: InverseSettings = DEFAULT_INVERSE) -> Tensor:
    """``ψ [N, m]``: ``ψ[i, j] = ∂M_j/∂θ · (C + δI)⁻¹ ∇L_t(z_i)`` (the inverse as :func:`metric_directions`).

    Removing ``z_i`` (weight −1/N) changes ``M`` by ``≈ +ψ[i]/N`` (upweighting by ε changes it by ``−ε ψ[i]``),
    so for a lower-is-better ``M``, ``ψ < 0`` marks an example whose removal would improve ``M``: harmful.
    With ``M`` = the mean loss of the failures, ``−ψ`` is Tanno's linear influence (eq. 9).
    """
    return posterior.passes.train_products(metric_directions(posterior, metric, inverse))
