"""Direct inverse of the explicit curvature (small parameter counts): Cholesky when ``C + δI`` is positive definite,
else an eigendecomposition."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import check


@SOLVERS.register("direct")
class Direct(DampedInverse):
    """``(C + δI)⁻¹ v`` from the explicit ``[P, P]`` matrix in float64, factorised once; exact up to rounding.

    A positive definite ``C + δI`` (GGN, Fisher, a convex model's Hessian, any damped PSD curvature) is factorised
    as ``L Lᵀ`` (Cholesky, ``P³/3`` flops); an indefinite one (a non-convex model's Hessian) as ``Q (Λ + δ) Qᵀ``
    (about ten times the cost). Rejects a singular ``C + δI``."""

    name = "direct"

    @functools.cached_property
    def factor(self) -> tuple[str, Tensor, Tensor | None]:
        matrix = self.curvature.dense().double()
        matrix.diagonal().add_(self.damping)
        lower, info = torch.linalg.cholesky_ex(matrix)
        if int(info) == 0:
            return "cholesky", lower, None
        values, vectors = torch.linalg.eigh(matrix)
        check(
            bool((values.abs() > 1e-12 * max(1.0, float(values.abs().max()))).all()),
            "--damping",
            "a damping that makes the curvature invertible",
        )
        return "eigh", values, vectors

    def apply(self, v: Tensor) -> Tensor:
        kind, first, vectors = self.factor
        rhs = v.double().reshape(len(first), -1)
        if kind == "cholesky":
            x = torch.cholesky_solve(rhs, first)
        else:
            assert vectors is not None
            x = vectors @ ((vectors.T @ rhs) / first[:, None])
        return x.reshape(v.shape).to(v.dtype)
