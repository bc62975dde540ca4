"""EWC-influence (Tanno et al. eq. 10–11)."""

from __future__ import annotations

from torch import Tensor

from remedy.data.failures import Failures
from remedy.identify.registry import SCORERS, posterior_edit_scores
from remedy.models.train import TrainConfig
from remedy.posterior import Posterior
from remedy.update import EWC


@SCORERS.register("ewc-influence")
def ewc_influence(
    posterior: Posterior,
    failures: Failures,
    *,
    prior_precision: float = 0.0,
    config: TrainConfig | None = None,
    seed: int = 0,
) -> Tensor:
    """``r(z) = log p(z | θ̂) − log p(z | θ*)`` (eq. 11), larger = more harmful to the failures.

    θ* maximises eq. 10, ``log p(F_q | θ) − N/2 (θ−θ̂)ᵀ diag(F̂)(θ−θ̂) − λ/2 ‖θ−θ̂‖²``, by Adam from θ̂,
    early-stopped on F_q's validation part. ``r(z) > 0``: fitting the failures made ``z`` less likely,
    so ``z`` is evidence against them.
    """
    return posterior_edit_scores(posterior, failures, EWC(1.0 / len(failures.query_fit), prior_precision, config, seed))
