"""Arnoldi iHVP (Schioppa et al. 2022): top eigenpairs of the curvature from a Krylov space, then a low-rank inverse."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.curvature.operator import Curvature
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import check


def top_eigenpairs(curvature: Curvature, rank: int, iterations: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``rank`` eigenpairs of largest magnitude, from ``iterations`` Arnoldi steps (full re-orthogonalisation).

    When the Krylov space becomes invariant (a repeated eigenvalue, e.g. the damping floor of a low-rank
    GGN), the iteration restarts from a fresh random vector orthogonal to the basis."""
    check(
        0 < rank <= iterations, "--solver arnoldi", f"0 < rank <= iterations, got rank {rank}, iterations {iterations}"
    )
    gen = torch.Generator().manual_seed(seed)
    n = curvature.n_params
    iterations = min(iterations, n)
    basis = torch.zeros(n, iterations + 1, dtype=torch.float64, device=curvature.device)
    hessenberg = torch.zeros(iterations + 1, iterations, dtype=torch.float64)
    start = torch.randn(n, generator=gen, dtype=torch.float64).to(curvature.device)
    basis[:, 0] = start / start.norm()
    for k in range(iterations):
        w = curvature.matvec(basis[:, k].to(curvature.dtype)).double()
        scale = float(w.norm())
        w = orthogonalise(w, basis[:, : k + 1], hessenberg[:, k])
        norm = w.norm()
        if float(norm) > 1e-8 * max(scale, 1e-30):
            hessenberg[k + 1, k] = norm.cpu()
        else:  # invariant subspace found: continue from a new direction
            w = orthogonalise(torch.randn(n, generator=gen, dtype=torch.float64).to(w.device), basis[:, : k + 1])
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
def arnoldi(
    curvature: Curvature, v: Tensor, damping: float, rank: int = 20, iterations: int | None = None, seed: int = 0
) -> Tensor:
    """``U (Λ + δ)⁻¹ Uᵀ v`` on the top-``rank`` eigenspace U (the rest of ``v`` is dropped, as in Schioppa et al.).

    Exact when ``rank`` covers the spectrum; the eigenpairs are computed once per operator and reused."""
    key = (rank, iterations or 2 * rank, seed)
    cache = curvature.__dict__.setdefault("_arnoldi", {})
    if key not in cache:
        cache[key] = top_eigenpairs(curvature, rank, key[1], seed)
    values, vectors = cache[key]
    x = vectors @ ((vectors.T @ v.double().reshape(curvature.n_params, -1)) / (values + damping)[:, None])
    return x.reshape(v.shape).to(v.dtype)
