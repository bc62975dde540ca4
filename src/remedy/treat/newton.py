"""Newton update removal (Guo et al. 2020; Tanno et al. eq. 14)."""

from __future__ import annotations

from torch import Tensor, nn

from remedy.curvature import DEFAULT_INVERSE, InverseSettings, build_curvature
from remedy.curvature.functional import random_subset
from remedy.examples import Examples
from remedy.posterior import Posterior
from remedy.seeds import stream
from remedy.treat.registry import TREATMENTS


@TREATMENTS.register("newton")
def newton(
    posterior: Posterior,
    causes: Tensor,
    guard: Examples,
    *,
    inverse: InverseSettings = DEFAULT_INVERSE,
    scale: float = 1.0,
) -> nn.Module:
    """One Newton step on the objective without C, from θ̂:

    ``θ = θ̂ + scale · (C_{D∖C} + δI)⁻¹ [Σ_{z∈C} ∇L(z, θ̂) + |C| λ θ̂] / (N − |C|)``

    where ``J_{D∖C}(θ) = mean_{D∖C} L + λ/2 ‖θ‖²`` and ``C_{D∖C}`` its curvature at θ̂ (exactly its Hessian
    with ``curvature="hessian"``), built on D ∖ C (or ``inverse.examples`` of it) with ``inverse``'s back-end,
    solver and damping. For a convex objective this lands next to the retrained optimum; ``scale`` is Tanno et
    al.'s step size γ (App. C sweeps it).
    """
    if len(causes) == 0:  # nothing to remove
        return posterior.copy_model()
    kept = posterior.kept(causes)
    removed = posterior.train.subset(causes)
    theta = posterior.theta()
    gradient = posterior.passes.gradient(removed) * len(removed) + len(removed) * posterior.weight_decay * theta
    if inverse.examples is not None and inverse.examples < len(kept):
        kept = random_subset(kept, inverse.examples, stream(inverse.seed, "curvature-examples"))
    operator = build_curvature(inverse.curvature, posterior.model, posterior.loss, kept, posterior.weight_decay)
    step = inverse.build(operator) @ (gradient / (posterior.n - len(causes)))
    return posterior.model_at(theta + scale * step)
