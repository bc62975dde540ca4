"""Out-of-sample predicted probabilities by K-fold cross-fitting: what confident learning (cleanlab) and
relabelling need, because a trained model has memorised its own training labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.errors import check
from remedy.examples import Data
from remedy.inputs import logits
from remedy.models.config import TrainConfig
from remedy.models.train import train_model
from remedy.seeds import derive
from remedy.task import LossFn

if TYPE_CHECKING:
    from remedy.posterior import Posterior


@torch.no_grad()
def probabilities(model: nn.Module, data: Data, batch_size: int = 1024) -> Tensor:
    """``softmax(model(x))`` for every example of ``data``, in batches, on the CPU, float64."""
    device = next(model.parameters()).device
    return torch.cat(
        [torch.softmax(logits(model, b.to(device).x).double(), -1).cpu() for b in data.batches(batch_size)]
    )


def out_of_sample_probabilities(
    make: Callable[[int], nn.Module], train: Data, loss: LossFn, config: TrainConfig, folds: int, seed: int
) -> Tensor:
    """``[N, C]`` probabilities where row i comes from a model trained, from a fresh ``make(seed_k)``, with
    ``config`` on the other ``folds − 1`` class-stratified folds (so it never saw example i)."""
    check(folds >= 2, "folds", f"at least 2 folds, got {folds}")
    labels = train.labels.cpu().numpy()
    splitter = StratifiedKFold(folds, shuffle=True, random_state=derive(seed, "folds") % 2**32)
    out: Tensor | None = None
    splits = list(splitter.split(np.zeros(len(labels)), labels))
    for k, (fit_index, held_index) in enumerate(tqdm(splits, desc="cross-fitting", disable=None, leave=False)):
        fold_seed = derive(seed, f"fold-{k}") % 2**31
        recipe = replace(config, record=False)
        model, _ = train_model(
            make(fold_seed), train.subset(torch.as_tensor(fit_index)), loss, recipe, fold_seed, "fold"
        )
        held = torch.as_tensor(held_index)
        probs = probabilities(model, train.subset(held))
        out = torch.zeros(len(labels), probs.shape[1], dtype=torch.float64) if out is None else out
        out[held] = probs
    assert out is not None
    return out


def out_of_sample(posterior: Posterior, folds: int = 5, seed: int = 0) -> Tensor:
    """The posterior's training set's out-of-sample probabilities (:func:`out_of_sample_probabilities` with its
    fresh models, loss and training recipe), computed once per posterior, folds and seed."""
    return posterior.memo(
        ("out-of-sample", folds, seed),
        lambda: out_of_sample_probabilities(
            posterior.fresh_model, posterior.train, posterior.loss, posterior.record.config, folds, seed
        ),
    )
