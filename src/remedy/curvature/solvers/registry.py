"""The iHVP solver registry: a solver is a :class:`~remedy.curvature.solvers.base.DampedInverse` class, built as
``SOLVERS.get(name)(curvature, damping, seed=…, **options)``."""

from __future__ import annotations

from remedy.curvature.solvers.base import DampedInverse
from remedy.registry import Registry

SOLVERS: Registry[type[DampedInverse]] = Registry("solver")
