"""Curvature at θ̂: per-example gradients, Hessian / GGN / Fisher operators, iHVP solvers and their settings."""

from __future__ import annotations

from remedy.curvature.backends import CURVATURES, build_curvature
from remedy.curvature.empirical_fisher import DiagonalFisher, EmpiricalFisher
from remedy.curvature.fisher import diagonal_fisher
from remedy.curvature.ggn import GaussNewton
from remedy.curvature.grads import (
    BATCH_ROWS,
    DEFAULT_CHUNK_BYTES,
    chunk_size,
    directional_derivatives,
    flatten,
    gradient_products,
    per_example_grads,
    trainable,
    weighted_gradient,
)
from remedy.curvature.hessian import Hessian
from remedy.curvature.inverse import DEFAULT_INVERSE, InverseSettings
from remedy.curvature.kfac import KFAC
from remedy.curvature.operator import Curvature
from remedy.curvature.solvers import SOLVERS, DampedInverse, ihvp

__all__ = [
    "BATCH_ROWS",
    "CURVATURES",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_INVERSE",
    "KFAC",
    "SOLVERS",
    "Curvature",
    "DampedInverse",
    "DiagonalFisher",
    "EmpiricalFisher",
    "GaussNewton",
    "Hessian",
    "InverseSettings",
    "build_curvature",
    "chunk_size",
    "diagonal_fisher",
    "directional_derivatives",
    "flatten",
    "gradient_products",
    "ihvp",
    "per_example_grads",
    "trainable",
    "weighted_gradient",
]
