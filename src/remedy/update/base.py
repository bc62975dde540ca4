"""What every update strategy shares: the contract (insert / delete), its result, and the refit from θ̂."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Data, Examples
from remedy.models.fit import FitLog, fit
from remedy.models.train import TrainConfig, loss_and_error
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
) -> Fitted:
    """Start from a copy of θ̂ and minimise ``objective(model, batch_indices)`` over mini-batches of ``range(n)``,
    early-stopping on :func:`stopping_criterion` of ``stop`` (θ̂ itself is the first candidate)."""
    model = posterior.copy_model()
    criterion = stopping_criterion(stop, posterior.loss, stop_on)

    log = fit(
        model,
        n,
        lambda batch: objective(model, batch),
        criterion,
        config or posterior.config,
        seed=seed,
        desc=desc,
    )
    return Fitted(model, log)
