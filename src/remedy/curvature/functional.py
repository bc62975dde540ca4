"""Shared plumbing for the back-ends that differentiate the model with ``torch.func``."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor, nn

from remedy.chunks import CHUNK_ROWS, sum_over_chunks
from remedy.curvature.grads import BATCH_ROWS, trainable
from remedy.curvature.operator import Curvature, as_matrix
from remedy.examples import Data, Examples
from remedy.inputs import Inputs, logits
from remedy.task import LossFn


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

    def __call__(self, flat: Tensor, x: Inputs) -> Tensor:
        return logits(self.model, x, (self.unflatten(flat), self.buffers))


def random_subset(data: Data, batch_size: int, generator: torch.Generator) -> Data:
    """``batch_size`` examples of ``data`` drawn without replacement by ``generator`` (a view for streamed data)."""
    return data.subset(torch.randperm(len(data), generator=generator)[: min(batch_size, len(data))])


class DataCurvature(Curvature):
    """A curvature of ``J(θ) = (1/N) Σ_i loss(f(θ, x_i), y_i) + (weight_decay/2) ‖θ‖²`` whose products are
    sums of per-chunk products; subclasses give the chunk product."""

    def __init__(
        self, model: nn.Module, loss: LossFn, data: Data, weight_decay: float = 0.0, chunk: int = BATCH_ROWS
    ) -> None:
        self.f = FunctionalModel(model)
        self.loss, self.data, self.weight_decay, self.chunk = loss, data, weight_decay, chunk
        self.n_params = self.f.theta.numel()
        self.device, self.dtype = self.f.theta.device, self.f.theta.dtype

    @abstractmethod
    def _chunk_products(self, part: Examples, v: Tensor) -> Tensor:
        """The unnormalised sum over ``part`` of the per-example curvature times the columns of ``v``."""

    def matvec(self, v: Tensor) -> Tensor:
        v, single = as_matrix(v)
        total = sum_over_chunks(self.data, CHUNK_ROWS, lambda chunk: self._products(chunk, v), f"{self.name} product")
        out = total.to(v) / len(self.data) + self.weight_decay * v  # type: ignore[union-attr]
        return out.squeeze(1) if single else out

    def _products(self, chunk: Data, v: Tensor) -> Tensor:
        out = torch.zeros_like(v)
        for part in chunk.batches(self.chunk):
            out += self._chunk_products(part.to(self.device), v)
        return out

    def sample(self, batch_size: int, generator: torch.Generator) -> DataCurvature:
        subset = random_subset(self.data, batch_size, generator)
        return type(self)(self.f.model, self.loss, subset, self.weight_decay, self.chunk)
