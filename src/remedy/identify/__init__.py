"""Cause identification: rank training examples by harm to the failures (larger score = more harmful)."""

from __future__ import annotations

import time
from typing import Any

from remedy.data.split import QueryHalf, Split
from remedy.errors import check
from remedy.identify.registry import DEFAULT_SCORER, SCORERS
from remedy.identify.scores import Scores, Selection
from remedy.posterior import Posterior
from remedy.registry import import_all

import_all(__name__)


def identify(posterior: Posterior, query: QueryHalf | Split, method: str = DEFAULT_SCORER, **options: Any) -> Scores:
    """Score every training example of ``posterior`` by its harm to the query half's failures (or to a metric of
    it) with the named scorer; given a whole :class:`Split`, only its query half reaches the scorer.

    Methods: see ``SCORERS.names()``; the default is PUMA's valuation of the query half's loss. Returns
    :class:`Scores` (larger = more harmful) with the wall time.
    """
    check(isinstance(posterior, Posterior), "posterior", "a remedy.Posterior")
    if isinstance(query, Split):
        query = query.query
    check(isinstance(query, QueryHalf), "query", "a remedy.QueryHalf (split_test(...).query or QueryHalf.of(...))")
    check(len(query.failures) > 0, "query", "a non-empty failure set F_q")
    scorer = SCORERS.get(method, "method")
    SCORERS.check_options(method, options)
    posterior.record.require(SCORERS.trait(method, "needs", ()), f"scorer {method}")
    start = time.perf_counter()
    found = scorer(posterior, query, **options)
    seconds = time.perf_counter() - start
    if isinstance(found, Selection):
        values = found.values.detach().double().cpu()
        return Scores(values, method, seconds, dict(options), found.count, found.details)
    return Scores(found.detach().double().cpu(), method, seconds, dict(options))


__all__ = ["DEFAULT_SCORER", "SCORERS", "Scores", "Selection", "identify"]
