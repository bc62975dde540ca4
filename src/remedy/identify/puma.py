"""PUMA valuation as a cause scorer: harm to any named metric of the failures (SPEC §5, blog Fig. 5)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from remedy.data.failures import Failures
from remedy.identify.registry import SCORERS
from remedy.metrics import Metric, build_metric
from remedy.posterior import Posterior
from remedy.puma import valuation


@SCORERS.register("puma")
def puma(
    posterior: Posterior,
    failures: Failures,
    *,
    metric: str | Metric = "loss",
    curvature: str = "ggn",
    solver: str = "cg",
    damping: float = 1e-3,
    curvature_examples: int | None = None,
    seed: int = 0,
    **solver_options: Any,
) -> Tensor:
    """``r(z) = −Σ_j ψ_j(z)``, ``ψ(z) = ∇M(θ̂)ᵀ H⁻¹ ∇L_t(z, θ̂)``, larger = more harmful (removing z lowers M).

    ``metric``: a :class:`~remedy.metrics.Metric` of the user's own, or a name from ``METRICS`` built on
    the failures F_q (``loss`` gives linear influence, eq. 9; ``ece`` their calibration error; ``error``
    their expected error).
    """
    if not isinstance(metric, Metric):
        metric = build_metric(metric, posterior.examples(failures.query, "failures.query"))
    psi = valuation(
        posterior,
        metric,
        curvature=curvature,
        solver=solver,
        damping=damping,
        curvature_examples=curvature_examples,
        seed=seed,
        **solver_options,
    )
    return -psi.sum(1)
