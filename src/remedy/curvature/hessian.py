"""Hessian-vector products of the training objective through ``torch.func`` (forward-over-reverse; the
Hessian is never built)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import grad, jvp, vmap

from remedy.curvature.functional import FunctionalModel, chunks, random_subset
from remedy.curvature.operator import Curvature, as_matrix
from remedy.task import Examples, LossFn


class Hessian(Curvature):
    """``H = ∇²_θ J(θ̂)`` for ``J(θ) = (1/N) Σ_i loss(f(θ, x_i), y_i) + (weight_decay/2) ‖θ‖²``.

    Products are exact (one jvp of the gradient per data chunk, vmapped over the columns of ``v``).
    Indefinite for non-convex models: add damping, or use the GGN.
    """

    name = "hessian"

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

    def matvec(self, v: Tensor) -> Tensor:
        v, single = as_matrix(v)
        out = torch.zeros_like(v)
        for part in chunks(self.data, self.chunk):
            out += self._chunk_products(part, v)
        out = out / len(self.data) + self.weight_decay * v
        return out.squeeze(1) if single else out

    def _chunk_products(self, part: Examples, v: Tensor) -> Tensor:
        """``Σ_{i∈part} ∇² loss_i · v`` for the columns of ``v``."""

        def total(theta: Tensor) -> Tensor:
            return self.loss(self.f(theta, part.x), part.y).sum()

        def hvp(u: Tensor) -> Tensor:
            return jvp(grad(total), (self.f.theta,), (u,))[1]

        return vmap(hvp, in_dims=1, out_dims=1)(v)

    def sample(self, batch_size: int, generator: torch.Generator) -> Hessian:
        return Hessian(
            self.f.model, self.loss, random_subset(self.data, batch_size, generator), self.weight_decay, self.chunk
        )
