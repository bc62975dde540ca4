"""The scorer registry. A scorer maps ``(posterior, query, **options)`` to ``[N]`` scores, larger = more harmful (or,
when it chooses causes as a set, to a :class:`~remedy.identify.scores.Selection`); it receives the query half of the
test split (:class:`~remedy.data.split.QueryHalf`) and nothing of the held-out half."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.examples import Examples
from remedy.posterior import Posterior
from remedy.registry import Registry
from remedy.update import Update

Scorer = Callable[..., Any]

SCORERS: Registry[Scorer] = Registry("scorer")

DEFAULT_SCORER = "cells"
"""The scorer every entry point uses when none is named: confident-joint counts per confusion cell in TRAK's order
(``docs/causes.md``, "The rule")."""


def posterior_edit_scores(posterior: Posterior, data: Examples, stop: Examples, update: Update) -> Tensor:
    """Tanno eq. 7 with point estimates: ``r(z) = log p(z | θ̂) − log p(z | θ*)`` for every training example, θ* =
    θ̂ with ``data`` inserted by ``update``, early-stopped on ``stop``."""
    theta_star = posterior.insert(data, update, stop).model
    return posterior.log_likelihood(posterior.train) - posterior.log_likelihood(posterior.train, theta_star)


def base_scores(posterior: Posterior, query: QueryHalf, base: str, shared: dict[str, Any]) -> Tensor:
    """The ``[N]`` scores of the scorer named ``base`` (larger = more harmful), given the run-wide ``shared`` settings
    it declares (seed, inverse curvature, metric): what a set-aware scorer orders within the sets it builds."""
    from remedy.identify.scores import Selection

    scorer = SCORERS.get(base, "base")
    check(not SCORERS.trait(base, "wraps", False), "base", f"a scorer of single examples, got the set rule {base!r}")
    posterior.record.require(SCORERS.trait(base, "needs", ()), f"scorer {base}")
    found = scorer(posterior, query, **SCORERS.accepted(base, shared))
    return (found.values if isinstance(found, Selection) else found).detach().double().cpu()
