"""Generalised Gauss-Newton products ``Jᵀ H_out J v`` through ``torch.func`` (jvp, then vjp; no explicit J)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import grad, jvp, vjp, vmap

from remedy.curvature.functional import DataCurvature
from remedy.examples import Examples
from remedy.task import cross_entropy


class GaussNewton(DataCurvature):
    """``G = (1/N) Σ_i J_iᵀ ∇²_o loss(o_i, y_i) J_i + weight_decay·I``, ``J_i = ∂f(θ̂, x_i)/∂θ``.

    Positive semi-definite for convex losses (cross-entropy, squared error), equal to the Hessian for
    linear models, and the curvature influence functions usually stand on (Bae et al. 2022).
    """

    name = "ggn"

    def _output_hvp(self, o: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """``∇²_o loss(o, y) t`` for one example: ``(diag(p) − p pᵀ) t`` for softmax cross-entropy, else autograd."""
        if self.loss is cross_entropy:
            p = torch.softmax(o, -1)
            return p * t - p * (p * t).sum(-1, keepdim=True)
        return jvp(grad(lambda out: self.loss(out[None], y[None]).sum()), (o,), (t,))[1]

    def _chunk_products(self, part: Examples, v: Tensor) -> Tensor:
        """``Σ_{i∈part} J_iᵀ H_i J_i · v`` for the columns of ``v`` (one forward pass, shared pullback)."""

        def forward(theta: Tensor) -> Tensor:
            return self.f(theta, part.x)

        logits, pullback = vjp(forward, self.f.theta)
        logits = logits.detach()

        def gvp(u: Tensor) -> Tensor:
            ju = jvp(forward, (self.f.theta,), (u,))[1]
            return pullback(vmap(self._output_hvp)(logits, part.y, ju))[0]

        return vmap(gvp, in_dims=1, out_dims=1)(v)
