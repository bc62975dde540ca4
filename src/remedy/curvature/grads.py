"""Per-example gradients with ``torch.func`` (vmap over grad), chunked to a memory budget."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from remedy.errors import check
from remedy.task import Examples, LossFn

DEFAULT_CHUNK_BYTES = 256 * 2**20
"""Upper bound on the bytes of one chunk of per-example gradients ``[B, P]``."""


def trainable(model: nn.Module) -> dict[str, Tensor]:
    """The trainable parameters of ``model`` by name, detached (the order defines the flat layout)."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def flatten(tensors: dict[str, Tensor]) -> Tensor:
    """Concatenate a parameter dictionary into one flat vector."""
    return torch.cat([t.reshape(-1) for t in tensors.values()])


def chunk_size(n_params: int, chunk_bytes: int, itemsize: int = 4) -> int:
    """How many per-example gradient rows of ``n_params`` entries fit in ``chunk_bytes``."""
    check(chunk_bytes > 0, "chunk_bytes", f"a positive number of bytes, got {chunk_bytes}")
    return max(1, chunk_bytes // (n_params * itemsize))


def per_example_grads(
    model: nn.Module, loss: LossFn, data: Examples, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[tuple[int, Tensor]]:
    """Yield ``(start, G)`` where row ``i`` of ``G [B, P]`` is ``∇_θ loss(model(x_{start+i}), y_{start+i})``.

    ``loss`` is the per-example negative log-likelihood, so rows are ``-∇ log p(z | θ)``. Each chunk
    holds at most ``chunk_bytes`` of gradients (at least one row); parameters follow
    :func:`trainable`'s order.
    """
    params = trainable(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    n_params = sum(p.numel() for p in params.values())
    device = next(iter(params.values())).device
    size = chunk_size(n_params, chunk_bytes, next(iter(params.values())).element_size())

    def single(p: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return loss(functional_call(model, (p, buffers), (x.unsqueeze(0),)), y.unsqueeze(0)).sum()

    batched = vmap(grad(single), in_dims=(None, 0, 0))
    for start in range(0, len(data), size):
        part = data[start : start + size]
        grads = batched(params, part.x.to(device), part.y.to(device))
        yield start, torch.cat([g.reshape(len(part), -1) for g in grads.values()], dim=1)
