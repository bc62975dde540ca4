"""The one interface every curvature back-end implements: a symmetric linear operator on flat parameter
vectors that can multiply, and — where it has closed form — solve."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from remedy.errors import RemedyError, check

DENSE_LIMIT = 10_000
"""The most parameters for which a curvature is built as an explicit matrix."""


class Curvature(ABC):
    """A symmetric ``[P, P]`` operator C at θ̂ (Hessian, GGN, Fisher, ...), applied to ``[P]`` or ``[P, k]``.

    Back-ends set ``n_params``, ``device`` and ``dtype`` and implement ``matvec``."""

    name: str = "curvature"
    n_params: int
    device: torch.device
    dtype: torch.dtype

    @abstractmethod
    def matvec(self, v: Tensor) -> Tensor:
        """``C v`` for ``v`` of shape ``[P]`` or ``[P, k]``."""

    def solve(self, v: Tensor, damping: float) -> Tensor:
        """``(C + damping·I)⁻¹ v`` in closed form, for back-ends that have one."""
        raise RemedyError(f"--solver: {self.name} has no closed-form inverse; use direct, cg, lissa or arnoldi")

    def sample(self, batch_size: int, generator: torch.Generator) -> Curvature:
        """The same curvature on a random mini-batch of the data (stochastic solvers); exact back-ends return self."""
        return self

    def dense(self, columns: int = 256) -> Tensor:
        """The explicit ``[P, P]`` matrix, built from ``matvec`` on blocks of identity columns (small models only)."""
        check(
            self.n_params <= DENSE_LIMIT,
            "--solver",
            f"at most 10,000 parameters for a dense curvature (else cg, lissa or arnoldi), got {self.n_params}",
        )
        eye = torch.eye(self.n_params, dtype=self.dtype, device=self.device)
        blocks = [self.matvec(eye[:, i : i + columns]) for i in range(0, self.n_params, columns)]
        matrix = torch.cat(blocks, dim=1)
        return 0.5 * (matrix + matrix.T)


def as_matrix(v: Tensor) -> tuple[Tensor, bool]:
    """``v`` as ``[P, k]`` and whether it was a single vector."""
    return (v.unsqueeze(1), True) if v.ndim == 1 else (v, False)
