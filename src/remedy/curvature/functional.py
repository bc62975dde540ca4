"""Shared plumbing for the back-ends that differentiate the model with ``torch.func``."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.func import functional_call

from remedy.curvature.grads import trainable
from remedy.task import Examples


class FunctionalModel:
    """``model`` as a pure function of a flat parameter vector: ``logits = f(θ, x)``."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        params = trainable(model)
        self.names = list(params)
        self.shapes = [p.shape for p in params.values()]
        self.sizes = [p.numel() for p in params.values()]
        self.theta = torch.cat([p.reshape(-1) for p in params.values()])
        self.buffers = {name: b.detach() for name, b in model.named_buffers()}

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        return {n: t.view(s) for n, t, s in zip(self.names, flat.split(self.sizes), self.shapes, strict=True)}

    def __call__(self, flat: Tensor, x: Tensor) -> Tensor:
        return functional_call(self.model, (self.unflatten(flat), self.buffers), (x,))


def chunks(data: Examples, size: int) -> Iterator[Examples]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def random_subset(data: Examples, batch_size: int, generator: torch.Generator) -> Examples:
    index = torch.randperm(len(data), generator=generator)[: min(batch_size, len(data))]
    return data[index.to(data.y.device)]
