"""The one solver interface: a damped inverse ``(C + δI)⁻¹`` as an operator that owns its factorisation."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor

from remedy.curvature.operator import Curvature
from remedy.errors import check


class DampedInverse(ABC):
    """``(C + δI)⁻¹`` applied as ``inverse @ v`` to ``v`` of shape ``[P]`` or ``[P, k]``.

    One instance per curvature, damping and set of options; whatever it factorises (an eigendecomposition,
    top eigenpairs) is computed on first use and kept for every later product. Subclasses implement
    :meth:`apply`; their constructor's keyword arguments are the solver's options (``--solver NAME`` with
    :class:`~remedy.curvature.inverse.InverseSettings` ``options``). ``seed`` drives stochastic solvers.
    """

    name = "solver"

    def __init__(self, curvature: Curvature, damping: float, *, seed: int = 0) -> None:
        check(damping >= 0, "--damping", f"a non-negative damping, got {damping}")
        self.curvature, self.damping, self.seed = curvature, float(damping), seed

    def __matmul__(self, v: Tensor) -> Tensor:
        check(v.shape[0] == self.curvature.n_params, "v", f"{self.curvature.n_params} rows, got {v.shape[0]}")
        return self.apply(v)

    @abstractmethod
    def apply(self, v: Tensor) -> Tensor:
        """``(C + δI)⁻¹ v``."""
