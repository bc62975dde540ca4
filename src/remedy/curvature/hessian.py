"""Hessian-vector products of the training objective through ``torch.func`` (forward-over-reverse; the
Hessian is never built)."""

from __future__ import annotations

from torch import Tensor
from torch.func import grad, jvp, vmap

from remedy.curvature.functional import DataCurvature
from remedy.examples import Examples


class Hessian(DataCurvature):
    """``H = ∇²_θ J(θ̂)`` for ``J(θ) = (1/N) Σ_i loss(f(θ, x_i), y_i) + (weight_decay/2) ‖θ‖²``.

    Products are exact (one jvp of the gradient per data chunk, vmapped over the columns of ``v``).
    Indefinite for non-convex models: add damping, or use the GGN.
    """

    name = "hessian"

    def _chunk_products(self, part: Examples, v: Tensor) -> Tensor:
        """``Σ_{i∈part} ∇² loss_i · v`` for the columns of ``v``."""

        def total(theta: Tensor) -> Tensor:
            return self.loss(self.f(theta, part.x), part.y).sum()

        def hvp(u: Tensor) -> Tensor:
            return jvp(grad(total), (self.f.theta,), (u,))[1]

        return vmap(hvp, in_dims=1, out_dims=1)(v)
