"""Per-example gradients with ``torch.func`` (vmap over grad), chunked to a memory budget."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn
from torch.func import grad, jvp

from remedy import inputs
from remedy.errors import check
from remedy.examples import Data
from remedy.inputs import Inputs, logits, per_example
from remedy.task import LossFn

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


BATCH_ROWS = 64
"""Examples per batch of a pass over the data (per-example gradients, forward-mode products, GGN products,
log-likelihoods): larger batches of a small CNN's activations fall out of the CPU's caches. On the demo's CNN
per-example gradients cost 1.4 epochs in batches of 32–64 and 2.8 in batches of 512; `benchmarks/products.py`
times the other passes at 64 and at their former batch sizes."""


def per_example_grads(
    model: nn.Module, loss: LossFn, data: Data, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[tuple[int, Tensor]]:
    """Yield ``(start, G)`` where row ``i`` of ``G [B, P]`` is ``∇_θ loss(model(x_{start+i}), y_{start+i})``.

    ``loss`` is the per-example negative log-likelihood, so rows are ``-∇ log p(z | θ)``. Each chunk
    holds at most ``chunk_bytes`` of gradients (at least one row) and :data:`BATCH_ROWS` rows; parameters follow
    :func:`trainable`'s order.
    """
    params = trainable(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    n_params = sum(p.numel() for p in params.values())
    device = next(iter(params.values())).device
    size = min(BATCH_ROWS, chunk_size(n_params, chunk_bytes, next(iter(params.values())).element_size()))

    def single(p: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return loss(logits(model, inputs.apply(x, lambda t: t.unsqueeze(0)), (p, buffers)), y.unsqueeze(0)).sum()

    batched = per_example(grad(single), in_dims=(None, 0, 0))
    start = 0
    for part in data.batches(size):
        part = part.to(device)
        grads = batched(params, part.x, part.y)
        yield start, torch.cat([g.reshape(len(part), -1) for g in grads.values()], dim=1)
        start += len(part)


def directional_derivatives(
    model: nn.Module, loss: LossFn, data: Data, directions: Tensor, batch_size: int = BATCH_ROWS
) -> Tensor:
    """``D [N, k]`` with ``D[i, j] = ∇_θ loss(z_i)ᵀ directions[:, j]``, by forward-mode differentiation (``jvp``).

    Equal to ``G @ directions`` for the per-example gradient matrix ``G`` of :func:`per_example_grads`,
    without ever forming ``G``: each direction costs about two forward passes over ``data``, so this
    is the cheaper route for a few directions (one failure set, a handful of metrics). Batches hold
    :data:`BATCH_ROWS` examples.
    """
    params = trainable(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    names, shapes = list(params), [p.shape for p in params.values()]
    sizes = [p.numel() for p in params.values()]
    theta = flatten(params)
    check(
        directions.ndim == 2 and directions.shape[0] == theta.numel(),
        "directions",
        f"a [{theta.numel()}, k] matrix, got shape {tuple(directions.shape)}",
    )

    def losses(x: Inputs, y: Tensor) -> Callable[[Tensor], Tensor]:
        def of(flat: Tensor) -> Tensor:
            tensors = {n: t.view(s) for n, t, s in zip(names, flat.split(sizes), shapes, strict=True)}
            return loss(logits(model, x, (tensors, buffers)), y)

        return of

    out = []
    for part in data.batches(batch_size):
        part = part.to(theta.device)
        f = losses(part.x, part.y)
        columns = [jvp(f, (theta,), (d,))[1] for d in directions.T]
        out.append(torch.stack(columns, dim=1))
    return torch.cat(out).detach()


JVP_DIRECTIONS = 4
"""Up to this many directions, :func:`gradient_products` uses forward mode (``jvp``), not per-example gradients."""


def gradient_products(
    model: nn.Module,
    loss: LossFn,
    data: Data,
    directions: Tensor,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    unit: bool = False,
) -> Tensor:
    """``[N, k]`` products ``∇ loss(z_i)ᵀ directions[:, j]`` (with ``unit``, of the unit gradients ``g_i / ‖g_i‖``).

    For a few directions and no normalisation, forward mode (:func:`directional_derivatives`), which never forms
    a gradient; otherwise per-example gradients in chunks of ``chunk_bytes``."""
    if not unit and directions.shape[1] <= JVP_DIRECTIONS:
        try:
            return directional_derivatives(model, loss, data, directions)
        except NotImplementedError as err:  # an operation without a forward-mode rule (SDPA attention on the CPU)
            if not any(words in str(err) for words in ("forward AD", "forward mode AD")):
                raise
            warnings.warn(f"{str(err).splitlines()[0]}: gradient products by per-example gradients", stacklevel=2)
    parts = []
    for _, g in per_example_grads(model, loss, data, chunk_bytes):
        if unit:
            g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
        parts.append(g @ directions.to(g.dtype))
    return torch.cat(parts)


def weighted_gradient(model: nn.Module, loss: LossFn, data: Data, weights: Tensor, batch_size: int = 1024) -> Tensor:
    """``∇_θ Σ_i weights[i] · loss(z_i)``, flat ``[P]`` in :func:`trainable` order (batches with all-zero weights
    are skipped)."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    start = 0
    for part in data.batches(batch_size):
        w = weights[start : start + len(part)]
        start += len(part)
        if bool((w != 0).any()):
            part = part.to(params[0].device)
            value = loss(logits(model, part.x), part.y) @ w.to(params[0])
            for acc, g in zip(total, torch.autograd.grad(value, params), strict=True):
                acc += g
    return torch.cat([g.reshape(-1) for g in total])
