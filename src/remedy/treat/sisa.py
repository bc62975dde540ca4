"""SISA unlearning (Bourtoule et al. 2021): retrain only the shards that held a cause, from their last clean slice."""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Examples
from remedy.models.record import Shards
from remedy.models.sisa import ShardEnsemble, fresh, train_stages
from remedy.models.train import train_stage
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS


def retrained_fraction(shards: Shards, causes: Tensor) -> float:
    """The share of the original training cost (data-weighted epochs of every stage) that unlearning ``causes``
    retrains: every stage of an affected shard from the first slice that held a cause."""
    total = sum(sum(stage) for stage in shards.stage_epochs)
    redone = 0.0
    for k in range(shards.n_shards):
        hit = causes[shards.shard[causes] == k]
        if len(hit):
            redone += sum(shards.stage_epochs[k][int(shards.slice[hit].min()) :])
    return redone / total if total else 0.0


@TREATMENTS.register("sisa", needs=("shards",), local=False)
def sisa(posterior: Posterior, causes: Tensor, guard: Examples) -> nn.Module:
    """Exact unlearning of a SISA ensemble: for every shard that held a cause, restart from its checkpoint before the
    first slice holding one (a fresh initialisation for slice 0) and train the remaining stages again without the
    causes, with the stages' own seeds; the other shards are kept as they are. The result equals SISA trained from
    scratch on the same shards and slices without the causes. ``guard`` is not used (retraining, like ``retrain``,
    cannot be backed off)."""
    shards = posterior.record.shards
    assert shards is not None  # required by the registry trait
    ensemble = posterior.model
    check(isinstance(ensemble, ShardEnsemble), "model", "a ShardEnsemble trained with TrainConfig(shards=S)")
    out = copy.deepcopy(ensemble)
    if len(causes) == 0:
        return out
    keep = torch.nonzero(~torch.isin(torch.arange(posterior.n), causes)).flatten()
    stage = replace(posterior.record.config, shards=1, slices=1, record=False)
    own = replace(shards, stage_epochs=[list(row) for row in shards.stage_epochs])  # the original's costs stay
    for k in range(shards.n_shards):
        hit = causes[shards.shard[causes] == k]
        if len(hit) == 0:
            continue
        first = int(shards.slice[hit].min())
        start = copy.deepcopy(out.members[k])
        if first == 0:
            start = fresh(start, shards.seeds[k][0])
        else:
            start.load_state_dict({key: v.to(posterior.device) for key, v in shards.checkpoint(k, first - 1).items()})
        unsaved = replace(own, folder=own.folder / "unlearned")
        out.members[k] = train_stages(
            unsaved, k, first, start, posterior.train, posterior.loss, stage, train_stage, keep
        )
    return out.eval()
