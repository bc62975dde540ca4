"""PUMA valuation as a cause scorer: harm to any named metric of the failures (SPEC §5, blog Fig. 5)."""

from __future__ import annotations

from torch import Tensor

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.identify.registry import SCORERS
from remedy.metrics import Metric, build_metric
from remedy.posterior import Posterior
from remedy.puma import valuation


@SCORERS.register("puma")
def puma(
    posterior: Posterior,
    query: QueryHalf,
    *,
    metric: str | Metric = "loss",
    target: str = "guard",
    inverse: InverseSettings = DEFAULT_INVERSE,
) -> Tensor:
    """``r(z) = −Σ_j ψ_j(z)``, ``ψ(z) = ∇M(θ̂)ᵀ (C + δI)⁻¹ ∇L_t(z, θ̂)``, larger = more harmful (removing z lowers M).

    ``metric``: a :class:`~remedy.metrics.Metric` of the user's own, or a name from ``METRICS`` built on
    ``target``: the whole query half of the test set (``guard``, the default: the failures weighed against the
    correct predictions that share the model with them, so an example whose removal would fix failures by
    breaking more correct predictions is not harmful), or its failures F_q alone (``failures``; ``loss`` then
    gives linear influence, eq. 9; ``ece`` their calibration error; ``error`` their expected error).
    """
    check(target in ("failures", "guard"), "target", f"'failures' or 'guard', got {target!r}")
    if not isinstance(metric, Metric):
        data = query.failures if target == "failures" else query.guard
        metric = build_metric(
            metric, posterior.examples(data, f"query.{'failures' if target == 'failures' else 'guard'}")
        )
    return -valuation(posterior, metric, inverse).sum(1)
