"""Conjugate gradient on ``(C + δI) x = v``, batched over the columns of ``v`` ("GD" in Tanno et al.)."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from remedy.curvature.operator import Curvature, as_matrix
from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import RemedyError


@SOLVERS.register("cg")
class ConjugateGradient(DampedInverse):
    """Solves each column to relative residual ``tol`` in at most ``max_iter`` curvature products; warns with the
    residual reached when that is not enough (on a large model, each product costs about one epoch).

    Raises :class:`RemedyError` when ``C + δI`` is not positive definite along a search direction (an indefinite
    Hessian): increase the damping or use the GGN. Nothing to factorise: every product re-solves.
    """

    name = "cg"

    def __init__(
        self, curvature: Curvature, damping: float, *, seed: int = 0, tol: float = 1e-5, max_iter: int = 100
    ) -> None:
        super().__init__(curvature, damping, seed=seed)
        self.tol, self.max_iter = tol, max_iter

    def apply(self, v: Tensor) -> Tensor:
        b, single = as_matrix(v)
        x = torch.zeros_like(b)
        r = b.clone()
        p = r.clone()
        rs = (r * r).sum(0)
        target = (self.tol * b.norm(dim=0)) ** 2
        for _ in range(self.max_iter):
            active = rs > target
            if not bool(active.any()):
                break
            ap = self.curvature.matvec(p) + self.damping * p
            pap = (p * ap).sum(0)
            if bool((pap[active] <= 0).any()):
                raise RemedyError(
                    f"--solver cg: curvature + damping is not positive definite (pᵀAp = {float(pap.min()):.3g}); "
                    "increase --damping or use the ggn"
                )
            alpha = torch.where(active, rs / torch.where(active, pap, 1.0), 0.0)
            x += alpha * p
            r -= alpha * ap
            rs_new = (r * r).sum(0)
            p = r + torch.where(active, rs_new / torch.where(active, rs, 1.0), 0.0) * p
            rs = rs_new
        if bool((rs > target).any()):
            reached = float((rs.sqrt() / b.norm(dim=0).clamp_min(1e-30)).max())
            warnings.warn(
                f"cg: stopped after {self.max_iter} products at relative residual {reached:.2g} > tol {self.tol:g}",
                stacklevel=3,
            )
        return x.squeeze(1) if single else x
