"""Direct inverse through an eigendecomposition of the explicit curvature (small parameter counts)."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.curvature.operator import Curvature
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import check


def eigendecomposition(curvature: Curvature) -> tuple[Tensor, Tensor]:
    """Eigenvalues and eigenvectors of the dense curvature in float64, computed once per operator."""
    cached = getattr(curvature, "_eigh", None)
    if cached is None:
        cached = torch.linalg.eigh(curvature.dense().double())
        curvature._eigh = cached  # type: ignore[attr-defined]
    return cached


@SOLVERS.register("direct")
def direct(curvature: Curvature, v: Tensor, damping: float) -> Tensor:
    """``Q (Λ + δ)⁻¹ Qᵀ v`` from ``C = Q Λ Qᵀ``; exact up to float64 rounding. Rejects a singular ``C + δI``."""
    values, vectors = eigendecomposition(curvature)
    shifted = values + damping
    check(
        bool((shifted.abs() > 1e-12 * max(1.0, float(values.abs().max()))).all()),
        "--damping",
        "a damping that makes the curvature invertible",
    )
    x = vectors @ ((vectors.T @ v.double().reshape(len(values), -1)) / shifted[:, None])
    return x.reshape(v.shape).to(v.dtype)
