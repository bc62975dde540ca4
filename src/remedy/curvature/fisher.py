"""The diagonal empirical Fisher ``F̂ = (1/N) Σ_i g_i ⊙ g_i``, ``g_i = ∇ log p(z_i | θ̂)``.

Built from per-example gradients: squaring a mini-batch gradient instead gives
``(Σ_i g_i)² / B²``, a different (and much smaller) quantity — a common bug.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.curvature.grads import DEFAULT_CHUNK_BYTES, flatten, per_example_grads, trainable
from remedy.task import Examples, LossFn


@torch.no_grad()
def diagonal_fisher(model: nn.Module, loss: LossFn, data: Examples, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Tensor:
    """Flat ``[P]`` diagonal of the empirical Fisher of ``model`` on ``data``: the mean of squared
    per-example gradients."""
    total = torch.zeros_like(flatten(trainable(model)))
    for _, g in tqdm(per_example_grads(model, loss, data, chunk_bytes), desc="fisher", disable=None, leave=False):
        total += g.square().sum(0)
    return total / len(data)
