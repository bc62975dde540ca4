"""Plain fine-tuning from θ̂ (Tanno et al. §2.2, Example 1): on F to insert, on D \\ C to delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from remedy.examples import Data, Examples
from remedy.inputs import logits
from remedy.models.config import TrainConfig
from remedy.update.base import Fitted, refit

if TYPE_CHECKING:
    from remedy.posterior import Posterior


@dataclass(frozen=True)
class FineTune:
    """Maximise ``log p(data | θ) − prox/2 ‖θ − θ̂‖²`` by the recipe's optimiser from θ̂ (no penalty by default);
    early-stopped on ``stop`` unless the recipe has a fixed schedule.

    insert: fit the new data F. delete: fit the corrected data D \\ C. ``stop_on``: early-stop on the
    ``loss`` or the ``error`` rate of the stopping set. ``prox``: a proximal term that keeps θ near θ̂. ``start``:
    begin from this model instead of θ̂ (a treatment that first edits θ̂, then fine-tunes).
    """

    config: TrainConfig | None = None
    seed: int = 0
    stop_on: str = "loss"
    prox: float = 0.0
    start: nn.Module | None = None

    def _fit(self, posterior: Posterior, data: Data, stop: Examples, desc: str) -> Fitted:
        theta = posterior.theta()

        def objective(model: nn.Module, batch: Tensor) -> Tensor:
            part = data.take(batch).to(posterior.device)
            value = posterior.loss(logits(model, part.x), part.y).mean()
            if self.prox:
                flat = torch.cat([p.reshape(-1) for p in model.parameters() if p.requires_grad])
                value = value + 0.5 * self.prox * (flat - theta).square().sum()
            return value

        return refit(posterior, objective, len(data), stop, self.config, self.seed, desc, self.stop_on, self.start)

    def insert(self, posterior: Posterior, data: Data, stop: Examples) -> Fitted:
        return self._fit(posterior, data, stop, "fine-tune insert")

    def delete(self, posterior: Posterior, causes: Tensor, stop: Examples) -> Fitted:
        return self._fit(posterior, posterior.kept(causes), stop, "fine-tune on D\\C")
