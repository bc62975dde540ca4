"""What every update strategy shares: the contract (insert / delete), its result, and the refit from θ̂."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Data, Examples
from remedy.models.config import TrainConfig
from remedy.models.fit import FitLog, fit
from remedy.models.train import loss_and_error
from remedy.task import LossFn

if TYPE_CHECKING:
    from remedy.posterior import Posterior


@dataclass(frozen=True)
class Fitted:
    """An updated copy of θ̂ and the log of the fit that produced it (epochs, stopping point, criterion history)."""

    model: nn.Module
    log: FitLog


class Update(Protocol):
    """An update strategy: one row of SPEC §3's table."""

    def insert(self, posterior: Posterior, data: Data, stop: Examples) -> Fitted:
        """θ* ≈ argmax of ``p(θ | D, data)``, early-stopped on ``stop``."""
        ...

    def delete(self, posterior: Posterior, causes: Tensor, stop: Examples) -> Fitted:
        """θ** ≈ argmax of ``p(θ | D \\ C)`` for training indices ``causes``, early-stopped on ``stop``."""
        ...


def average_models(models: list[nn.Module]) -> nn.Module:
    """The first model with every floating-point parameter and buffer replaced by its mean over ``models`` (the
    models share an architecture); one model is returned as it is."""
    if len(models) == 1:
        return models[0]
    states = [m.state_dict() for m in models]
    mean = {
        key: sum(s[key] for s in states) / len(states) if value.is_floating_point() else value
        for key, value in states[0].items()
    }
    models[0].load_state_dict(mean)
    return models[0]


def stopping_criterion(stop: Examples, loss: LossFn, stop_on: str) -> Callable[[nn.Module], float]:
    """The early-stopping criterion on ``stop`` (lower is better): its mean ``loss``, or its ``error`` rate with
    ties broken by the mean loss (weighted below one error: ``error + min(loss, 999) / (1000 |stop|)``), so that
    among equally accurate weights the better-fitting ones win and a plateau of the error does not end the fit."""
    check(stop_on in ("loss", "error"), "stop_on", f"'loss' or 'error', got {stop_on!r}")

    def criterion(model: nn.Module) -> float:
        mean, error = loss_and_error(model, stop, loss)
        return mean if stop_on == "loss" else error + min(mean, 999.0) / (1000 * len(stop))

    return criterion


def refit(
    posterior: Posterior,
    objective: Callable[[nn.Module, Tensor], Tensor],
    n: int,
    stop: Examples,
    config: TrainConfig | None = None,
    seed: int = 0,
    desc: str = "update",
    stop_on: str = "loss",
    start: nn.Module | None = None,
) -> Fitted:
    """Start from a copy of θ̂ (or of ``start``) and minimise ``objective(model, batch_indices)`` over mini-batches of
    ``range(n)``, early-stopping on :func:`stopping_criterion` of ``stop`` (the start itself is the first
    candidate)."""
    model = copy.deepcopy(start) if start is not None else posterior.copy_model()
    criterion = stopping_criterion(stop, posterior.loss, stop_on)

    log = fit(
        model,
        n,
        lambda batch: objective(model, batch),
        criterion,
        config or posterior.record.config,
        seed=seed,
        desc=desc,
    )
    return Fitted(model, log)
