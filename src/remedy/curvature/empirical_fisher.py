"""The empirical Fisher ``F̂ = (1/N) Σ_i g_i g_iᵀ`` as an operator: diagonal (any model) or full (small models)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy.curvature.fisher import diagonal_fisher
from remedy.curvature.grads import DEFAULT_CHUNK_BYTES, per_example_grads
from remedy.curvature.operator import Curvature, as_matrix
from remedy.examples import Data
from remedy.task import LossFn


class DiagonalFisher(Curvature):
    """``diag(F̂) + weight_decay``: multiplies and solves elementwise (Tanno et al.'s EWC curvature)."""

    name = "fisher-diag"

    def __init__(self, diagonal: Tensor, weight_decay: float = 0.0) -> None:
        self.diagonal = diagonal + weight_decay
        self.n_params = diagonal.numel()
        self.device, self.dtype = diagonal.device, diagonal.dtype

    @classmethod
    def build(
        cls,
        model: nn.Module,
        loss: LossFn,
        data: Data,
        weight_decay: float = 0.0,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> DiagonalFisher:
        return cls(diagonal_fisher(model, loss, data, chunk_bytes), weight_decay)

    def matvec(self, v: Tensor) -> Tensor:
        return self.diagonal[:, None] * v if v.ndim == 2 else self.diagonal * v

    def solve(self, v: Tensor, damping: float) -> Tensor:
        d = self.diagonal + damping
        return v / d[:, None] if v.ndim == 2 else v / d


class EmpiricalFisher(Curvature):
    """The full ``F̂ + weight_decay·I``, applied as ``Gᵀ(G v)/N`` chunk by chunk (G never held whole)."""

    name = "fisher"

    def __init__(
        self,
        model: nn.Module,
        loss: LossFn,
        data: Data,
        weight_decay: float = 0.0,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.model, self.loss, self.data, self.weight_decay, self.chunk_bytes = (
            model,
            loss,
            data,
            weight_decay,
            chunk_bytes,
        )
        first = next(p for p in model.parameters() if p.requires_grad)
        self.device, self.dtype = first.device, first.dtype
        self.n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    def matvec(self, v: Tensor) -> Tensor:
        v, single = as_matrix(v)
        out = torch.zeros_like(v)
        for _, g in per_example_grads(self.model, self.loss, self.data, self.chunk_bytes):
            out += g.T @ (g @ v)
        out = out / len(self.data) + self.weight_decay * v
        return out.squeeze(1) if single else out
