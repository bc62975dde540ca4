"""The scorer registry. A scorer maps ``(posterior, query, **options)`` to ``[N]`` scores, larger = more harmful; it
receives the query half of the test split (:class:`~remedy.data.split.QueryHalf`) and nothing of the held-out half."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from remedy.examples import Examples
from remedy.posterior import Posterior
from remedy.registry import Registry
from remedy.update import Update

Scorer = Callable[..., Tensor]

SCORERS: Registry[Scorer] = Registry("scorer")

DEFAULT_SCORER = "puma"
"""The scorer every entry point uses when none is named: PUMA's valuation of the query half's loss."""


def posterior_edit_scores(posterior: Posterior, data: Examples, stop: Examples, update: Update) -> Tensor:
    """Tanno eq. 7 with point estimates: ``r(z) = log p(z | θ̂) − log p(z | θ*)`` for every training example, θ* =
    θ̂ with ``data`` inserted by ``update``, early-stopped on ``stop``."""
    theta_star = posterior.insert(data, update, stop).model
    return posterior.log_likelihood(posterior.train) - posterior.log_likelihood(posterior.train, theta_star)
