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
    """``U (Λ + δ)⁻¹ Uᵀ v + (v − U Uᵀ v) / δ`` on the top-``rank`` eigenspace U from ``iterations`` (default
    2 × rank) Arnoldi steps, the eigenpairs computed on first use and kept.

    ``remainder="damping"`` (the default) treats the part of ``v`` outside the eigenspace as if its eigenvalues
    were 0, exact when they are much smaller than δ; ``remainder="drop"`` discards it, as Schioppa et al. do. On
    650-parameter logistic regression at δ = 0.01, linear-influence scores agree with the exact solve at Spearman
    0.58 with rank 20 dropped (the old default), 0.89 with rank 50 and the remainder, and 0.98 with rank 100 and
    the remainder (the default); at δ = 0.001 the spectrum decays too slowly for any rank below ~300 to reach 0.9
    (0.67 at rank 100; ``benchmarks/scoring.py``). Each eigenpair costs two curvature products, computed once.
    Exact when ``rank`` covers the spectrum."""

    name = "arnoldi"

    def __init__(
        self,
        curvature: Curvature,
        damping: float,
        *,
        seed: int = 0,
        rank: int = 100,
        iterations: int | None = None,
        remainder: str = "damping",
    ) -> None:
        super().__init__(curvature, damping, seed=seed)
        check(remainder in ("damping", "drop"), "remainder", f"'damping' or 'drop', got {remainder!r}")
        self.rank, self.iterations, self.remainder = rank, iterations or 2 * rank, remainder

    @functools.cached_property
    def eigenpairs(self) -> tuple[Tensor, Tensor]:
        return top_eigenpairs(self.curvature, self.rank, self.iterations, stream(self.seed, "arnoldi"))

    def apply(self, v: Tensor) -> Tensor:
        values, vectors = self.eigenpairs
        flat = v.double().reshape(self.curvature.n_params, -1)
        coefficients = vectors.T @ flat
        x = vectors @ (coefficients / (values + self.damping)[:, None])
        if self.remainder == "damping":
            x = x + (flat - vectors @ coefficients) / self.damping
        return x.reshape(v.shape).to(v.dtype)
