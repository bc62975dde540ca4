"""The parameters remedy acts on: glob patterns over the model's parameter names (``--params``, ``Task(params=…)``).

Every pass — per-example gradients, curvature, influence, TRAK's projections, fine-tuning, Newton and EWC steps —
differentiates the parameters with ``requires_grad``; choosing the parameters freezes the others on remedy's own
copy of the model (the user's module is never touched). The last layer alone is the common choice for large models:
its scores cost a fraction of the whole model's (``docs/params.md`` measures what it saves and what it loses).
Retraining from scratch (``retrain``, ``sisa``, TRAK's extra members' training) still trains every parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from torch import nn

from remedy.errors import check


def parse_params(text: str | None) -> tuple[str, ...]:
    """``"fc2.*,head.bias"`` → ``("fc2.*", "head.bias")``; ``None`` or empty → every parameter."""
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


def choose(model: nn.Module, patterns: Sequence[str], argument: str = "--params") -> list[str]:
    """Freeze every trainable parameter of ``model`` whose name matches none of ``patterns`` (in place) and return
    the names left trainable; a one-line error when no trainable parameter matches."""
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    if not patterns:
        return names
    kept = [name for name in names if any(fnmatchcase(name, pattern) for pattern in patterns)]
    shown = ", ".join(names if len(names) <= 6 else [*names[:3], "…", *names[-3:]])  # the last layer is the usual pick
    check(bool(kept), argument, f"glob patterns matching the model's parameter names ({shown}), got {list(patterns)}")
    for name, p in model.named_parameters():
        if name not in kept:
            p.requires_grad_(False)
    return kept
