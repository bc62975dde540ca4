"""The trained model as a posterior ``q(θ) = δ(θ − θ̂)`` that can be edited (Tanno et al. §2).

Identification *inserts* the factor ``p(F | θ)``; treatment *deletes* ``p(C | θ)``. Both are
continual-(un)learning updates of θ̂ performed by an interchangeable update strategy
(:mod:`remedy.update`); the posterior supplies what every strategy needs: θ̂, the training data,
the likelihood, and the curvature ``F̂`` (computed once, then cached).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn.utils import vector_to_parameters

from remedy.cache import Cache, fingerprint
from remedy.chunks import Result, gather_chunks, local_chunks, on_cpu, over_chunks
from remedy.curvature import (
    BATCH_ROWS,
    DEFAULT_CHUNK_BYTES,
    Curvature,
    DampedInverse,
    DiagonalFisher,
    InverseSettings,
    build_curvature,
    chunk_size,
    diagonal_fisher,
    flatten,
    gradient_products,
    per_example_grads,
    trainable,
    weighted_gradient,
)
from remedy.curvature.functional import random_subset
from remedy.errors import RemedyError, check
from remedy.examples import Data, Examples, ExamplesLike, Streamed, as_data, as_examples
from remedy.models.train import TrainConfig
from remedy.seeds import seeded, stream
from remedy.task import LossFn, check_eval_model, cross_entropy

if TYPE_CHECKING:
    from remedy.update import Fitted, Update


class Posterior:
    """θ̂ with its training data, per-example loss ``-log p(z | θ)`` and what is computed from them at θ̂.

    The posterior holds the problem (model, data, loss, training recipe) and its caches (the diagonal Fisher,
    curvatures and their damped inverses, per-example training gradients); the updates that edit it live in
    :mod:`remedy.update`. The model is deep-copied: nothing done through the posterior touches the caller's
    module.

    Args:
        model: the trained classifier in eval mode; ``model(x)`` returns logits.
        train: the training set D as ``(x, y)`` tensors, or a ``Dataset`` read in batches (never copied whole).
        loss: per-example negative log-likelihood ``loss(logits, y) -> [B]``.
        config: the training recipe (optimiser, early stopping) that updates and retraining follow.
        weight_decay: the L2 coefficient λ of the training objective ``J(θ) = mean loss + λ/2 ‖θ‖²``
            (0 when the model was trained without one); part of every curvature and Newton step.
        init: builds a freshly initialised model for retraining from scratch; by default a copy of
            ``model`` with every submodule's ``reset_parameters()`` called under the given seed.
        chunk_bytes: memory budget for one chunk of per-example gradients.
        cache_dir: a folder where the diagonal Fisher and (up to ``cache_bytes``) the per-example
            training gradients are saved and reused while the model, data and loss fingerprints match.
        cache_bytes: the largest gradient matrix ``[N, P]`` kept on disk and in memory.
        checkpoints: state dicts of the model along the training run that produced θ̂, oldest first (what
            ``train_model`` keeps in ``FitLog.checkpoints``): the trajectory TracIn sums over.
    """

    def __init__(
        self,
        model: nn.Module,
        train: ExamplesLike,
        loss: LossFn = cross_entropy,
        *,
        config: TrainConfig | None = None,
        weight_decay: float = 0.0,
        init: Callable[[int], nn.Module] | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        cache_dir: str | Path | None = None,
        cache_bytes: int = 2**30,
        checkpoints: Sequence[Mapping[str, Tensor]] = (),
    ) -> None:
        check_eval_model(model)
        self.model = copy.deepcopy(model)
        self.device = next(self.model.parameters()).device
        data = as_data(train, "train")
        first = data.take(torch.arange(1)).to(self.device)
        try:
            with torch.no_grad():
                logits = self.model(first.x)
        except Exception as err:  # the user's module decides what it rejects
            raise RemedyError(
                f"train: expected inputs the model accepts, got x of shape {tuple(first.x.shape[1:])} ({err})"
            ) from err
        check(logits.ndim == 2, "model", f"logits of shape [B, classes], got {tuple(logits.shape)}")
        self.num_classes = int(logits.shape[1])
        data = as_data(data, "train", self.num_classes)
        if isinstance(data, Streamed):  # batches of inputs within a quarter of the memory budget
            data = replace(data, batch_bytes=min(data.batch_bytes, chunk_bytes // 4))
        self.train: Data = data.to(self.device) if isinstance(data, Examples) else data
        self.loss = loss
        self.config = config or TrainConfig()
        check(weight_decay >= 0, "weight_decay", f"a non-negative L2 coefficient, got {weight_decay}")
        self.weight_decay = weight_decay
        self.chunk_bytes = chunk_bytes
        self._init = init
        self._theta = flatten(trainable(self.model)).clone()
        self._curvatures: dict[str, Curvature] = {}
        self._inverses: dict[str, DampedInverse] = {}
        self._fisher: Tensor | None = None
        self._train_log_likelihood: Tensor | None = None
        self._grads: dict[int, Tensor] | None = None  # this process's chunks of per-example gradients
        self._memo: dict[Hashable, Any] = {}
        self.checkpoints = [dict(state) for state in checkpoints]
        self.cache = Cache(cache_dir) if cache_dir is not None else None
        self.cache_bytes = cache_bytes
        if self.cache is not None:
            loss_name = f"{getattr(loss, '__module__', '')}.{getattr(loss, '__qualname__', repr(loss))}"
            self._key = {
                "model": fingerprint(self.model),
                "data": fingerprint(self.train),
                "loss": loss_name,
            }

    @property
    def n(self) -> int:
        """N, the number of training examples."""
        return len(self.train)

    def examples(self, data: ExamplesLike, name: str, allow_empty: bool = False) -> Examples:
        """Validate ``data`` against this model's classes and move it to the model's device."""
        return as_examples(data, name, self.num_classes, allow_empty).to(self.device)

    def causes(self, causes: Tensor, name: str = "causes", allow_empty: bool = False) -> Tensor:
        """Validate training indices (or a boolean mask of length N) and return them as sorted unique indices."""
        causes = torch.as_tensor(causes)
        if causes.dtype == torch.bool:
            check(
                causes.shape == (self.n,), name, f"a boolean mask of length {self.n}, got shape {tuple(causes.shape)}"
            )
            causes = torch.nonzero(causes).flatten()
        check(causes.ndim == 1 and not causes.is_floating_point(), name, "a 1-D tensor of integer training indices")
        if len(causes) == 0:
            check(allow_empty, name, "at least one training index, got none")
            return causes.long().cpu()
        check(int(causes.min()) >= 0 and int(causes.max()) < self.n, name, f"indices in [0, {self.n - 1}]")
        return torch.unique(causes.long().cpu())

    def copy_model(self) -> nn.Module:
        """A fresh copy of θ̂ to update."""
        return copy.deepcopy(self.model)

    def model_at(self, theta: Tensor) -> nn.Module:
        """A copy of the model with its trainable parameters set to the flat vector ``theta``."""
        check(theta.shape == self._theta.shape, "theta", f"a flat vector of {self._theta.numel()} parameters")
        model = copy.deepcopy(self.model)
        with torch.no_grad():
            vector_to_parameters(theta.to(self._theta), [p for p in model.parameters() if p.requires_grad])
        return model

    def model_from(self, state: Mapping[str, Tensor]) -> nn.Module:
        """A copy of the model with the state dict ``state`` (a checkpoint) loaded, in eval mode."""
        model = copy.deepcopy(self.model)
        model.load_state_dict({key: value.to(self.device) for key, value in state.items()})
        return model.eval()

    def fresh_model(self, seed: int) -> nn.Module:
        """A newly initialised model of the same architecture, for retraining from scratch."""
        if self._init is not None:
            return self._init(seed).to(self.device)
        model = copy.deepcopy(self.model)
        with seeded(seed, "init"):
            for module in model.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()
        return model

    def fisher(self) -> Tensor:
        """The diagonal empirical Fisher ``F̂`` at θ̂ on D, flat ``[P]`` (computed once)."""
        if self._fisher is None:
            store = self.cache.store("fisher-chunks", {**self._key, "rows": self.rows}) if self.cache else None
            self._fisher = self._cached(
                "fisher-diag", lambda: diagonal_fisher(self.model, self.loss, self.train, self.chunk_bytes, store)
            )
        return self._fisher

    def set_fisher(self, diagonal: Tensor) -> None:
        """Use ``diagonal`` ``[P]`` as the diagonal Fisher from now on (e.g. a true Fisher computed elsewhere);
        curvatures and inverses built from the old one are dropped."""
        check(diagonal.shape == self._theta.shape, "diagonal", f"a flat vector of {self._theta.numel()} entries")
        check(bool(torch.isfinite(diagonal).all()) and bool((diagonal >= 0).all()), "diagonal", "finite entries >= 0")
        self._fisher = diagonal.to(self._theta)
        self._curvatures.pop("fisher-diag", None)
        self._inverses = {k: v for k, v in self._inverses.items() if '"fisher-diag"' not in k}

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` for the life of this posterior: results that several methods share
        (out-of-sample probabilities, a refit last layer) are computed once per run."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def _cached(self, kind: str, compute: Callable[[], Tensor]) -> Tensor:
        if self.cache is None:
            return compute()
        found = self.cache.load(kind, self._key, self.device)
        if found is not None:
            return found["value"]
        value = compute()
        self.cache.save(kind, self._key, {"value": value})
        return value

    def curvature(self, name: str = "ggn", examples: int | None = None, seed: int = 0) -> Curvature:
        """The named curvature (:data:`remedy.curvature.CURVATURES`) of the training objective at θ̂, built once and
        reused; on ``examples`` training examples drawn with ``seed`` (their own stream) instead of all N if given."""
        check(examples is None or examples > 0, "curvature_examples", f"a positive number of examples, got {examples}")
        subset = examples is not None and examples < self.n
        key = f"{name}/{examples}/{seed}" if subset else name
        if key not in self._curvatures:
            if name == "fisher-diag" and not subset:  # the diagonal the posterior already holds (and caches on disk)
                self._curvatures[key] = DiagonalFisher(self.fisher(), self.weight_decay)
            else:
                data = random_subset(self.train, examples, stream(seed, "curvature-examples")) if subset else self.train
                self._curvatures[key] = build_curvature(name, self.model, self.loss, data, self.weight_decay)
        return self._curvatures[key]

    def inverse(self, settings: InverseSettings) -> DampedInverse:
        """The damped inverse ``(C + δI)⁻¹`` that ``settings`` describe, built once (with its factorisation) and
        reused by every later method that asks for the same settings."""
        check(isinstance(settings, InverseSettings), "inverse", "a remedy.curvature.InverseSettings")
        key = settings.key()
        if key not in self._inverses:
            curvature = self.curvature(settings.curvature, settings.examples, settings.seed)
            self._inverses[key] = settings.build(curvature)
        return self._inverses[key]

    @property
    def rows(self) -> int:
        """Training examples per chunk: as many per-example gradients as fit in ``chunk_bytes``."""
        return chunk_size(self._theta.numel(), self.chunk_bytes, self._theta.element_size())

    def _keeps_grads(self) -> bool:
        return self.cache is not None and self.n * self._theta.numel() * self._theta.element_size() <= self.cache_bytes

    def map_train(
        self, compute: Callable[[Data], Result], kind: str, key: Mapping[str, Any] | None = None
    ) -> list[Result]:
        """``compute(chunk)`` for the training set in chunks of :attr:`rows` examples, in order: sharded across
        processes (:mod:`remedy.chunks`) and, with a cache and a ``key`` (what else the results depend on), saved
        chunk by chunk, so that a run killed midway resumes from the chunks it finished."""
        store = None
        if self.cache is not None and key is not None:
            store = self.cache.store(kind, {**self._key, **key, "rows": self.rows})
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
                assert self.cache is not None  # kept only with a cache
                store = self.cache.store("train-grads", {**self._key, "rows": self.rows})
                local = local_chunks(self.train, self.rows, self._grads_of, "train-grads", store)
                self._grads = {i: g.to(self.device) for i, g in local.items()}
            return gather_chunks({i: on_cpu(compute(g)) for i, g in self._grads.items()})
        return self.map_train(lambda chunk: compute(self._grads_of(chunk)), kind, key)

    def _grads_of(self, chunk: Data) -> Tensor:
        return torch.cat([g for _, g in per_example_grads(self.model, self.loss, chunk, self.chunk_bytes)])

    def train_products(self, directions: Tensor) -> Tensor:
        """``[N, k]`` products ``∇ loss(z_i, θ̂)ᵀ directions[:, j]`` for every training example (on the CPU).

        From the (disk-)cached gradient matrix when the posterior keeps one, else by
        :func:`~remedy.curvature.grads.gradient_products` (forward mode for a few directions), chunk by chunk
        (:meth:`map_train`: resumable with a cache, sharded across processes)."""
        directions = directions.reshape(self._theta.numel(), -1)
        if self._keeps_grads():
            return torch.cat(self.map_grads(lambda g: g @ directions.to(g), "train-products"))
        key = {"directions": fingerprint(directions)}
        compute = lambda chunk: gradient_products(self.model, self.loss, chunk, directions, self.chunk_bytes)  # noqa: E731
        return torch.cat(self.map_train(compute, "train-products", key))

    def theta(self) -> Tensor:
        """θ̂ as a flat vector (a copy)."""
        return self._theta.clone()

    def gradient(self, data: Data) -> Tensor:
        """``∇_θ`` of the mean loss of ``data`` at θ̂, flat ``[P]``."""
        return weighted_gradient(
            self.model, self.loss, data, torch.full((len(data),), 1 / len(data), device=self.device)
        )

    @torch.no_grad()
    def log_likelihood(self, data: Data, model: nn.Module | None = None, batch_size: int = BATCH_ROWS) -> Tensor:
        """``log p(z | θ)`` for every example of ``data``, at θ̂ or at ``model``'s parameters, on the CPU. On the
        training set the pass is chunked and sharded across processes (:meth:`map_train`); θ̂'s is computed once
        and kept."""
        if model is None and data is self.train and self._train_log_likelihood is not None:
            return self._train_log_likelihood.clone()
        net = model or self.model

        def compute(chunk: Data) -> Tensor:
            parts = []
            for part in chunk.batches(batch_size):
                part = part.to(self.device)
                parts.append(-self.loss(net(part.x), part.y).cpu())
            return torch.cat(parts)

        if data is not self.train:
            return compute(data)
        values = torch.cat(self.map_train(compute, "log-likelihood"))
        if model is None:
            self._train_log_likelihood = values.clone()
        return values

    def insert(self, data: ExamplesLike, update: Update, stop: ExamplesLike) -> Fitted:
        """Add the factor ``p(data | θ)`` to the posterior with ``update``; returns the new model θ* and its fit."""
        validated = as_data(data, "data", self.num_classes)
        validated = validated.to(self.device) if isinstance(validated, Examples) else validated
        return update.insert(self, validated, self.examples(stop, "stop"))

    def delete(self, causes: Tensor, update: Update, stop: ExamplesLike) -> Fitted:
        """Remove the factor ``p(C | θ)`` of training indices ``causes`` with ``update``; returns θ** and its fit."""
        return update.delete(self, self.causes(causes, allow_empty=True), self.examples(stop, "stop"))

    def kept(self, causes: Tensor) -> Data:
        """D \\ C for training indices ``causes``."""
        mask = torch.ones(self.n, dtype=torch.bool)
        mask[self.causes(causes, allow_empty=True)] = False
        check(bool(mask.any()), "causes", "to leave at least one training example, got all of them")
        return self.train.subset(torch.nonzero(mask).flatten())
