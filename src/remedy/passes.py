"""Passes over the training set at θ̂ in chunks that fit a memory budget: per-example gradients and their products,
log-likelihoods, the mean gradient. Each pass is sharded across processes and, with a cache folder, saved chunk by
chunk so that a killed run resumes (:mod:`remedy.chunks`); the gradient matrix is kept when it fits the cache."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from remedy.cache import Cache, fingerprint
from remedy.chunks import Result, gather_chunks, local_chunks, on_cpu, over_chunks
from remedy.curvature.grads import (
    BATCH_ROWS,
    DEFAULT_CHUNK_BYTES,
    chunk_size,
    flatten,
    gradient_products,
    per_example_grads,
    trainable,
    weighted_gradient,
)
from remedy.examples import Data
from remedy.inputs import logits
from remedy.task import LossFn


@dataclass(frozen=True)
class Chunking:
    """How the passes over the training set use memory and disk.

    Attributes:
        chunk_bytes: memory budget for one chunk of per-example gradients.
        cache_dir: a folder where the diagonal Fisher and per-chunk results (and, up to ``cache_bytes``, the
            per-example training gradients) are saved and reused while the model, data and loss fingerprints match.
        cache_bytes: the largest gradient matrix ``[N, P]`` kept on disk and in memory.
    """

    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    cache_dir: str | Path | None = None
    cache_bytes: int = 2**30


class TrainPasses:
    """The chunked passes over ``train`` at ``model``'s parameters (θ̂), with what they keep between calls."""

    def __init__(self, model: nn.Module, loss: LossFn, train: Data, chunking: Chunking) -> None:
        self.model, self.loss, self.train, self.chunking = model, loss, train, chunking
        self.device = next(model.parameters()).device
        self.theta = flatten(trainable(model)).detach()
        """θ̂ as a flat vector (read-only: copy before changing it)."""
        self.cache = Cache(chunking.cache_dir) if chunking.cache_dir is not None else None
        self.key: dict[str, str] = {}
        if self.cache is not None:
            loss_name = f"{getattr(loss, '__module__', '')}.{getattr(loss, '__qualname__', repr(loss))}"
            self.key = {"model": fingerprint(model), "data": fingerprint(train), "loss": loss_name}
        self._grads: dict[int, Tensor] | None = None  # this process's chunks of per-example gradients
        self._log_likelihood: Tensor | None = None

    @property
    def rows(self) -> int:
        """Training examples per chunk: as many per-example gradients as fit in ``chunk_bytes``."""
        return chunk_size(self.theta.numel(), self.chunking.chunk_bytes, self.theta.element_size())

    def store(self, kind: str, key: Mapping[str, Any]) -> Path | None:
        """The cache's chunk folder for ``kind`` results that depend on ``key`` (and the model, data and loss)."""
        return self.cache.store(kind, {**self.key, **key, "rows": self.rows}) if self.cache is not None else None

    def cached(self, kind: str, compute: Callable[[], Tensor]) -> Tensor:
        """``compute()``, or its value saved in the cache by an earlier run on the same model, data and loss."""
        if self.cache is None:
            return compute()
        found = self.cache.load(kind, self.key, self.device)
        if found is not None:
            return found["value"]
        value = compute()
        self.cache.save(kind, self.key, {"value": value})
        return value

    def _keeps_grads(self) -> bool:
        size = len(self.train) * self.theta.numel() * self.theta.element_size()
        return self.cache is not None and size <= self.chunking.cache_bytes

    def map_train(
        self, compute: Callable[[Data], Result], kind: str, key: Mapping[str, Any] | None = None
    ) -> list[Result]:
        """``compute(chunk)`` for the training set in chunks of :attr:`rows` examples, in order: sharded across
        processes and, with a cache and a ``key`` (what else the results depend on), saved chunk by chunk, so that a
        run killed midway resumes from the chunks it finished."""
        store = self.store(kind, key) if key is not None else None
        return over_chunks(self.train, self.rows, compute, kind, store)

    def map_grads(
        self, compute: Callable[[Tensor], Result], kind: str, key: Mapping[str, Any] | None = None
    ) -> list[Result]:
        """``compute(G)`` for the per-example training-loss gradients ``G [rows, P]`` (``∇ loss(z_i, θ̂)``) of every
        chunk, as :meth:`map_train`. With a cache and ``N·P`` within ``cache_bytes``, the gradients are computed
        once and saved chunk by chunk; each process keeps its own chunks in memory, and only ``compute``'s results
        travel between processes."""
        if self._keeps_grads():
            if self._grads is None:  # saved chunk by chunk: a killed run resumes, a later one reads them
                local = local_chunks(
                    self.train, self.rows, self._grads_of, "train-grads", self.store("train-grads", {})
                )
                self._grads = {i: g.to(self.device) for i, g in local.items()}
            return gather_chunks({i: on_cpu(compute(g)) for i, g in self._grads.items()})
        return self.map_train(lambda chunk: compute(self._grads_of(chunk)), kind, key)

    def _grads_of(self, chunk: Data) -> Tensor:
        return torch.cat([g for _, g in per_example_grads(self.model, self.loss, chunk, self.chunking.chunk_bytes)])

    def train_products(self, directions: Tensor) -> Tensor:
        """``[N, k]`` products ``∇ loss(z_i, θ̂)ᵀ directions[:, j]`` for every training example (on the CPU).

        From the (disk-)cached gradient matrix when one is kept, else by
        :func:`~remedy.curvature.grads.gradient_products` (forward mode for a few directions), chunk by chunk."""
        directions = directions.reshape(self.theta.numel(), -1)
        if self._keeps_grads():
            return torch.cat(self.map_grads(lambda g: g @ directions.to(g), "train-products"))
        key = {"directions": fingerprint(directions)}
        chunk_bytes = self.chunking.chunk_bytes
        compute = lambda chunk: gradient_products(self.model, self.loss, chunk, directions, chunk_bytes)  # noqa: E731
        return torch.cat(self.map_train(compute, "train-products", key))

    def gradient(self, data: Data) -> Tensor:
        """``∇_θ`` of the mean loss of ``data`` at θ̂, flat ``[P]``."""
        weights = torch.full((len(data),), 1 / len(data), device=self.device)
        return weighted_gradient(self.model, self.loss, data, weights)

    @torch.no_grad()
    def log_likelihood(self, data: Data, model: nn.Module | None = None, batch_size: int = BATCH_ROWS) -> Tensor:
        """``log p(z | θ)`` for every example of ``data``, at θ̂ or at ``model``'s parameters, on the CPU. On the
        training set the pass is chunked and sharded across processes; θ̂'s is computed once and kept."""
        if model is None and data is self.train and self._log_likelihood is not None:
            return self._log_likelihood.clone()
        net = model or self.model

        def compute(chunk: Data) -> Tensor:
            parts = []
            for part in chunk.batches(batch_size):
                part = part.to(self.device)
                parts.append(-self.loss(logits(net, part.x), part.y).cpu())
            return torch.cat(parts)

        if data is not self.train:
            return compute(data)
        values = torch.cat(self.map_train(compute, "log-likelihood"))
        if model is None:
            self._log_likelihood = values.clone()
        return values
