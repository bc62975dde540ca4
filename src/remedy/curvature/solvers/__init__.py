"""Inverse-curvature-vector products ``(C + δI)⁻¹ v``, interchangeable by name."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from remedy.curvature.operator import Curvature
from remedy.curvature.solvers import arnoldi, cg, direct, lissa  # noqa: F401  (registers the solvers)
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import check


@SOLVERS.register("closed-form")
def closed_form(curvature: Curvature, v: Tensor, damping: float) -> Tensor:
    """The back-end's own inverse (diagonal Fisher, KFAC, EK-FAC)."""
    return curvature.solve(v, damping)


def ihvp(curvature: Curvature, v: Tensor, damping: float, solver: str = "cg", **options: Any) -> Tensor:
    """``(C + damping·I)⁻¹ v`` for ``v`` of shape ``[P]`` or ``[P, k]`` with the named solver."""
    check(damping >= 0, "--damping", f"a non-negative damping, got {damping}")
    check(v.shape[0] == curvature.n_params, "v", f"{curvature.n_params} rows, got {v.shape[0]}")
    return SOLVERS.get(solver)(curvature, v, damping, **options)


__all__ = ["SOLVERS", "ihvp"]
