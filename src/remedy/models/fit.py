"""The one optimisation loop behind training, fine-tuning and every EWC update: Adam on mini-batches,
early stopping on a validation criterion, best weights restored."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.seeds import stream


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
        checkpoints: keep up to this many evenly spaced states of the trajectory that led to the kept weights
            (for TracIn; 0 keeps none).
    """

    lr: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 100
    patience: int = 5
    val_fraction: float = 0.1
    check_every: int | None = None
    checkpoints: int = 5


@dataclass
class FitLog:
    """What a fit did.

    Attributes:
        epochs: passes over the data (fractional when stopped between checks inside an epoch).
        best_check: index into ``history`` of the weights kept (0 = the starting weights).
        seconds: total wall time, checks included.
        epoch_seconds: wall time of one pass of optimiser steps, checks excluded.
        history: the criterion at every check (entry 0: before any step).
        checkpoints: CPU state dicts at up to ``config.checkpoints`` evenly spaced checks after the first step, the
            last being the kept weights (the trajectory TracIn sums over).
    """

    epochs: float
    best_check: int
    seconds: float
    epoch_seconds: float
    history: list[float] = field(default_factory=list)
    checkpoints: list[dict[str, Tensor]] = field(default_factory=list)


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def _evenly(items: list, count: int) -> list:
    """At most ``count`` of ``items``, evenly spaced, the last one always included."""
    if len(items) <= count:
        return items
    picks = torch.linspace(len(items) - 1, 0, count).round().long().flip(0).tolist()
    return [items[i] for i in picks]


def fit(
    model: nn.Module,
    n: int,
    objective: Callable[[Tensor], Tensor],
    criterion: Callable[[nn.Module], float],
    config: TrainConfig | None = None,
    *,
    seed: int = 0,
    desc: str = "fit",
) -> FitLog:
    """Minimise ``objective(batch_indices)`` over shuffled mini-batches of ``range(n)`` with Adam, in place, with
    ``config``'s learning rate, batch size, epoch bound and patience.

    ``criterion(model)`` (lower is better) is measured after every epoch, or every ``config.check_every``
    optimiser steps when given (for updates that can run away within an epoch, such as gradient
    ascent); training stops after ``patience`` checks without improvement and the best weights
    (possibly the starting ones) are restored. ``max_epochs`` bounds the passes over the data either
    way. The model is left in eval mode.
    """
    config = config or TrainConfig()
    lr, batch_size, max_epochs, patience = config.lr, config.batch_size, config.max_epochs, config.patience
    gen = stream(seed, "batch-order")
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    start = time.perf_counter()
    model.eval()
    best, best_check = criterion(model), 0
    best_state = copy.deepcopy(model.state_dict())
    history = [best]
    train_seconds = 0.0
    steps_per_epoch = -(-n // batch_size)
    check_every = config.check_every or steps_per_epoch
    checks, step, stop = 0, 0, False
    trail: list[tuple[int, dict[str, Tensor]]] = []  # (check, state) every `stride` checks, thinned as it grows
    stride = 1
    bar = tqdm(total=max_epochs * steps_per_epoch, desc=desc, disable=None, leave=False)
    for _ in range(max_epochs):
        for batch in torch.randperm(n, generator=gen).split(batch_size):
            tick = time.perf_counter()
            model.train()
            optimizer.zero_grad(set_to_none=True)
            objective(batch).backward()
            optimizer.step()
            train_seconds += time.perf_counter() - tick
            step += 1
            bar.update()
            if step % check_every and step % steps_per_epoch:
                continue
            model.eval()
            checks += 1
            value = criterion(model)
            history.append(value)
            if value < best:
                best, best_check = value, checks
                best_state = copy.deepcopy(model.state_dict())
            if config.checkpoints and checks % stride == 0:
                trail.append((checks, _cpu_state(model)))
                if len(trail) >= 2 * config.checkpoints:
                    stride *= 2
                    trail = [(c, state) for c, state in trail if c % stride == 0]
            bar.set_postfix(val=f"{value:.4f}", best=best_check)
            if checks - best_check >= patience:
                stop = True
                break
        if stop:
            break
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    epochs = step / steps_per_epoch
    kept = [state for c, state in trail if c < best_check] + [_cpu_state(model)] if best_check else []
    checkpoints = _evenly(kept, config.checkpoints) if config.checkpoints else []
    seconds = time.perf_counter() - start
    return FitLog(epochs, best_check, seconds, train_seconds / max(epochs, 1e-9), history, checkpoints)
