"""Linear influence functions (Koh & Liang 2017; Tanno et al. eq. 8–9) with any curvature and iHVP solver."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from remedy.curvature import per_example_grads
from remedy.curvature.solvers import ihvp
from remedy.data.failures import Failures
from remedy.identify.registry import SCORERS
from remedy.posterior import Posterior
from remedy.task import ExamplesLike


def _scores(posterior: Posterior, directions: Tensor) -> Tensor:
    """``−G s`` for every training example's loss gradient ``g_z`` (rows of G) and ``directions`` s ``[P, k]``."""
    return -posterior.train_products(directions)


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
    query = posterior.examples(failures.query, "failures.query")
    operator = posterior.curvature(curvature, curvature_examples, seed)
    direction = ihvp(operator, posterior.gradient(query), damping, solver, **solver_options)
    return _scores(posterior, direction[:, None]).squeeze(1)


def pairwise_influence(
    posterior: Posterior,
    queries: ExamplesLike,
    *,
    curvature: str = "ggn",
    solver: str = "cg",
    damping: float = 1e-3,
    curvature_examples: int | None = None,
    seed: int = 0,
    **solver_options: Any,
) -> Tensor:
    """``R[i, j] = −∇L(q_j)ᵀ (C + δI)⁻¹ ∇L(z_i)``: the ``[N, Q]`` train × query matrix, one batched iHVP for
    all queries and training gradients streamed in chunks. Larger = ``z_i`` more harmful to ``q_j``."""
    data = posterior.examples(queries, "queries")
    rows = torch.cat([g for _, g in per_example_grads(posterior.model, posterior.loss, data, posterior.chunk_bytes)])
    operator = posterior.curvature(curvature, curvature_examples, seed)
    directions = ihvp(operator, rows.T.contiguous(), damping, solver, **solver_options)
    return _scores(posterior, directions)
