"""SISA: sharded, sliced training in the trainer, and unlearning that retrains only the affected shards from their
last clean slice."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.models import LogisticRegression
from remedy.models.sisa import ShardEnsemble, fresh
from remedy.treat.sisa import retrained_fraction


def states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    other = b.state_dict()
    return all(torch.equal(value, other[key]) for key, value in a.state_dict().items())


@pytest.fixture(scope="module")
def sharded(flipped_logreg: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    config = remedy.TrainConfig(lr=0.05, patience=5, max_epochs=20, shards=3, slices=2)
    folder = tmp_path_factory.mktemp("sisa")
    model, record = remedy.train_model(
        LogisticRegression(2, 2), flipped_logreg["train"], config=config, record_dir=folder
    )
    return {
        "model": model,
        "record": record,
        "posterior": remedy.Posterior(model, flipped_logreg["train"], record=record),
    }


def test_the_trainer_shards_slices_and_checkpoints(sharded: dict, flipped_logreg: dict) -> None:
    model, shards = sharded["model"], sharded["record"].shards
    assert isinstance(model, ShardEnsemble) and len(model.members) == 3 and not model.training
    assert sorted(torch.bincount(shards.shard).tolist()) == [133, 133, 134]
    for k in range(3):  # each shard model is its last checkpoint
        last = shards.checkpoint(k, 1)
        assert all(torch.equal(value, last[key]) for key, value in model.members[k].state_dict().items())
    probabilities = torch.stack([m(flipped_logreg["test"].x).softmax(-1) for m in model.members]).mean(0)
    torch.testing.assert_close(model(flipped_logreg["test"].x).exp(), probabilities)
    assert remedy.evaluate(model, remedy.split_test(model, flipped_logreg["test"]))["accuracy"]["net"] > 0.8


def test_unlearning_retrains_only_the_shards_that_held_a_cause(sharded: dict) -> None:
    posterior, shards = sharded["posterior"], sharded["record"].shards
    guard = (torch.randn(10, 2), torch.zeros(10, dtype=torch.long))
    causes = torch.nonzero((shards.shard == 1) & (shards.slice == 1)).flatten()[:4]  # the last slice of shard 1
    unlearned = remedy.repair(posterior, causes, "sisa", guard=guard, delta=1.0).model
    assert states_equal(unlearned.members[0], posterior.model.members[0])
    assert states_equal(unlearned.members[2], posterior.model.members[2])
    assert not states_equal(unlearned.members[1], posterior.model.members[1])
    assert retrained_fraction(shards, causes) < 0.3  # one shard's second stage
    nothing = remedy.repair(posterior, torch.zeros(0, dtype=torch.long), "sisa", guard=guard, delta=1.0).model
    assert all(states_equal(a, b) for a, b in zip(nothing.members, posterior.model.members, strict=True))


def test_one_shard_and_one_slice_is_retraining(flipped_logreg: dict, tmp_path) -> None:
    from remedy.models.sisa import train_sharded
    from remedy.models.train import train_stage

    train = flipped_logreg["train"]
    config = remedy.TrainConfig(lr=0.05, patience=5, max_epochs=20, shards=1, slices=1)
    initial = LogisticRegression(2, 2)
    ensemble, shards = train_sharded(initial, train, remedy.cross_entropy, config, 0, tmp_path, train_stage)
    record = remedy.TrainingRecord(config, shards=shards)
    posterior = remedy.Posterior(ensemble, train, record=record)
    causes = torch.nonzero(flipped_logreg["mask"]).flatten()
    guard = (torch.randn(10, 2), torch.zeros(10, dtype=torch.long))
    unlearned = remedy.repair(posterior, causes, "sisa", guard=guard, delta=1.0).model
    stage = remedy.TrainConfig(lr=0.05, patience=5, max_epochs=20)
    retrained, _ = remedy.train_model(
        fresh(initial, shards.seeds[0][0]), posterior.kept(causes), config=stage, seed=shards.seeds[0][0]
    )
    assert states_equal(unlearned.members[0], retrained)
    assert retrained_fraction(shards, causes) == 1.0


def test_a_model_trained_without_shards_is_a_one_line_error(problem: dict) -> None:
    with pytest.raises(remedy.RemedyError, match=r"^treatment sisa: needs a training record with sharded"):
        remedy.repair(problem["posterior"], torch.tensor([0]), "sisa", guard=problem["split"].query.guard)
