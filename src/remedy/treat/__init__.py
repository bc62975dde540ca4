"""Treatment: erase the causes' influence from the model, keeping the rest of its behaviour (under a guard)."""

from __future__ import annotations

import time
from typing import Any

from torch import Tensor

from remedy.errors import check
from remedy.examples import ExamplesLike
from remedy.posterior import Posterior
from remedy.registry import import_all
from remedy.treat.guard import Repair, guarded
from remedy.treat.registry import TREATMENTS

import_all(__name__)

DEFAULT_DELTA = 0.01
"""A treatment may cost at most this much accuracy on its guard (one point) before it backs off."""

DEFAULT_TREATMENT = "finetune"
"""The treatment every entry point uses when none is named."""


def repair(
    posterior: Posterior,
    causes: Tensor,
    method: str = DEFAULT_TREATMENT,
    *,
    guard: ExamplesLike,
    delta: float = DEFAULT_DELTA,
    **options: Any,
) -> Repair:
    """Remove the influence of training indices ``causes`` with the named treatment, under a guard.

    ``guard``: data that represent the test distribution and that you do not evaluate on — by default
    ``failures.guard``, the query half of the test set (its failures and its correct predictions). It
    early-stops or line-searches the treatment, and when the result still loses more than ``delta`` of accuracy
    on it, a treatment that edits θ̂ backs off toward θ̂ (retraining warns); a treatment that fits part of the guard
    (``finetune-failures``) is scored on the rest of it. ``causes`` may be empty: the same
    treatment with nothing removed, the control every repair is compared with. Methods: ``TREATMENTS.names()``.
    """
    check(isinstance(posterior, Posterior), "posterior", "a remedy.Posterior")
    check(delta >= 0, "delta", f"a non-negative accuracy margin, got {delta}")
    treatment = TREATMENTS.get(method, "method")
    TREATMENTS.check_options(method, options)
    posterior.record.require(TREATMENTS.trait(method, "needs", ()), f"treatment {method}")
    guard = posterior.examples(guard, "guard")
    causes = posterior.causes(causes, allow_empty=True)
    start = time.perf_counter()
    treated = treatment(posterior, causes, guard, **options)
    local = TREATMENTS.trait(method, "local", True)
    scored_on = TREATMENTS.trait(method, "guard_without", None)  # a treatment that fits part of the guard
    checked = guard if scored_on is None else scored_on(posterior, guard, options)
    model, before, after, step, warning = guarded(posterior.model, treated, checked, delta, local)
    return Repair(model, method, len(causes), before, after, step, warning, time.perf_counter() - start)


__all__ = ["DEFAULT_DELTA", "DEFAULT_TREATMENT", "TREATMENTS", "Repair", "repair"]
