"""The diagonal empirical Fisher ``F̂ = (1/N) Σ_i g_i ⊙ g_i``, ``g_i = ∇ log p(z_i | θ̂)``.

Built from per-example gradients: squaring a mini-batch gradient instead gives
``(Σ_i g_i)² / B²``, a different (and much smaller) quantity — a common bug.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from remedy.chunks import CHUNK_ROWS, sum_over_chunks
from remedy.curvature.grads import DEFAULT_CHUNK_BYTES, per_example_grads
from remedy.examples import Data
from remedy.task import LossFn


@torch.no_grad()
def diagonal_fisher(
    model: nn.Module, loss: LossFn, data: Data, chunk_bytes: int = DEFAULT_CHUNK_BYTES, store: Path | None = None
) -> Tensor:
    """Flat ``[P]`` diagonal of the empirical Fisher of ``model`` on ``data``: the mean of squared per-example
    gradients, summed chunk by chunk in order (sharded across processes; saved per chunk in ``store``)."""
    device = next(model.parameters()).device

    def squares(chunk: Data) -> Tensor:
        return sum(g.square().sum(0) for _, g in per_example_grads(model, loss, chunk, chunk_bytes))  # type: ignore[return-value]

    total = sum_over_chunks(data, CHUNK_ROWS, squares, "fisher", store)
    assert isinstance(total, Tensor)
    return total.to(device) / len(data)
