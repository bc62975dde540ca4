"""Linear influence functions (Koh & Liang 2017; Tanno et al. eq. 8–9) with any curvature and iHVP solver:
PUMA's valuation (:func:`remedy.puma.valuation`) of the failures' loss, with the sign turned to harm."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from remedy.data.failures import Failures
from remedy.identify.registry import SCORERS
from remedy.metrics import Loss, PerExampleLoss
from remedy.posterior import Posterior
from remedy.puma import valuation
from remedy.task import ExamplesLike


@SCORERS.register("linear-influence")
def linear_influence(
    posterior: Posterior,
    failures: Failures,
    *,
    curvature: str = "ggn",
    solver: str = "cg",
    damping: float = 1e-3,
    curvature_examples: int | None = None,
    seed: int = 0,
    **solver_options: Any,
) -> Tensor:
    """``r(z) = −∇L(F_q)ᵀ (C + δI)⁻¹ ∇L(z)`` (eq. 9 with γ = 1; L = mean loss, C = curvature of the training
    objective at θ̂), larger = more harmful.

    ``−r(z)/N`` is the first-order change of F_q's mean loss when ``z`` is removed (weight −1/N), so
    ``r(z) > 0``: removing ``z`` lowers the failures' loss. One iHVP for the whole query set, then one
    forward-mode pass over D. ``curvature_examples`` estimates C on that many training examples (drawn
    with ``seed``) instead of all N.
    """
    query = Loss(posterior.examples(failures.query, "failures.query"), loss=posterior.loss)
    options = dict(curvature=curvature, solver=solver, damping=damping, curvature_examples=curvature_examples)
    return -valuation(posterior, query, seed=seed, **options, **solver_options)[:, 0]


def pairwise_influence(posterior: Posterior, queries: ExamplesLike, **options: Any) -> Tensor:
    """``R[i, j] = −∇L(q_j)ᵀ (C + δI)⁻¹ ∇L(z_i)``: the ``[N, Q]`` train × query matrix, one batched iHVP for
    all queries and training gradients streamed in chunks. Larger = ``z_i`` more harmful to ``q_j``.
    Options as for :func:`linear_influence`."""
    data = PerExampleLoss(posterior.examples(queries, "queries"), loss=posterior.loss)
    return -valuation(posterior, data, **options)
