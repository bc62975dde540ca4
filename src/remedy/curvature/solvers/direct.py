"""Direct inverse through an eigendecomposition of the explicit curvature (small parameter counts)."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import check


@SOLVERS.register("direct")
class Direct(DampedInverse):
    """``Q (Λ + δ)⁻¹ Qᵀ v`` from ``C = Q Λ Qᵀ`` in float64, decomposed once; exact up to rounding. Rejects a
    singular ``C + δI``."""

    name = "direct"

    @functools.cached_property
    def eigendecomposition(self) -> tuple[Tensor, Tensor]:
        values, vectors = torch.linalg.eigh(self.curvature.dense().double())
        shifted = values + self.damping
        check(
            bool((shifted.abs() > 1e-12 * max(1.0, float(values.abs().max()))).all()),
            "--damping",
            "a damping that makes the curvature invertible",
        )
        return shifted, vectors

    def apply(self, v: Tensor) -> Tensor:
        shifted, vectors = self.eigendecomposition
        x = vectors @ ((vectors.T @ v.double().reshape(len(shifted), -1)) / shifted[:, None])
        return x.reshape(v.shape).to(v.dtype)
