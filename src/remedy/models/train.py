"""Training from scratch as in Tanno et al. App. C: Adam (lr 1e-3), batch 64, early stopping with
patience 5 on a 10 % validation split."""

from __future__ import annotations

import copy

import torch
from torch import nn

from remedy.errors import check
from remedy.examples import Data, Examples, ExamplesLike, as_data
from remedy.models.fit import FitLog, TrainConfig, fit
from remedy.seeds import stream
from remedy.task import LossFn, cross_entropy


@torch.no_grad()
def loss_and_error(
    model: nn.Module, data: Data, loss: LossFn = cross_entropy, batch_size: int = 1024
) -> tuple[float, float]:
    """Mean per-example loss of ``model`` on ``data`` and the fraction it misclassifies, in one pass."""
    device = next(model.parameters()).device
    total, wrong = 0.0, 0
    for chunk in data.batches(batch_size):
        chunk = chunk.to(device)
        logits = model(chunk.x)
        total += float(loss(logits, chunk.y).sum())
        wrong += int((logits.argmax(-1) != chunk.y).sum())
    return total / len(data), wrong / len(data)


def validation_split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The indices :func:`train_model` fits on and the ``fraction`` (at least one) it early-stops on."""
    order = torch.randperm(n, generator=stream(seed, "validation-split"))
    n_val = max(1, round(fraction * n))
    return order[n_val:], order[:n_val]


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
    train = as_data(train, "train")
    check(0.0 < config.val_fraction < 1.0, "val_fraction", f"a fraction in (0, 1), got {config.val_fraction}")
    check(len(train) >= 2, "train", f"at least 2 examples, got {len(train)}")
    model = copy.deepcopy(model)
    device = next(model.parameters()).device
    fit_index, val_index = validation_split(len(train), config.val_fraction, seed)
    fit_part, val_part = train.subset(fit_index), train.subset(val_index)
    if isinstance(train, Examples):
        fit_part, val_part = fit_part.to(device), val_part.to(device)

    def objective(batch: torch.Tensor) -> torch.Tensor:
        part = fit_part.take(batch).to(device)
        return loss(model(part.x), part.y).mean()

    log = fit(
        model,
        len(fit_part),
        objective,
        lambda m: loss_and_error(m, val_part, loss)[0],
        config,
        seed=seed,
        desc=desc,
    )
    return model, log
