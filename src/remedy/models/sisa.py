"""Sharded, isolated, sliced, aggregated training (SISA, Bourtoule et al. 2021), as a mode of remedy's trainer: any
``nn.Module`` is trained once per shard, slice by slice, and the shard models answer together."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor, nn

from remedy.errors import check
from remedy.examples import Data
from remedy.inputs import output_logits
from remedy.models.config import TrainConfig
from remedy.models.record import Shards
from remedy.seeds import derive, seeded, stream
from remedy.task import LossFn

Trainer = Callable[[nn.Module, Data, LossFn, TrainConfig, int], tuple[nn.Module, float]]
"""``train(model, data, loss, config, seed) -> (trained model, epochs)``: how one stage is trained."""


SHARDS, SLICES = 5, 2
"""SISA's layout when a method asks for one (the demo for ``--treat sisa``; the unlearning experiment): 5 shards of
the training set, each trained in 2 slices with a checkpoint after each."""


class ShardEnsemble(nn.Module):
    """The shard models answering together: ``log mean_k softmax(f_k(x))`` (the mean of their probabilities as
    log-probabilities, so that the predicted class is the one with the highest mean probability), or with
    ``aggregate="vote"`` the log of each class's share of the shard models' votes."""

    def __init__(self, members: list[nn.Module], aggregate: str = "mean") -> None:
        super().__init__()
        check(aggregate in ("mean", "vote"), "aggregate", f"'mean' or 'vote', got {aggregate!r}")
        self.members = nn.ModuleList(members)
        self.aggregate = aggregate

    def forward(self, *args: Tensor, **kwargs: Tensor) -> Tensor:
        """The members' aggregate on the inputs, passed to each member as given (a tensor, a tuple, a dict)."""
        logits = torch.stack([output_logits(member(*args, **kwargs)) for member in self.members])  # [S, B, C]
        if self.aggregate == "vote":
            votes = nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).double().mean(0)
            return votes.clamp_min(1e-6).log().to(logits.dtype)
        return torch.logsumexp(torch.log_softmax(logits, -1), 0) - torch.log(torch.tensor(float(len(self.members))))


def fresh(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with every submodule's ``reset_parameters()`` run under ``seed``."""
    model = copy.deepcopy(model)
    with seeded(seed, "init"):
        for module in model.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
    return model


def assign(n: int, shards: int, slices: int, seed: int) -> tuple[Tensor, Tensor]:
    """Each of ``n`` examples' shard and slice: a seeded random partition into equal shards, each into equal slices."""
    order = torch.randperm(n, generator=stream(seed, "sisa-shards"))
    shard, part = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.long)
    for k, members in enumerate(order.tensor_split(shards)):
        shard[members] = k
        for r, piece in enumerate(members.tensor_split(slices)):
            part[piece] = r
    return shard, part


def train_stages(
    record: Shards,
    k: int,
    start: int,
    model: nn.Module,
    data: Data,
    loss: LossFn,
    config: TrainConfig,
    train: Trainer,
    keep: Tensor | None = None,
) -> nn.Module:
    """Shard ``k``'s stages ``start, …, R − 1`` from ``model``: stage r trains on the shard's slices ``0 … r`` (only
    the training indices in ``keep`` when given) with the stage's own seed, and saves its checkpoint."""
    for r in range(start, record.n_slices):
        members = record.members(k, r)
        if keep is not None:
            members = members[torch.isin(members, keep)]
        check(len(members) >= 2, "causes", f"to leave at least 2 examples in shard {k}, slice {r}")
        model, epochs = train(model, data.subset(members), loss, config, record.seeds[k][r])
        record.stage_epochs[k][r] = epochs * len(members) / len(data)
        record.save(k, r, model.state_dict())
    return model


def train_sharded(
    model: nn.Module, data: Data, loss: LossFn, config: TrainConfig, seed: int, folder: Path, train: Trainer
) -> tuple[ShardEnsemble, Shards]:
    """SISA: ``config.shards`` models, each from a fresh initialisation of ``model`` trained on its shard slice by
    slice (each stage as ``train`` trains a model, the shard's earlier slices included), checkpointed after every
    slice in ``folder``. Returns the ensemble and its record."""
    shard, part = assign(len(data), config.shards, config.slices, seed)
    seeds = [[derive(seed, f"shard-{k}-slice-{r}") % 2**31 for r in range(config.slices)] for k in range(config.shards)]
    epochs = [[0.0] * config.slices for _ in range(config.shards)]
    record = Shards(Path(folder), shard, part, config.shards, config.slices, seeds, epochs)
    record.folder.mkdir(parents=True, exist_ok=True)
    stage = replace(config, shards=1, slices=1, record=False)
    members = [
        train_stages(record, k, 0, fresh(model, seeds[k][0]), data, loss, stage, train) for k in range(config.shards)
    ]
    return ShardEnsemble(members).eval(), record
