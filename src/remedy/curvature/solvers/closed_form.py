"""The back-end's own closed-form inverse (diagonal Fisher, KFAC and EK-FAC factorise when they are built)."""

from __future__ import annotations

from torch import Tensor

from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS


@SOLVERS.register("closed-form")
class ClosedForm(DampedInverse):
    """``(C + δI)⁻¹ v`` by the curvature's own ``solve``; a back-end without one raises a one-line error."""

    name = "closed-form"

    def apply(self, v: Tensor) -> Tensor:
        return self.curvature.solve(v, self.damping)
