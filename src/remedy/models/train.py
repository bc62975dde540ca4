"""Training from scratch as in Tanno et al. App. C: Adam (lr 1e-3), batch 64, early stopping with
patience 5 on a 10 % validation split; the run is kept as a :class:`~remedy.models.record.TrainingRecord`."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from torch import nn

from remedy.errors import check
from remedy.examples import Data, Examples, ExamplesLike, as_data
from remedy.inputs import logits
from remedy.models.config import TrainConfig
from remedy.models.fit import describe_optimizer, fit, optimizer_for
from remedy.models.record import TrainingRecord, TrajectoryWriter, temporary_folder
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
        out = logits(model, chunk.x)
        total += float(loss(out, chunk.y).sum())
        wrong += int((out.argmax(-1) != chunk.y).sum())
    return total / len(data), wrong / len(data)


def training_objective(loss: LossFn, config: TrainConfig) -> LossFn:
    """The per-example objective training minimises: ``loss``, plus Thudi et al.'s standard-deviation term
    ``λ · std(logits) / classes`` when ``config.sd_regularizer = λ`` is set."""
    if not config.sd_regularizer:
        return loss

    def regularised(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss(logits, y) + config.sd_regularizer * logits.std(dim=1) / logits.shape[1]

    return regularised


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
    record_dir: str | Path | None = None,
) -> tuple[nn.Module, TrainingRecord]:
    """Train a copy of ``model`` on ``train`` (a random ``config.val_fraction`` held out for early stopping; a fixed
    schedule, ``config.early_stopping=False``, has nothing to stop and fits every example).

    The input model is not modified; the trained copy is returned in eval mode with the :class:`TrainingRecord`
    of the run: the recipe, the checkpoints and, with ``config.record``, every step in ``record_dir`` (a temporary
    folder, removed at exit, when not given). With ``config.shards`` or ``config.slices`` above 1 it trains SISA's
    :class:`~remedy.models.sisa.ShardEnsemble` instead, its checkpoints in ``record_dir``.
    """
    config = config or TrainConfig()
    train = as_data(train, "train")
    check(0.0 < config.val_fraction < 1.0, "val_fraction", f"a fraction in (0, 1), got {config.val_fraction}")
    check(len(train) >= 2, "train", f"at least 2 examples, got {len(train)}")
    if config.shards * config.slices > 1:
        return _sharded(model, train, loss, config, seed, record_dir)
    model = copy.deepcopy(model)
    device = next(model.parameters()).device
    if config.early_stopping:
        fit_index, val_index = validation_split(len(train), config.val_fraction, seed)
    else:
        fit_index, val_index = torch.arange(len(train)), torch.zeros(0, dtype=torch.long)
    fit_part, val_part = train.subset(fit_index), train.subset(val_index)
    if isinstance(train, Examples):
        fit_part, val_part = fit_part.to(device), val_part.to(device)

    per_example = training_objective(loss, config)

    def objective(batch: torch.Tensor) -> torch.Tensor:
        part = fit_part.take(batch).to(device)
        return per_example(logits(model, part.x), part.y).mean()

    writer = None
    if config.record:
        folder = Path(record_dir) if record_dir is not None else temporary_folder()
        optimizer = describe_optimizer(optimizer_for([p for p in model.parameters() if p.requires_grad], config))
        writer = TrajectoryWriter(folder, len(train), optimizer)
    log = fit(
        model,
        len(fit_part),
        objective,
        lambda m: loss_and_error(m, val_part, loss)[0],
        config,
        seed=seed,
        desc=desc,
        index=fit_index,
        writer=writer,
    )
    return model, TrainingRecord(
        config=config,
        seed=seed,
        checkpoints=log.checkpoints,
        trajectory=log.trajectory,
        epochs=log.epochs,
        epoch_seconds=log.epoch_seconds,
    )


def train_stage(model: nn.Module, data: Data, loss: LossFn, config: TrainConfig, seed: int) -> tuple[nn.Module, float]:
    """One stage of sharded training: :func:`train_model` from ``model``; the trained copy and its epochs."""
    trained, record = train_model(model, data, loss, config, seed, "shard")
    assert record.epochs is not None
    return trained, record.epochs


def _sharded(
    model: nn.Module, train: Data, loss: LossFn, config: TrainConfig, seed: int, record_dir: str | Path | None
) -> tuple[nn.Module, TrainingRecord]:
    from remedy.models.sisa import train_sharded

    start = time.perf_counter()
    folder = Path(record_dir) if record_dir is not None else temporary_folder()
    ensemble, shards = train_sharded(model, train, loss, config, seed, folder, train_stage)
    epochs = sum(sum(stage) for stage in shards.stage_epochs)
    seconds = time.perf_counter() - start
    return ensemble, TrainingRecord(config, seed, shards=shards, epochs=epochs, epoch_seconds=seconds / epochs)
