"""Inverse-curvature-vector products ``(C + δI)⁻¹ v``: one :class:`DampedInverse` class per solver, by name."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from remedy.curvature.operator import Curvature
from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS
from remedy.registry import import_all

import_all(__name__)


def ihvp(curvature: Curvature, v: Tensor, damping: float, solver: str = "cg", **options: Any) -> Tensor:
    """``(C + damping·I)⁻¹ v`` for ``v`` of shape ``[P]`` or ``[P, k]`` with a one-off solver of that name (a
    :class:`~remedy.curvature.inverse.InverseSettings` through ``Posterior.inverse`` keeps its factorisation)."""
    SOLVERS.check_options(solver, options)
    return SOLVERS.get(solver)(curvature, damping, **options) @ v


__all__ = ["SOLVERS", "DampedInverse", "ihvp"]
