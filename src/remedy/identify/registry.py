"""The scorer registry. A scorer maps ``(posterior, failures, **options)`` to ``[N]`` scores, larger = more harmful."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from remedy.data.failures import Failures
from remedy.posterior import Posterior
from remedy.registry import Registry
from remedy.update import Update

Scorer = Callable[..., Tensor]

SCORERS: Registry[Scorer] = Registry("--identify")


def posterior_edit_scores(posterior: Posterior, failures: Failures, update: Update) -> Tensor:
    """Tanno eq. 7 with point estimates: ``r(z) = log p(z | θ̂) − log p(z | θ*)``, θ* = θ̂ with F_q inserted.

    ``update`` inserts ``failures.query_fit`` and early-stops on ``failures.query_val``.
    """
    theta_star = posterior.insert(failures.query_fit, update, failures.query_val).model
    return posterior.log_likelihood(posterior.train) - posterior.log_likelihood(posterior.train, theta_star)
