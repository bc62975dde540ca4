"""The one optimisation loop behind training, fine-tuning and every EWC update: Adam (or SGD) on mini-batches,
early stopping on a validation criterion, best weights restored, every step recorded when asked."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from remedy.models.config import TrainConfig
from remedy.models.record import Trajectory, TrajectoryWriter
from remedy.seeds import seeded, stream


@dataclass
class FitLog:
    """What a fit did.

    Attributes:
        epochs: passes over the data (fractional when stopped between checks inside an epoch).
        best_check: index into ``history`` of the weights kept (0 = the starting weights).
        best_step: optimiser steps that led to the weights kept.
        seconds: total wall time, checks included.
        epoch_seconds: wall time of one pass of optimiser steps, checks excluded.
        history: the criterion at every check (entry 0: before any step).
        checkpoints: CPU state dicts at up to ``config.checkpoints`` evenly spaced checks after the first step, the
            last being the kept weights (the trajectory TracIn sums over).
        trajectory: every step, when a writer recorded them.
    """

    epochs: float
    best_check: int
    best_step: int
    seconds: float
    epoch_seconds: float
    history: list[float] = field(default_factory=list)
    checkpoints: list[dict[str, Tensor]] = field(default_factory=list)
    trajectory: Trajectory | None = None


def _cpu_state(model: nn.Module) -> dict[str, Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()}


def _evenly(items: list, count: int) -> list:
    """At most ``count`` of ``items``, evenly spaced, the last one always included."""
    if len(items) <= count:
        return items
    picks = torch.linspace(len(items) - 1, 0, count).round().long().flip(0).tolist()
    return [items[i] for i in picks]


def optimizer_for(parameters: list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser ``config`` names, on ``parameters``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum)
    return torch.optim.Adam(parameters, lr=config.lr)


def describe_optimizer(optimizer: torch.optim.Optimizer) -> dict[str, object]:
    """The optimiser's name and hyper-parameters, as a trajectory records them."""
    group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    return {"name": type(optimizer).__name__.lower(), **{k: v for k, v in group.items() if _plain(v)}}


def _plain(value: object) -> bool:
    return isinstance(value, (int, float, str, bool, type(None))) or (
        isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value)
    )


SNAPSHOTS_PER_EPOCH = 4
"""Iterates averaged per epoch when ``TrainConfig.average`` is on."""


class _Average:
    """The running mean of a model's floating-point state over the snapshots given to :meth:`add`."""

    def __init__(self) -> None:
        self.state: dict[str, Tensor] | None = None
        self.count = 0

    def add(self, model: nn.Module) -> None:
        self.count += 1
        current = model.state_dict()
        if self.state is None:
            self.state = {k: v.detach().clone() for k, v in current.items()}
            return
        for key, value in current.items():
            if value.is_floating_point():
                self.state[key] += (value.detach() - self.state[key]) / self.count
            else:
                self.state[key] = value.detach().clone()


def fit(
    model: nn.Module,
    n: int,
    objective: Callable[[Tensor], Tensor],
    criterion: Callable[[nn.Module], float],
    config: TrainConfig | None = None,
    *,
    seed: int = 0,
    desc: str = "fit",
    index: Tensor | None = None,
    writer: TrajectoryWriter | None = None,
) -> FitLog:
    """Minimise ``objective(batch_indices)`` over shuffled mini-batches of ``range(n)`` with ``config``'s optimiser,
    learning rate, batch size and schedule, in place. Everything random (the batch order, dropout) comes from ``seed``.

    With early stopping (the default), ``criterion(model)`` (lower is better) is measured after every epoch, or every
    ``config.check_every`` optimiser steps when given (for updates that can run away within an epoch, such as
    gradient ascent); training stops after ``patience`` checks without improvement and the best weights (possibly the
    starting ones) are restored; ``max_epochs`` bounds the passes over the data. With a fixed schedule
    (``early_stopping=False``) all ``max_epochs`` run without looking at the criterion, and the result is the last
    iterate or, with ``config.average = a``, the mean of the iterates over the last fraction ``a`` of the steps
    (:data:`SNAPSHOTS_PER_EPOCH` snapshots per epoch). The model is left in eval mode.

    With a ``writer``, every step is recorded before it is taken: its mini-batch as training-set indices
    (``index[batch]`` when the ``n`` examples are a subset of the training set), its learning rate and the
    parameters; the trajectory's counted steps end at the weights kept.
    """
    config = config or TrainConfig()
    batch_size, max_epochs, patience = config.batch_size, config.max_epochs, config.patience
    gen = stream(seed, "batch-order")
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer_for(parameters, config)
    start = time.perf_counter()
    model.eval()
    stopping = config.early_stopping
    best, best_check, best_step = criterion(model) if stopping else float("nan"), 0, 0
    best_state = copy.deepcopy(model.state_dict()) if stopping else {}
    history = [best] if stopping else []
    train_seconds = 0.0
    steps_per_epoch = -(-n // batch_size)
    total = max_epochs * steps_per_epoch
    check_every = config.check_every or steps_per_epoch
    snapshot_every = max(1, steps_per_epoch // SNAPSHOTS_PER_EPOCH)
    average, average_from = _Average(), total - round(config.average * total)
    checks, step, stop = 0, 0, False
    averaged: list[int] = []  # the steps after which the iterate joined the average
    trail: list[tuple[int, dict[str, Tensor]]] = []  # (check, state) every `stride` checks, thinned as it grows
    stride = 1
    bar = tqdm(total=total, desc=desc, disable=None, leave=False)
    with seeded(seed, "fit-noise"):  # dropout and any other global randomness of the user's module
        for _ in range(max_epochs):
            for batch in torch.randperm(n, generator=gen).split(batch_size):
                tick = time.perf_counter()
                model.train()
                if writer is not None:
                    flat = torch.cat([p.detach().reshape(-1) for p in parameters])
                    writer.step(batch if index is None else index[batch], optimizer.param_groups[0]["lr"], flat)
                optimizer.zero_grad(set_to_none=True)
                objective(batch).backward()
                optimizer.step()
                train_seconds += time.perf_counter() - tick
                step += 1
                bar.update()
                if config.average and step > average_from and (step - average_from) % snapshot_every == 0:
                    average.add(model)
                    averaged.append(step)
                if step % check_every and step % steps_per_epoch:
                    continue
                model.eval()
                checks += 1
                if stopping:
                    value = criterion(model)
                    history.append(value)
                    if value < best:
                        best, best_check, best_step = value, checks, step
                        best_state = copy.deepcopy(model.state_dict())
                if config.checkpoints and checks % stride == 0:
                    trail.append((checks, _cpu_state(model)))
                    if len(trail) >= 2 * config.checkpoints:
                        stride *= 2
                        trail = [(c, state) for c, state in trail if c % stride == 0]
                if stopping:
                    bar.set_postfix(val=f"{value:.4f}", best=best_check)
                    if checks - best_check >= patience:
                        stop = True
                        break
            if stop:
                break
    bar.close()
    if not stopping:
        best_step, best_check = step, checks + 1  # every checkpoint of a fixed schedule leads to what it returns
    last = torch.cat([p.detach().reshape(-1) for p in parameters])
    trajectory = writer.finish(last, best_step, averaged if average.state is not None else None) if writer else None
    if stopping:
        model.load_state_dict(best_state)
    elif average.state is not None:
        model.load_state_dict(average.state)
    model.eval()
    epochs = step / steps_per_epoch
    kept = [state for c, state in trail if c < best_check] + [_cpu_state(model)] if best_check else []
    checkpoints = _evenly(kept, config.checkpoints) if config.checkpoints else []
    seconds = time.perf_counter() - start
    epoch_seconds = train_seconds / max(epochs, 1e-9)
    return FitLog(epochs, best_check, best_step, seconds, epoch_seconds, history, checkpoints, trajectory)
