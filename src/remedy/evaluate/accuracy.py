"""Accuracy on the failure split: F_q, F_h and T \\ F."""

from __future__ import annotations

from torch import nn

from remedy.data.failures import Failures, predict
from remedy.task import Examples


def accuracy(model: nn.Module, data: Examples) -> float | None:
    """Fraction of ``data`` that ``model`` classifies correctly (``None`` for an empty set)."""
    if len(data) == 0:
        return None
    return float((predict(model, data.x) == data.y.cpu()).double().mean())


def evaluate(model: nn.Module, failures: Failures) -> dict[str, float | None]:
    """Accuracy on ``query`` (F_q), ``holdout`` (F_h) and ``remaining`` (T \\ F).

    Before any repair these are 0, 0 and 1 by construction; a repair should raise the first two
    (holdout is the honest number: F_h was never used) and keep the third.
    """
    return {name: accuracy(model, getattr(failures, name)) for name in ("query", "holdout", "remaining")}
