"""What every update strategy shares: the contract (insert / delete), its result, and the refit from θ̂."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from torch import Tensor, nn

from remedy.errors import check
from remedy.models.fit import FitLog, fit
from remedy.models.train import TrainConfig, error_rate, mean_loss
from remedy.task import Examples

if TYPE_CHECKING:
    from remedy.posterior import Posterior


@dataclass(frozen=True)
class Fitted:
    """An updated copy of θ̂ and the log of the fit that produced it (epochs, stopping point, criterion history)."""

    model: nn.Module
    log: FitLog


class Update(Protocol):
    """An update strategy: one row of SPEC §3's table."""

    def insert(self, posterior: Posterior, data: Examples, stop: Examples) -> Fitted:
        """θ* ≈ argmax of ``p(θ | D, data)``, early-stopped on ``stop``."""
        ...

    def delete(self, posterior: Posterior, causes: Tensor, stop: Examples) -> Fitted:
        """θ** ≈ argmax of ``p(θ | D \\ C)`` for training indices ``causes``, early-stopped on ``stop``."""
        ...


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
    early-stopping on ``stop``'s mean ``loss`` or its ``error`` rate (ties keep the earlier, closer weights)."""
    check(stop_on in ("loss", "error"), "stop_on", f"'loss' or 'error', got {stop_on!r}")
    model = posterior.copy_model()

    def criterion(m: nn.Module) -> float:
        return mean_loss(m, stop, posterior.loss) if stop_on == "loss" else error_rate(m, stop)

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
