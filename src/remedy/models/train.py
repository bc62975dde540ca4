"""Training from scratch as in Tanno et al. App. C: Adam (lr 1e-3), batch 64, early stopping with
patience 5 on a 10 % validation split."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from remedy.errors import check
from remedy.models.fit import FitLog, fit
from remedy.task import Examples, ExamplesLike, LossFn, as_examples, cross_entropy


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and early-stopping settings shared by training, fine-tuning and the EWC updates.

    Attributes:
        lr: Adam learning rate.
        batch_size: mini-batch size.
        max_epochs: upper bound on epochs.
        patience: epochs without validation improvement before stopping.
        val_fraction: fraction of the training set held out for early stopping when training from scratch.
        check_every: measure the early-stopping criterion every this many steps (``None``: once per epoch).
    """

    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 100
    patience: int = 5
    val_fraction: float = 0.1
    check_every: int | None = None


@torch.no_grad()
def mean_loss(model: nn.Module, data: Examples, loss: LossFn = cross_entropy, batch_size: int = 1024) -> float:
    """Mean per-example loss of ``model`` on ``data``."""
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(data), batch_size):
        chunk = data[i : i + batch_size]
        total += float(loss(model(chunk.x.to(device)), chunk.y.to(device)).sum())
    return total / len(data)


@torch.no_grad()
def error_rate(model: nn.Module, data: Examples, batch_size: int = 1024) -> float:
    """Fraction of ``data`` that ``model`` misclassifies."""
    device = next(model.parameters()).device
    wrong = 0
    for i in range(0, len(data), batch_size):
        chunk = data[i : i + batch_size]
        wrong += int((model(chunk.x.to(device)).argmax(-1) != chunk.y.to(device)).sum())
    return wrong / len(data)


def train_model(
    model: nn.Module,
    train: ExamplesLike,
    loss: LossFn = cross_entropy,
    config: TrainConfig | None = None,
    seed: int = 0,
    desc: str = "train",
) -> tuple[nn.Module, FitLog]:
    """Train a copy of ``model`` on ``train`` (a random ``config.val_fraction`` held out for early stopping).

    The input model is not modified; the trained copy is returned in eval mode with its log.
    """
    config = config or TrainConfig()
    train = as_examples(train, "train")
    check(0.0 < config.val_fraction < 1.0, "val_fraction", f"a fraction in (0, 1), got {config.val_fraction}")
    check(len(train) >= 2, "train", f"at least 2 examples, got {len(train)}")
    model = copy.deepcopy(model)
    device = next(model.parameters()).device
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(config.val_fraction * len(train)))
    fit_part, val_part = train[order[n_val:]].to(device), train[order[:n_val]].to(device)

    def objective(batch: torch.Tensor) -> torch.Tensor:
        return loss(model(fit_part.x[batch]), fit_part.y[batch]).mean()

    log = fit(
        model,
        len(fit_part),
        objective,
        lambda m: mean_loss(m, val_part, loss),
        lr=config.lr,
        batch_size=config.batch_size,
        max_epochs=config.max_epochs,
        patience=config.patience,
        seed=seed,
        check_every=config.check_every,
        desc=desc,
    )
    return model, log
