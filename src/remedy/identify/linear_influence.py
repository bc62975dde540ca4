"""Linear influence functions (Koh & Liang 2017; Tanno et al. eq. 8–9) with any curvature and iHVP solver, per
failure or summed, normalised and aggregated (:mod:`remedy.identify.attribution`)."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.curvature import DEFAULT_INVERSE, InverseSettings, weighted_gradient
from remedy.data.split import QueryHalf
from remedy.examples import Examples, ExamplesLike
from remedy.identify.attribution import NORMALIZATIONS, attribute
from remedy.identify.registry import SCORERS
from remedy.identify.self_influence import inverse_gradient_norms
from remedy.metrics import PerExampleLoss
from remedy.posterior import Posterior


class InfluencePairs:
    """``h(z, q) = −∇L(q)ᵀ (C + δI)⁻¹ ∇L(z)``: larger = removing z lowers q's loss (to first order, by −h/N)."""

    normalizations = NORMALIZATIONS

    def __init__(self, posterior: Posterior, inverse: InverseSettings) -> None:
        self.posterior, self.settings = posterior, inverse

    def _train_norms(self, normalize: str) -> Tensor | None:
        if normalize == "none":
            return None
        if normalize == "unit":
            return self.posterior.memo(
                "gradient-norms",
                lambda: torch.cat(
                    self.posterior.passes.map_grads(lambda g: g.double().norm(dim=1), "gradient-norms", {})
                ),
            )
        solved, quadratic = inverse_gradient_norms(self.posterior, self.settings)
        return solved if normalize == "theta-relative" else quadratic.clamp_min(0).sqrt()

    def own(self) -> Tensor:
        """``−g_zᵀ (C + δI)⁻¹ g_z``: minus the self-influence (the inverse must factorise)."""
        return -inverse_gradient_norms(self.posterior, self.settings)[1]

    def harm(self, queries: Examples, normalize: str, weights: Tensor | None = None) -> Tensor:
        posterior, inverse = self.posterior, self.posterior.curvatures.inverse(self.settings)
        queries = posterior.examples(queries, "queries")
        if normalize == "cosine" or weights is None:
            grads = PerExampleLoss(queries, loss=posterior.loss).jacobian(posterior.model)  # [Q, P]
            solved = inverse @ grads.T.contiguous()  # [P, Q]
            if normalize == "cosine":
                solved = solved / (solved * grads.T).sum(0).clamp_min(1e-30).sqrt()
            directions = -solved if weights is None else -(solved @ weights.to(solved))
        else:
            gradients = [
                weighted_gradient(posterior.model, posterior.loss, queries, w.to(posterior.device)) for w in weights.T
            ]
            directions = -(inverse @ torch.stack(gradients, 1))
        values = posterior.passes.train_products(directions).double().cpu()
        norms = self._train_norms(normalize)
        if norms is not None:
            values = values / norms.clamp_min(1e-30)[:, None]
        return values


@SCORERS.register("linear-influence")
def linear_influence(
    posterior: Posterior,
    query: QueryHalf,
    *,
    inverse: InverseSettings = DEFAULT_INVERSE,
    normalize: str = "none",
    aggregate: str = "sum",
) -> Tensor:
    """``r(z) = Σ_q h(z, q)``, ``h(z, q) = −∇L(q)ᵀ (C + δI)⁻¹ ∇L(z)`` over the failures q of F_q (eq. 9 with γ = 1;
    C = ``inverse``'s curvature of the training objective at θ̂), larger = more harmful; or normalised and
    aggregated per failure (``normalize``, ``aggregate``: see :mod:`remedy.identify.attribution`).

    ``−r(z)/N`` is the first-order change of F_q's summed loss when z is removed (weight −1/N). The plain sum is
    one iHVP and one forward-mode pass over D; the per-failure forms solve once per failure (``cosine``,
    ``mean-rank``) or per class (``class-max``), and the RelatIF forms once per training example (a factorised
    inverse).
    """
    return attribute(InfluencePairs(posterior, inverse), query.failures, normalize, aggregate)


def pairwise_influence(
    posterior: Posterior, queries: ExamplesLike, inverse: InverseSettings = DEFAULT_INVERSE
) -> Tensor:
    """``R[i, j] = −∇L(q_j)ᵀ (C + δI)⁻¹ ∇L(z_i)``: the ``[N, Q]`` train × query matrix, one batched iHVP for
    all queries and training gradients streamed in chunks. Larger = ``z_i`` more harmful to ``q_j``."""
    return InfluencePairs(posterior, inverse).harm(posterior.examples(queries, "queries"), "none")
