"""The trained model as a posterior ``q(θ) = δ(θ − θ̂)`` that can be edited (Tanno et al. §2).

Identification *inserts* the factor ``p(F | θ)``; treatment *deletes* ``p(C | θ)``. Both are
continual-(un)learning updates of θ̂ performed by an interchangeable update strategy
(:mod:`remedy.update`). The posterior is the trained problem: θ̂, the training data, the likelihood, the
objective and the record of how θ̂ was trained; its chunked passes over the data (:attr:`passes`) and its
curvatures (:attr:`curvatures`) are objects of their own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn.utils import vector_to_parameters

from remedy import inputs
from remedy.curvature.store import Curvatures
from remedy.errors import RemedyError, check
from remedy.examples import Data, Examples, ExamplesLike, Streamed, as_data, as_examples
from remedy.models.record import TrainingRecord
from remedy.models.sisa import fresh
from remedy.params import choose
from remedy.passes import Chunking, TrainPasses
from remedy.task import LossFn, check_eval_model, cross_entropy

if TYPE_CHECKING:
    from remedy.update import Fitted, Update


class Posterior:
    """θ̂ with its training data, per-example loss ``-log p(z | θ)``, objective and training record.

    The model is deep-copied: nothing done through the posterior touches the caller's module.

    Args:
        model: the trained classifier in eval mode; ``model(x)`` returns logits.
        train: the training set D as ``(x, y)`` tensors, or a ``Dataset`` read in batches (never copied whole).
        loss: per-example negative log-likelihood ``loss(logits, y) -> [B]``.
        weight_decay: the L2 coefficient λ of the training objective ``J(θ) = mean loss + λ/2 ‖θ‖²`` (0 when the
            model was trained without one); part of every curvature and Newton step.
        record: how θ̂ was trained (:class:`~remedy.models.record.TrainingRecord`, what ``train_model`` returns):
            the recipe that updates and retraining follow, the checkpoints, and every step when it was kept.
        chunking: the memory budget and cache folder of the passes over the training set.
        params: glob patterns over parameter names: scores, curvature and treatments act on those parameters only,
            the others frozen (:mod:`remedy.params`); empty: every trainable parameter.
    """

    def __init__(
        self,
        model: nn.Module,
        train: ExamplesLike,
        loss: LossFn = cross_entropy,
        *,
        weight_decay: float = 0.0,
        record: TrainingRecord | None = None,
        chunking: Chunking | None = None,
        params: Sequence[str] = (),
    ) -> None:
        check_eval_model(model)
        check(weight_decay >= 0, "weight_decay", f"a non-negative L2 coefficient, got {weight_decay}")
        check(record is None or isinstance(record, TrainingRecord), "record", "a remedy.TrainingRecord")
        chunking = chunking or Chunking()
        self.model = copy.deepcopy(model)
        self.params = tuple(params)
        choose(self.model, self.params)
        self.device = next(self.model.parameters()).device
        data = as_data(train, "train")
        first = data.take(torch.arange(1)).to(self.device)
        try:
            with torch.no_grad():
                logits = inputs.logits(self.model, first.x)
        except Exception as err:  # the user's module decides what it rejects
            shapes = ", ".join(str(tuple(t.shape[1:])) for t in inputs.leaves(first.x))
            raise RemedyError(
                f"train: expected inputs the model accepts, got inputs of shape {shapes} ({err})"
            ) from err
        check(logits.ndim == 2, "model", f"logits of shape [B, classes], got {tuple(logits.shape)}")
        self.num_classes = int(logits.shape[1])
        data = as_data(data, "train", self.num_classes)
        if isinstance(data, Streamed):  # batches of inputs within a quarter of the memory budget
            data = replace(data, batch_bytes=min(data.batch_bytes, chunking.chunk_bytes // 4))
        self.train: Data = data.to(self.device) if isinstance(data, Examples) else data
        self.loss = loss
        self.weight_decay = weight_decay
        self.record = record or TrainingRecord()
        self.passes = TrainPasses(self.model, loss, self.train, chunking)
        self.curvatures = Curvatures(self.passes, weight_decay)
        self._memo: dict[Hashable, Any] = {}

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

    def theta(self) -> Tensor:
        """θ̂ as a flat vector (a copy)."""
        return self.passes.theta.clone()

    def copy_model(self) -> nn.Module:
        """A fresh copy of θ̂ to update."""
        return copy.deepcopy(self.model)

    def model_at(self, theta: Tensor) -> nn.Module:
        """A copy of the model with its trainable parameters set to the flat vector ``theta``."""
        size = self.passes.theta.numel()
        check(theta.shape == (size,), "theta", f"a flat vector of {size} parameters")
        model = copy.deepcopy(self.model)
        with torch.no_grad():
            vector_to_parameters(theta.to(self.passes.theta), [p for p in model.parameters() if p.requires_grad])
        return model

    def model_from(self, state: Mapping[str, Tensor]) -> nn.Module:
        """A copy of the model with the state dict ``state`` (a checkpoint) loaded, in eval mode."""
        model = copy.deepcopy(self.model)
        model.load_state_dict({key: value.to(self.device) for key, value in state.items()})
        return model.eval()

    def restrict(self, model: nn.Module) -> nn.Module:
        """``model`` (another model of the same architecture, e.g. a retrained ensemble member) with the same
        parameters chosen as θ̂'s (:attr:`params`), the others frozen in place."""
        choose(model, self.params)
        return model

    def fresh_model(self, seed: int) -> nn.Module:
        """A newly initialised model of the same architecture, for retraining from scratch: the record's ``init``,
        or a copy whose submodules' ``reset_parameters()`` run under ``seed``."""
        if self.record.init is not None:
            return self.record.init(seed).to(self.device)
        return fresh(self.model, seed)

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``key`` for the life of this posterior: results that several methods share
        (out-of-sample probabilities, a refit last layer) are computed once per run."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def log_likelihood(self, data: Data, model: nn.Module | None = None) -> Tensor:
        """``log p(z | θ)`` for every example of ``data`` at θ̂ (or at ``model``), on the CPU."""
        return self.passes.log_likelihood(data, model)

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
