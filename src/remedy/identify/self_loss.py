"""Self-loss: each training example's own loss at θ̂, the simplest label-noise baseline."""

from __future__ import annotations

from torch import Tensor

from remedy.data.split import QueryHalf
from remedy.identify.registry import SCORERS
from remedy.posterior import Posterior


@SCORERS.register("self-loss")
def self_loss(posterior: Posterior, query: QueryHalf) -> Tensor:
    """``r(z) = −log p(y | x, θ̂)``, larger = more suspicious: the examples the model fits worst. ``query`` is
    not used (a baseline that every failure-driven scorer must beat)."""
    return -posterior.log_likelihood(posterior.train)
