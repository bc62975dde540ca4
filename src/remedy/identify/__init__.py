"""Cause identification: rank training examples by harm to the failures (larger score = more harmful)."""

from __future__ import annotations

import time
from typing import Any

from remedy.data.failures import Failures
from remedy.errors import check
from remedy.identify.registry import SCORERS
from remedy.identify.scores import Scores
from remedy.posterior import Posterior
from remedy.registry import import_all

import_all(__name__)


def identify(posterior: Posterior, failures: Failures, method: str = "ewc-influence", **options: Any) -> Scores:
    """Score every training example of ``posterior`` by its harm to ``failures.query`` with the named scorer.

    Methods: see ``SCORERS.names()``. Returns :class:`Scores` (larger = more harmful) with the wall time.
    """
    check(isinstance(posterior, Posterior), "posterior", "a remedy.Posterior")
    check(isinstance(failures, Failures), "failures", "a remedy.Failures (from split_failures or Failures.from_query)")
    check(len(failures.query) > 0, "failures", "a non-empty query set F_q")
    scorer = SCORERS.get(method)
    SCORERS.check_options(method, options)
    start = time.perf_counter()
    values = scorer(posterior, failures, **options)
    return Scores(values.detach().double().cpu(), method, time.perf_counter() - start, dict(options))


__all__ = ["SCORERS", "Scores", "identify"]
