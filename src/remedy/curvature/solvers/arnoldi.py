"""Arnoldi iHVP (Schioppa et al. 2022): top eigenpairs of the curvature from a Krylov space, then a low-rank inverse."""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from remedy.curvature.operator import Curvature
from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import check
from remedy.seeds import stream


def top_eigenpairs(
    curvature: Curvature, rank: int, iterations: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``rank`` eigenpairs of largest magnitude, from ``iterations`` Arnoldi steps (full re-orthogonalisation).

    When the Krylov space becomes invariant (a repeated eigenvalue, e.g. the damping floor of a low-rank
    GGN), the iteration restarts from a fresh random vector orthogonal to the basis."""
    check(
        0 < rank <= iterations, "--solver arnoldi", f"0 < rank <= iterations, got rank {rank}, iterations {iterations}"
    )
    n = curvature.n_params
    iterations = min(iterations, n)
    basis = torch.zeros(n, iterations + 1, dtype=torch.float64, device=curvature.device)
    hessenberg = torch.zeros(iterations + 1, iterations, dtype=torch.float64)
    start = torch.randn(n, generator=generator, dtype=torch.float64).to(curvature.device)
    basis[:, 0] = start / start.norm()
    for k in range(iterations):
        w = curvature.matvec(basis[:, k].to(curvature.dtype)).double()
        scale = float(w.norm())
        w = orthogonalise(w, basis[:, : k + 1], hessenberg[:, k])
        norm = w.norm()
        if float(norm) > 1e-8 * max(scale, 1e-30):
            hessenberg[k + 1, k] = norm.cpu()
        else:  # invariant subspace found: continue from a new direction
            fresh = torch.randn(n, generator=generator, dtype=torch.float64).to(w.device)
            w = orthogonalise(fresh, basis[:, : k + 1])
            norm = w.norm()
        basis[:, k + 1] = w / norm
    small = hessenberg[:iterations, :iterations]
    values, vectors = torch.linalg.eigh(0.5 * (small + small.T))
    order = values.abs().argsort(descending=True)[:rank]
    return values[order], basis[:, :iterations] @ vectors[:, order].to(basis.device)


def orthogonalise(w: Tensor, basis: Tensor, record: Tensor | None = None) -> Tensor:
    """Remove ``basis``'s components from ``w`` (Gram-Schmidt twice, for floating point); add them to ``record``."""
    for _ in range(2):
        coeffs = basis.T @ w
        w = w - basis @ coeffs
        if record is not None:
            record[: len(coeffs)] += coeffs.cpu()
    return w


@SOLVERS.register("arnoldi")
class Arnoldi(DampedInverse):
    """``U (Λ + δ)⁻¹ Uᵀ v`` on the top-``rank`` eigenspace U from ``iterations`` (default 2 × rank) Arnoldi steps;
    the rest of ``v`` is dropped, as in Schioppa et al. Exact when ``rank`` covers the spectrum; the eigenpairs
    are computed on first use and kept."""

    name = "arnoldi"

    def __init__(
        self, curvature: Curvature, damping: float, *, seed: int = 0, rank: int = 20, iterations: int | None = None
    ) -> None:
        super().__init__(curvature, damping, seed=seed)
        self.rank, self.iterations = rank, iterations or 2 * rank

    @functools.cached_property
    def eigenpairs(self) -> tuple[Tensor, Tensor]:
        return top_eigenpairs(self.curvature, self.rank, self.iterations, stream(self.seed, "arnoldi"))

    def apply(self, v: Tensor) -> Tensor:
        values, vectors = self.eigenpairs
        x = vectors @ ((vectors.T @ v.double().reshape(self.curvature.n_params, -1)) / (values + self.damping)[:, None])
        return x.reshape(v.shape).to(v.dtype)
