"""Self-influence ``g_zᵀ (C + δI)⁻¹ g_z``: how much a training example's own loss depends on having trained on
it (Koh & Liang 2017; Schioppa et al. 2022). A label-noise baseline that needs no failures."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.curvature import InverseSettings
from remedy.curvature.inverse import DEFAULT_INVERSE
from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.identify.registry import SCORERS
from remedy.posterior import Posterior

FACTORISED = ("closed-form", "direct", "arnoldi")
"""Solvers whose inverse applies to N vectors at the cost of a few products, not N solves."""


def inverse_gradient_norms(posterior: Posterior, inverse: InverseSettings) -> tuple[Tensor, Tensor]:
    """``(‖(C + δI)⁻¹ g_z‖, g_zᵀ (C + δI)⁻¹ g_z)`` for every training example, ``[N]`` each, in one pass over the
    per-example gradients (computed once per posterior and settings)."""
    check(
        inverse.solver in FACTORISED,
        "--solver",
        f"one of {', '.join(FACTORISED)} to apply the inverse to every training gradient, got {inverse.solver!r}",
    )

    def compute() -> tuple[Tensor, Tensor]:
        damped = posterior.curvatures.inverse(inverse)

        def both(g: Tensor) -> tuple[Tensor, Tensor]:
            solved = (damped @ g.T.contiguous()).T.double()
            return solved.norm(dim=1), (solved * g.double()).sum(1)

        parts = posterior.passes.map_grads(both, "inverse-gradient-norms", {"inverse": inverse.key()})
        return torch.cat([p[0] for p in parts]).cpu(), torch.cat([p[1] for p in parts]).cpu()

    return posterior.memo(("inverse-gradient-norms", inverse.key()), compute)


@SCORERS.register("self-influence")
def self_influence(posterior: Posterior, query: QueryHalf, *, inverse: InverseSettings = DEFAULT_INVERSE) -> Tensor:
    """``r(z) = g_zᵀ (C + δI)⁻¹ g_z``, larger = more suspicious: the first-order rise of z's own loss when z is
    removed. Mislabelled examples are the ones the model must bend most to fit. ``query`` is not used (a
    baseline); ``inverse`` must factorise (closed-form, direct or arnoldi)."""
    return inverse_gradient_norms(posterior, inverse)[1]
