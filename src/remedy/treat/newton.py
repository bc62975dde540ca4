"""Newton update removal (Guo et al. 2020; Tanno et al. eq. 14)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import vector_to_parameters

from remedy.curvature import build_curvature
from remedy.curvature.solvers import ihvp
from remedy.data.failures import Failures
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS


@TREATMENTS.register("newton")
def newton(
    posterior: Posterior,
    causes: Tensor,
    failures: Failures,
    *,
    curvature: str = "ggn",
    solver: str = "cg",
    damping: float = 1e-3,
    scale: float = 1.0,
    seed: int = 0,
    **solver_options: Any,
) -> nn.Module:
    """One Newton step on the objective without C, from θ̂:

    ``θ = θ̂ + scale · (C_{D∖C} + δI)⁻¹ [Σ_{z∈C} ∇L(z, θ̂) + |C| λ θ̂] / (N − |C|)``

    where ``J_{D∖C}(θ) = mean_{D∖C} L + λ/2 ‖θ‖²`` and ``C_{D∖C}`` its curvature at θ̂ (exactly its Hessian
    with ``curvature="hessian"``). For a convex objective this lands next to the retrained optimum;
    ``scale`` is Tanno et al.'s step size γ (App. C sweeps it). ``failures`` is not used.
    """
    kept = posterior.kept(causes)
    removed = posterior.train[causes.to(posterior.device)]
    theta = torch.cat([p.detach().reshape(-1) for p in posterior.model.parameters() if p.requires_grad])
    gradient = posterior.gradient(removed) * len(removed) + len(removed) * posterior.weight_decay * theta
    operator = build_curvature(curvature, posterior.model, posterior.loss, kept, posterior.weight_decay)
    step = ihvp(operator, gradient / len(kept), damping, solver, **solver_options)
    model = posterior.copy_model()
    with torch.no_grad():
        vector_to_parameters(theta + scale * step, [p for p in model.parameters() if p.requires_grad])
    return model
