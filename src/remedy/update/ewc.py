"""The EWC update: optimise the Laplace / EWC objective from θ̂ (Tanno et al. eq. 10 and 15)."""

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


def laplace_penalty(posterior: Posterior, model: nn.Module, prior_precision: float = 0.0) -> Tensor:
    """``N/2 (θ − θ̂)ᵀ diag(F̂) (θ − θ̂) + λ/2 ‖θ − θ̂‖²``: minus the Laplace log-posterior of D (Tanno eq. 23)."""
    delta = torch.cat([p.reshape(-1) for p in model.parameters() if p.requires_grad]) - posterior.theta()
    penalty = 0.5 * posterior.n * (posterior.curvatures.fisher() * delta.square()).sum()
    return penalty + 0.5 * prior_precision * delta.square().sum() if prior_precision else penalty


@dataclass(frozen=True)
class EWC:
    """Continual (un)learning with the Laplace approximation of ``p(θ | D)`` around θ̂ as the prior.

    insert: ``θ* = argmin_θ  mean_{z∈F} -log p(z | θ) + s · R(θ)``
    delete: ``θ** = argmin_θ  mean_{z∈C}  log p(z | θ) + s · R(θ)``
    with the Laplace penalty ``R(θ) = N/2 (θ−θ̂)ᵀ diag(F̂)(θ−θ̂) + λ/2 ‖θ−θ̂‖²`` (:func:`laplace_penalty`).

    ``s = 1/|F|`` is eq. 10 exactly (its sum over F divided by |F|); ``s = 2/(γN)`` is Tanno App. C's
    deletion weighting (eq. 15 with the penalty scaled by 2/(γN)).

    Args:
        penalty_scale: ``s``, the weight of the penalty against the *mean* log-likelihood of the data.
        prior_precision: ``λ``, the isotropic prior's precision (0 in the paper's experiments).
        config: optimiser and early-stopping settings (the posterior's by default).
        seed: mini-batch order.
        stop_on: early-stop on the ``loss`` or the ``error`` rate of the stopping set.
    """

    penalty_scale: float = 1.0
    prior_precision: float = 0.0
    config: TrainConfig | None = None
    seed: int = 0
    stop_on: str = "loss"

    def _fit(self, posterior: Posterior, data: Data, stop: Examples, sign: float, desc: str) -> Fitted:
        def objective(model: nn.Module, batch: Tensor) -> Tensor:
            part = data.take(batch).to(posterior.device)
            nll = posterior.loss(logits(model, part.x), part.y).mean()
            return sign * nll + self.penalty_scale * laplace_penalty(posterior, model, self.prior_precision)

        return refit(posterior, objective, len(data), stop, self.config, self.seed, desc, self.stop_on)

    def insert(self, posterior: Posterior, data: Data, stop: Examples) -> Fitted:
        return self._fit(posterior, data, stop, 1.0, "ewc insert")

    def delete(self, posterior: Posterior, causes: Tensor, stop: Examples) -> Fitted:
        return self._fit(posterior, posterior.train.subset(causes), stop, -1.0, "ewc delete")
