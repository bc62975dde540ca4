"""The guard every treatment answers to: data that represent the test distribution (by default the query half of
the test set, failures and correct predictions) must not lose more than δ of accuracy (SPEC §4, last item)."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

from torch import nn

from remedy.errors import RemedyWarning
from remedy.evaluate import accuracy
from remedy.examples import Examples

BACK_OFF = (0.5, 0.25, 0.125, 0.0625, 0.03125)
"""The fractions of a treatment's parameter change tried, in order, when the whole change breaks the guard."""


@dataclass(frozen=True)
class Repair:
    """A repaired model and what its guard saw.

    Attributes:
        model: the new model (the caller's and the posterior's are never modified).
        method: the treatment's name; n_causes: how many training examples it treated.
        guard_before, guard_after: accuracy on the guard of θ̂ and of ``model``.
        step: 1 when the treatment's model is returned as it came; t < 1 when it was backed off to
            θ̂ + t (θ − θ̂), the largest t in :data:`BACK_OFF` that kept the guard within δ; 0 for θ̂ itself.
        warning: what the user must know (a back-off, or a loss on the guard that could not be undone).
        seconds: wall time of the treatment and its guard.
    """

    model: nn.Module
    method: str
    n_causes: int
    guard_before: float
    guard_after: float
    step: float
    warning: str | None
    seconds: float


def blend(start: nn.Module, end: nn.Module, t: float) -> nn.Module:
    """A copy of ``end`` whose floating-point parameters and buffers are ``start + t (end − start)``."""
    out = copy.deepcopy(end)
    mixed = {
        key: a + t * (b - a) if b.is_floating_point() else b
        for (key, a), b in zip(start.state_dict().items(), end.state_dict().values(), strict=True)
    }
    out.load_state_dict(mixed)
    return out


def guarded(
    original: nn.Module, treated: nn.Module, guard: Examples, delta: float, local: bool
) -> tuple[nn.Module, float, float, float, str | None]:
    """Check ``treated`` against ``guard``: if its accuracy fell by more than ``delta`` below ``original``'s, a
    ``local`` treatment (an edit of θ̂) backs off toward θ̂ along the straight line, and any other treatment
    (retraining) is kept with a loud warning. Returns (model, accuracy before, after, step, warning)."""
    before, after = accuracy(original, guard), accuracy(treated, guard)
    assert before is not None and after is not None  # the guard is never empty here
    if before - after <= delta:
        return treated, before, after, 1.0, None
    lost = f"lost {100 * (before - after):.1f} points of accuracy on its guard (δ = {100 * delta:g} points)"
    if not local:
        message = f"the treatment {lost}; it cannot be backed off toward θ̂"
        warnings.warn(message, RemedyWarning, stacklevel=3)
        return treated, before, after, 1.0, message
    for t in BACK_OFF:
        candidate = blend(original, treated, t)
        score = accuracy(candidate, guard)
        assert score is not None
        if before - score <= delta:
            message = f"the treatment {lost}; backed off to {t:g} of its change (guard {100 * score:.1f} %)"
            warnings.warn(message, RemedyWarning, stacklevel=3)
            return candidate, before, score, t, message
    message = f"the treatment {lost} at every back-off down to {BACK_OFF[-1]:g}; θ̂ returned unchanged"
    warnings.warn(message, RemedyWarning, stacklevel=3)
    return blend(original, treated, 0.0), before, before, 0.0, message
