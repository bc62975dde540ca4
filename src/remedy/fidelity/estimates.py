"""What each estimator predicts for the ground truths of :mod:`remedy.fidelity.responses`: the change in every
measurement when one training example is removed, on the same scale (positive = the measurement goes up)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from remedy.curvature import InverseSettings
from remedy.errors import check
from remedy.metrics import Metric, PerExampleLoss
from remedy.posterior import Posterior
from remedy.puma.valuation import valuation
from remedy.update import EWC

Estimate = Callable[[Posterior, Metric, Tensor], Tensor]
"""``estimate(posterior, metric, points) -> [len(points), Q]`` predicted changes (see :func:`predicted_changes`)."""


def predicted_changes(posterior: Posterior, metric: Metric, points: Tensor, inverse: InverseSettings) -> Tensor:
    """``[len(points), Q]``: the predicted change in each of the ``Q`` values of ``metric`` when each training
    point is removed, ``∇M_q(θ̂)ᵀ (C + δI)⁻¹ ∇L_j(θ̂) / N`` with ``inverse``'s curvature C of J (its weight decay
    λ included), so that the exact solve with the GGN and δ = 0 is the PBRF's linearisation at proximity λ:
    PUMA's valuation ψ of the metric, divided by N."""
    return valuation(posterior, metric, inverse)[points] / posterior.n


def influence(inverse: InverseSettings) -> Estimate:
    """The influence estimate with ``inverse`` as an :data:`Estimate`."""
    return lambda posterior, metric, points: predicted_changes(posterior, metric, points, inverse)


def ewc_changes(posterior: Posterior, metric: Metric, points: Tensor) -> Tensor:
    """EWC-influence (Tanno eq. 10–11) on each of ``metric``'s examples alone, as a predicted change in its loss.

    θ*_q inserts example q with the Laplace penalty (eq. 10, weight 1); ``r_q(z) = log p(z|θ̂) − log p(z|θ*_q)``
    (eq. 11, larger = more harmful to q). To first order ``θ*_q − θ̂ = −(N F̂)⁻¹ ∇L_q``, so
    ``r_q(z) ≈ −∇L_zᵀ (N F̂)⁻¹ ∇L_q``: the predicted change in L_q on removing z is ``−r_q(z)``. ``metric`` must
    be a :class:`~remedy.metrics.PerExampleLoss` (EWC-influence inserts examples, not a metric).
    """
    check(isinstance(metric, PerExampleLoss), "metric", "a PerExampleLoss for EWC-influence (it inserts examples)")
    columns, measured = [], metric.data
    train = posterior.train.subset(points)
    before = posterior.log_likelihood(train)
    for q in tqdm(range(len(measured)), desc="ewc-influence", disable=None, leave=False):
        example = measured[q : q + 1]
        theta_star = posterior.insert(example, EWC(1.0), example).model
        columns.append(posterior.log_likelihood(train, theta_star) - before)
    return torch.stack(columns, dim=1)
