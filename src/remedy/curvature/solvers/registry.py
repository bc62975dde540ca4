"""The iHVP solver registry: a solver maps ``(curvature, v [P] or [P, k], damping, **options)`` to
``(C + damping·I)⁻¹ v``."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from remedy.registry import Registry

Solver = Callable[..., Tensor]

SOLVERS: Registry[Solver] = Registry("--solver")
