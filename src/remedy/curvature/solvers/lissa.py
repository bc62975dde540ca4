"""LiSSA: the stochastic Neumann-series estimator of Agarwal et al. ("SA" in Tanno et al.)."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.curvature.operator import Curvature, as_matrix
from remedy.curvature.solvers.base import DampedInverse
from remedy.curvature.solvers.registry import SOLVERS
from remedy.errors import RemedyError, check
from remedy.seeds import stream


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
class Lissa(DampedInverse):
    """``(C + δI)⁻¹ v ≈ (1/s) Σ_{j<depth} (I − (C_j + δI)/s)^j v`` with ``C_j`` on a fresh random mini-batch of
    ``batch_size`` each step, averaged over ``repeats``. Converges when ``s`` exceeds the largest eigenvalue of
    ``C + δI``; stops with a clear error as soon as the recursion blows up instead of returning NaN.

    ``scale=None`` takes 1.5 × the largest eigenvalue of ``C + δI`` from 20 power iterations on one mini-batch
    (the recursion's stability depends on the mini-batch curvature), found once. A truncated ``depth`` inverts
    well only the directions with eigenvalue ≫ ``scale/depth``; the rest are shrunk (extra damping)."""

    name = "lissa"

    def __init__(
        self,
        curvature: Curvature,
        damping: float,
        *,
        seed: int = 0,
        depth: int = 200,
        scale: float | None = None,
        repeats: int = 1,
        batch_size: int = 128,
    ) -> None:
        super().__init__(curvature, damping, seed=seed)
        check(depth > 0 and repeats > 0 and batch_size > 0, "--solver lissa", "positive depth, repeats and batch_size")
        check(scale is None or scale > 0, "--solver lissa", f"a positive scale, got {scale}")
        self.depth, self.repeats, self.batch_size = depth, repeats, batch_size
        self.generator = stream(seed, "lissa")
        self.scale = scale

    def apply(self, v: Tensor) -> Tensor:
        gen = self.generator
        if self.scale is None:
            self.scale = 1.5 * (largest_eigenvalue(self.curvature.sample(self.batch_size, gen), gen) + self.damping)
        b, single = as_matrix(v)
        limit = 1e6 * float(b.norm()) + 1e-30
        total = torch.zeros_like(b)
        for _ in range(self.repeats):
            h = b.clone()
            for step in range(self.depth):
                ch = self.curvature.sample(self.batch_size, gen).matvec(h)
                h = b + h - (ch + self.damping * h) / self.scale
                norm = float(h.norm())
                if not norm < limit:  # also catches NaN
                    raise RemedyError(
                        f"--solver lissa: diverged at step {step + 1} (norm {norm:.3g}); "
                        "increase scale above the curvature's largest eigenvalue"
                    )
            total += h / self.scale
        out = total / self.repeats
        return out.squeeze(1) if single else out
