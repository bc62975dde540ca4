"""Adaptive greedy selection (Hu et al. 2024, "MISS"): remove a batch of the top causes, refit, find the failures
that remain and score again — so that the next batch explains the failures the first one left, not the same ones
twice. A ranking of single-example effects cannot see that removing one direction of a confusion fixes its failures
and leaves the other direction's; re-scoring after each removal does."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from remedy.curvature import DEFAULT_INVERSE, InverseSettings
from remedy.data.split import QueryHalf, predict
from remedy.errors import check
from remedy.identify.registry import SCORERS, base_scores
from remedy.identify.scores import Selection
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS


def remaining_failures(model: torch.nn.Module, query: QueryHalf) -> QueryHalf | None:
    """The query half with the failures ``model`` makes on T_q (``None`` when it makes fewer than two)."""
    guard = query.guard
    predicted = predict(model, guard.x)
    wrong = torch.nonzero(predicted != guard.y.cpu()).flatten()
    if len(wrong) < 2:
        return None
    order = wrong[torch.randperm(len(wrong), generator=torch.Generator().manual_seed(query.seed))]
    failures = guard[order.to(guard.y.device)]
    return QueryHalf(
        failures, guard, predicted[order], query.guard_index[order], query.guard_index, query.val_fraction, query.seed
    )


def refitted(posterior: Posterior, model: torch.nn.Module) -> Posterior:
    """A posterior of the same problem (data, loss, record, memory budget) around another model."""
    return Posterior(
        model,
        posterior.train,
        posterior.loss,
        weight_decay=posterior.weight_decay,
        record=posterior.record,
        chunking=posterior.passes.chunking,
        params=posterior.params,
    )


@SCORERS.register("adaptive", wraps=True)
def adaptive(
    posterior: Posterior,
    query: QueryHalf,
    *,
    base: str = "trak",
    rounds: int = 4,
    batch: float = 0.05,
    refit: str = "finetune",
    seed: int = 0,
    inverse: InverseSettings = DEFAULT_INVERSE,
    metric: str = "loss",
) -> Selection:
    """Selection priorities, larger = chosen earlier (a cause more harmful given the causes chosen before it).

    Round r = 1 … ``rounds``: score every example with the ``base`` scorer (larger = more harmful) against the
    failures the current model θ_r makes on the query half T_q; append its ``batch`` × N most harmful examples not
    chosen yet to the set C; refit θ_{r+1} = the ``refit`` treatment of θ̂ on D \\ C (the pipeline's fine-tuning by
    default; ``refit="newton"``, one Newton step on D \\ C with the run's inverse curvature, is the group's
    second-order influence, ``θ̂ + H⁻¹g_C/N + H⁻¹H_C H⁻¹g_C/N² + …`` (Basu et al. 2020), and re-scoring there adds
    each example's coupling to the group, ``∇²ℓ_z δ_C``). θ_1 = θ̂. The order is the batches in the order they
    were chosen, then the rest by the last round's scores. Cost: ``rounds`` × (the base scorer + one refit)."""
    check(rounds >= 1, "rounds", f"at least one round, got {rounds}")
    check(0 < batch < 1 and rounds * batch < 1, "batch", f"a fraction of N with rounds × batch < 1, got {batch}")
    treatment = TREATMENTS.get(refit, "refit")
    shared: dict[str, Any] = {"seed": seed, "inverse": inverse, "metric": metric}
    size = max(1, round(batch * posterior.n))
    chosen: list[Tensor] = []
    taken = torch.zeros(posterior.n, dtype=torch.bool)
    current, current_query, values = posterior, query, torch.zeros(posterior.n, dtype=torch.float64)
    failures = []
    for r in range(rounds):
        values = base_scores(current, current_query, base, shared)
        failures.append(len(current_query.failures))
        order = torch.argsort(values.masked_fill(taken, float("-inf")), descending=True, stable=True)[:size]
        chosen.append(order)
        taken[order] = True
        if r == rounds - 1:
            break
        options = TREATMENTS.accepted(refit, {"seed": seed, "inverse": inverse})
        model = treatment(posterior, torch.nonzero(taken).flatten(), query.guard, **options)
        found = remaining_failures(model, query)
        if found is None:
            break
        current, current_query = refitted(posterior, model), found
    first = torch.cat(chosen)
    rest = torch.nonzero(~taken).flatten()
    rest = rest[torch.argsort(values[rest], descending=True, stable=True)]
    order = torch.cat([first, rest])
    priority = torch.empty(posterior.n, dtype=torch.float64)
    priority[order] = torch.arange(posterior.n, 0, -1, dtype=torch.float64)
    return Selection(priority, None, {"base": base, "batch": size, "failures_per_round": failures})
