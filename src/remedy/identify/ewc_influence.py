"""EWC-influence (Tanno et al. eq. 10–11), on all of F_q at once or once per failure mode."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.data.split import QueryHalf
from remedy.errors import check
from remedy.examples import Examples
from remedy.identify.attribution import combine
from remedy.identify.registry import SCORERS, posterior_edit_scores
from remedy.models.config import TrainConfig
from remedy.posterior import Posterior
from remedy.update import EWC

MIN_MODE = 8
"""A failure mode with fewer failures in F_q joins the pooled rest."""


@SCORERS.register("ewc-influence")
def ewc_influence(
    posterior: Posterior,
    query: QueryHalf,
    *,
    prior_precision: float = 0.0,
    config: TrainConfig | None = None,
    seed: int = 0,
    per: str = "all",
    aggregate: str = "sum",
) -> Tensor:
    """``r(z) = log p(z | θ̂) − log p(z | θ*)`` (eq. 11), larger = more harmful to the failures.

    θ* maximises eq. 10, ``log p(F | θ) − N/2 (θ−θ̂)ᵀ diag(F̂)(θ−θ̂) − λ/2 ‖θ−θ̂‖²`` (the penalty weighed against the
    sum over F, as in the paper), by Adam from θ̂, early-stopped on a validation part of F. ``r(z) > 0``: fitting
    the failures made ``z`` less likely, so ``z`` is evidence against them.

    ``per="all"`` inserts all of F_q at once (the paper). ``per="mode"`` inserts each failure mode with at least
    :data:`MIN_MODE` failures separately (the rest together) and combines the scores with ``aggregate``
    (``sum`` weighted by the modes' sizes, ``mean-rank`` or ``class-max``; :func:`remedy.identify.attribution.combine`),
    so that one mode's failures no longer decide the whole ranking. Each mode costs one EWC fit.
    """
    check(per in ("all", "mode"), "per", f"'all' or 'mode', got {per!r}")

    def scores(fit: Examples, stop: Examples) -> Tensor:
        return posterior_edit_scores(posterior, fit, stop, EWC(1.0 / len(fit), prior_precision, config, seed))

    if per == "all":
        check(aggregate == "sum", "aggregate", "'sum' when all failures are inserted at once (per='all')")
        return scores(query.fit, query.val)
    groups = query.mode_groups(MIN_MODE)
    check(bool(groups), "failures", "at least two failures to group by mode")
    columns = []
    for _, members in groups:
        group = query.subset(members)
        columns.append(scores(group.fit, group.val))
    classes = torch.tensor([mode[0] if mode is not None else -1 for mode, _ in groups])
    sizes = torch.tensor([len(members) for _, members in groups])
    return combine(torch.stack(columns, 1), aggregate, classes, sizes)
