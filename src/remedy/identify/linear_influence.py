"""Linear influence functions (Koh & Liang 2017; Tanno et al. eq. 8–9) with any curvature and iHVP solver:
PUMA's valuation (:func:`remedy.puma.valuation`) of the failures' loss, with the sign turned to harm."""

from __future__ import annotations

from torch import Tensor

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.data.failures import Failures
from remedy.identify.registry import SCORERS
from remedy.metrics import Loss, PerExampleLoss
from remedy.posterior import Posterior
from remedy.puma import valuation
from remedy.task import ExamplesLike


@SCORERS.register("linear-influence")
def linear_influence(posterior: Posterior, failures: Failures, *, inverse: InverseSettings = DEFAULT_INVERSE) -> Tensor:
    """``r(z) = −∇L(F_q)ᵀ (C + δI)⁻¹ ∇L(z)`` (eq. 9 with γ = 1; L = mean loss, C = ``inverse``'s curvature of the
    training objective at θ̂), larger = more harmful.

    ``−r(z)/N`` is the first-order change of F_q's mean loss when ``z`` is removed (weight −1/N), so
    ``r(z) > 0``: removing ``z`` lowers the failures' loss. One iHVP for the whole query set, then one
    forward-mode pass over D.
    """
    query = Loss(posterior.examples(failures.query, "failures.query"), loss=posterior.loss)
    return -valuation(posterior, query, inverse)[:, 0]


def pairwise_influence(
    posterior: Posterior, queries: ExamplesLike, inverse: InverseSettings = DEFAULT_INVERSE
) -> Tensor:
    """``R[i, j] = −∇L(q_j)ᵀ (C + δI)⁻¹ ∇L(z_i)``: the ``[N, Q]`` train × query matrix, one batched iHVP for
    all queries and training gradients streamed in chunks. Larger = ``z_i`` more harmful to ``q_j``."""
    data = PerExampleLoss(posterior.examples(queries, "queries"), loss=posterior.loss)
    return -valuation(posterior, data, inverse)
