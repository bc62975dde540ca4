"""Learning from the failures (Tanno et al. App. B.4): fine-tune on the query half's failures under an L2 locality
constraint, alone or together with fine-tuning on D \\ C."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from remedy import inputs
from remedy.data.split import predict
from remedy.errors import check
from remedy.examples import Examples
from remedy.posterior import Posterior
from remedy.seeds import stream
from remedy.treat.registry import TREATMENTS
from remedy.update import FineTune


def guard_failures(posterior: Posterior, guard: Examples, seed: int, val_fraction: float = 0.1) -> Examples:
    """The guard's examples θ̂ gets wrong (F_q when the guard is the query half and every failure mode is chosen),
    in a seeded order, without the ``val_fraction`` that stays in the guard for early stopping."""
    wrong = torch.nonzero(predict(posterior.model, guard.x) != guard.y.cpu()).flatten()
    check(len(wrong) >= 2, "guard", f"at least 2 examples the model gets wrong to learn from, found {len(wrong)}")
    order = wrong[torch.randperm(len(wrong), generator=stream(seed, "failures-fit"))]
    return guard[order[max(1, round(val_fraction * len(order))) :].to(guard.y.device)]


def unfitted(posterior: Posterior, guard: Examples, options: dict) -> Examples:
    """The guard without the failures the treatment fits on (its seed's choice): where its early stopping and the
    repair's guard and back-off score it, so that what it learned is not counted as what it kept."""
    return _without(guard, guard_failures(posterior, guard, options.get("seed", 0)))


def _without(guard: Examples, fitted: Examples) -> Examples:
    """The guard minus the examples fitted on (early stopping on what is fitted would never stop)."""

    def row(data: Examples, i: int) -> tuple:
        return tuple(v for t in inputs.leaves(data.x) for v in t[i].flatten().tolist())

    rows = {row(fitted, i) for i in range(len(fitted))}
    keep = torch.tensor([row(guard, i) not in rows for i in range(len(guard))])
    return guard[keep.to(guard.y.device)]


def _fit(
    posterior: Posterior, data: Examples, guard: Examples, fitted: Examples, locality: float, seed: int
) -> nn.Module:
    check(locality >= 0, "locality", f"a non-negative L2 weight, got {locality}")
    update = FineTune(posterior.record.config, seed, prox=locality)
    return posterior.insert(data, update, _without(guard, fitted)).model


@TREATMENTS.register("finetune-failures", guard_without=unfitted)
def finetune_failures(
    posterior: Posterior, causes: Tensor, guard: Examples, *, locality: float = 0.01, seed: int = 0
) -> nn.Module:
    """``θ = argmin mean_{F_q} L(θ) + locality/2 ‖θ − θ̂‖²`` from θ̂ by the training recipe, early-stopped on the guard
    without the failures fitted on. ``causes`` are not used: this learns the failures instead of unlearning C."""
    failures = guard_failures(posterior, guard, seed)
    return _fit(posterior, failures, guard, failures, locality, seed)


@TREATMENTS.register("finetune-failures-removed", guard_without=unfitted)
def finetune_failures_removed(
    posterior: Posterior, causes: Tensor, guard: Examples, *, locality: float = 0.01, seed: int = 0
) -> nn.Module:
    """``θ = argmin mean_{(D∖C) ∪ F_q} L(θ) + locality/2 ‖θ − θ̂‖²`` from θ̂: fine-tuning on D \\ C with the query
    failures added to it, early-stopped on the guard without the failures fitted on."""
    failures = guard_failures(posterior, guard, seed)
    kept = posterior.kept(causes)
    everything = [kept.take(torch.arange(len(kept))).to(posterior.device), failures.to(posterior.device)]
    data = Examples(inputs.cat([part.x for part in everything]), torch.cat([part.y for part in everything]))
    return _fit(posterior, data, guard, failures, locality, seed)
