"""The scoreboard of a repair on the honest split: failures fixed, correct predictions broken, and the net."""

from __future__ import annotations

from typing import Any

from torch import nn

from remedy.data.failures import Failures, predict
from remedy.examples import Examples


def accuracy(model: nn.Module, data: Examples) -> float | None:
    """Fraction of ``data`` that ``model`` classifies correctly (``None`` for an empty set)."""
    if len(data) == 0:
        return None
    return float((predict(model, data.x) == data.y.cpu()).double().mean())


def evaluate(model: nn.Module, failures: Failures) -> dict[str, Any]:
    """The model's scoreboard on the split: ``accuracy`` on F_q (``query``), F_h (``holdout``), T_h ∖ F
    (``remaining``) and all of T_h (``net``), and the counts of held-out failures ``fixed`` and of held-out
    correct predictions ``broken``.

    For the model the split was made with, query and holdout are 0, remaining is 1 and fixed = broken = 0 by
    construction; a repair's change of ``net`` from the original's is its unbiased effect on test accuracy,
    ``(fixed − broken + other held-out failures fixed) / |T_h|``. F_q's number is biased (identification and
    early stopping used it); every other number uses data the repair never saw.
    """
    right = {
        name: predict(model, getattr(failures, name).x) == getattr(failures, name).y.cpu()
        for name in ("query", "holdout", "remaining", "held_out")
    }

    def share(name: str) -> float | None:
        return float(right[name].double().mean()) if len(right[name]) else None

    return {
        "accuracy": {
            "query": share("query"),
            "holdout": share("holdout"),
            "remaining": share("remaining"),
            "net": share("held_out"),
        },
        "fixed": int(right["holdout"].sum()),
        "broken": int((~right["remaining"]).sum()),
    }
