"""Generalised Gauss-Newton products ``Jᵀ H_out J v`` through ``torch.func`` (jvp, then vjp; no explicit J)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import grad, jvp, vjp, vmap

from remedy.curvature.functional import FunctionalModel, chunks, random_subset
from remedy.curvature.operator import Curvature, as_matrix
from remedy.task import Examples, LossFn


class GaussNewton(Curvature):
    """``G = (1/N) Σ_i J_iᵀ ∇²_o loss(o_i, y_i) J_i + weight_decay·I``, ``J_i = ∂f(θ̂, x_i)/∂θ``.

    Positive semi-definite for convex losses (cross-entropy, squared error), equal to the Hessian for
    linear models, and the curvature influence functions usually stand on (Bae et al. 2022).
    """

    name = "ggn"

    def __init__(
        self, model: nn.Module, loss: LossFn, data: Examples, weight_decay: float = 0.0, chunk: int = 512
    ) -> None:
        self.f = FunctionalModel(model)
        self.loss, self.data, self.weight_decay, self.chunk = loss, data, weight_decay, chunk
        self.n_params = self.f.theta.numel()

    @property
    def device(self) -> torch.device:
        return self.f.theta.device

    @property
    def dtype(self) -> torch.dtype:
        return self.f.theta.dtype

    def _output_hvp(self, o: Tensor, y: Tensor, t: Tensor) -> Tensor:
        """``∇²_o loss(o, y) t`` for one example."""
        return jvp(grad(lambda out: self.loss(out[None], y[None]).sum()), (o,), (t,))[1]

    def matvec(self, v: Tensor) -> Tensor:
        v, single = as_matrix(v)
        out = torch.zeros_like(v)
        for part in chunks(self.data, self.chunk):
            out += self._chunk_products(part, v)
        out = out / len(self.data) + self.weight_decay * v
        return out.squeeze(1) if single else out

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

    def sample(self, batch_size: int, generator: torch.Generator) -> GaussNewton:
        return GaussNewton(
            self.f.model, self.loss, random_subset(self.data, batch_size, generator), self.weight_decay, self.chunk
        )
