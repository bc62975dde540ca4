"""Plain fine-tuning from θ̂ (Tanno et al. §2.2, Example 1): on F to insert, on D \\ C to delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor, nn

from remedy.examples import Data, Examples
from remedy.models.train import TrainConfig
from remedy.update.base import Fitted, refit

if TYPE_CHECKING:
    from remedy.posterior import Posterior


@dataclass(frozen=True)
class FineTune:
    """Maximise ``log p(data | θ)`` by Adam from θ̂, with no penalty; early-stopped on ``stop``.

    insert: fit the new data F. delete: fit the corrected data D \\ C. ``stop_on``: early-stop on the
    ``loss`` or the ``error`` rate of the stopping set.
    """

    config: TrainConfig | None = None
    seed: int = 0
    stop_on: str = "loss"

    def _fit(self, posterior: Posterior, data: Data, stop: Examples, desc: str) -> Fitted:
        def objective(model: nn.Module, batch: Tensor) -> Tensor:
            part = data.take(batch).to(posterior.device)
            return posterior.loss(model(part.x), part.y).mean()

        return refit(posterior, objective, len(data), stop, self.config, self.seed, desc, self.stop_on)

    def insert(self, posterior: Posterior, data: Data, stop: Examples) -> Fitted:
        return self._fit(posterior, data, stop, "fine-tune insert")

    def delete(self, posterior: Posterior, causes: Tensor, stop: Examples) -> Fitted:
        return self._fit(posterior, posterior.kept(causes), stop, "fine-tune on D\\C")
