"""LiSSA: the stochastic Neumann-series estimator of Agarwal et al. ("SA" in Tanno et al.)."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.curvature.operator import Curvature, as_matrix
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import RemedyError, check


def largest_eigenvalue(curvature: Curvature, generator: torch.Generator, iterations: int = 20) -> float:
    """The largest eigenvalue magnitude of ``curvature`` by power iteration."""
    x = torch.randn(curvature.n_params, generator=generator, dtype=curvature.dtype).to(curvature.device)
    value = 0.0
    for _ in range(iterations):
        y = curvature.matvec(x / x.norm())
        value = float(y.norm())
        x = y
    return value


@SOLVERS.register("lissa")
def lissa(
    curvature: Curvature,
    v: Tensor,
    damping: float,
    depth: int = 200,
    scale: float | None = None,
    repeats: int = 1,
    batch_size: int = 128,
    seed: int = 0,
) -> Tensor:
    """``(C + δI)⁻¹ v ≈ (1/s) Σ_{j<depth} (I − (C_j + δI)/s)^j v`` with ``C_j`` on a fresh random mini-batch
    each step, averaged over ``repeats``. Converges when ``s`` exceeds the largest eigenvalue of ``C + δI``;
    stops with a clear error as soon as the recursion blows up instead of returning NaN.

    ``scale=None`` takes 1.5 × the largest eigenvalue of ``C + δI`` from 20 power iterations on one
    mini-batch of ``batch_size`` (the recursion's stability depends on the mini-batch curvature). A truncated
    ``depth`` inverts well only the directions with eigenvalue ≫ ``scale/depth``; the rest are shrunk
    (which acts as extra damping)."""
    gen = torch.Generator().manual_seed(seed)
    if scale is None:
        scale = 1.5 * (largest_eigenvalue(curvature.sample(batch_size, gen), gen) + damping)
    check(depth > 0 and repeats > 0 and scale > 0, "--solver lissa", "positive depth, repeats and scale")
    b, single = as_matrix(v)
    limit = 1e6 * float(b.norm()) + 1e-30
    total = torch.zeros_like(b)
    for _ in range(repeats):
        h = b.clone()
        for step in range(depth):
            ch = curvature.sample(batch_size, gen).matvec(h)
            h = b + h - (ch + damping * h) / scale
            norm = float(h.norm())
            if not norm < limit:  # also catches NaN
                raise RemedyError(
                    f"--solver lissa: diverged at step {step + 1} (norm {norm:.3g}); "
                    "increase scale above the curvature's largest eigenvalue"
                )
        total += h / scale
    out = total / repeats
    return out.squeeze(1) if single else out
