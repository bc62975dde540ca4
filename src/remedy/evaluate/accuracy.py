"""The scoreboard of a repair on the honest split: failures fixed, correct predictions broken, and the net."""

from __future__ import annotations

from typing import Any

from torch import nn

from remedy.data.split import Split, predict
from remedy.examples import Examples


def accuracy(model: nn.Module, data: Examples) -> float | None:
    """Fraction of ``data`` that ``model`` classifies correctly (``None`` for an empty set)."""
    if len(data) == 0:
        return None
    return float((predict(model, data.x) == data.y.cpu()).double().mean())


def evaluate(model: nn.Module, split: Split) -> dict[str, Any]:
    """The model's scoreboard on the split: ``accuracy`` on F_q (``query_failures``), F_h (``held_out_failures``),
    T_h ∖ F (``remaining``) and all of T_h (``net``), and the counts of held-out failures ``fixed`` and of held-out
    correct predictions ``broken``.

    For the model the split was made with, both failure accuracies are 0, remaining is 1 and fixed = broken = 0 by
    construction; a repair's change of ``net`` from the original's is its unbiased effect on test accuracy,
    ``(fixed − broken + other held-out failures fixed) / |T_h|``. F_q's number is biased (identification and
    early stopping used it); every other number uses data the repair never saw.
    """
    sets = {
        "query_failures": split.query.failures,
        "held_out_failures": split.held_out.failures,
        "remaining": split.held_out.remaining,
        "net": split.held_out.examples,
    }
    right = {name: predict(model, data.x) == data.y.cpu() for name, data in sets.items()}

    def share(name: str) -> float | None:
        return float(right[name].double().mean()) if len(right[name]) else None

    return {
        "accuracy": {name: share(name) for name in sets},
        "fixed": int(right["held_out_failures"].sum()),
        "broken": int((~right["remaining"]).sum()),
    }
