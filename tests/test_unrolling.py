"""Unrolling SGD reads the training record: on a linear model trained with plain SGD for a few steps, the first-order
unrolled contribution of a few examples matches replaying the same batches without them."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.models import LogisticRegression
from remedy.models.train import training_objective
from remedy.task import cross_entropy
from remedy.treat.unrolling import unrolled_contribution


@pytest.fixture(scope="module")
def sgd_run(flipped_logreg: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    config = remedy.TrainConfig(
        optimizer="sgd", lr=0.02, batch_size=64, max_epochs=1, early_stopping=False, record=True
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initial = LogisticRegression(2, 2)
    folder = tmp_path_factory.mktemp("unrolling")
    model, record = remedy.train_model(initial, flipped_logreg["train"], config=config, seed=0, record_dir=folder)
    return {"posterior": remedy.Posterior(model, flipped_logreg["train"], record=record), **flipped_logreg}


def replay_without(posterior: remedy.Posterior, causes: torch.Tensor) -> torch.Tensor:
    """θ_T when every recorded step is taken again from θ_0 with the causes' terms left out of their batches (each
    remaining example keeps its 1/|B| weight): the true contribution is θ̂ minus this."""
    trajectory = posterior.record.trajectory
    theta = trajectory.initial().clone()
    probe = LogisticRegression(2, 2)
    for step in trajectory.iterate():
        torch.nn.utils.vector_to_parameters(theta.clone(), probe.parameters())
        data = posterior.train.take(step.batch)
        keep = (~torch.isin(step.batch, causes)).float() / len(step.batch)
        loss = (cross_entropy(probe(data.x), data.y) * keep).sum()
        grads = torch.autograd.grad(loss, list(probe.parameters()))
        theta = theta - step.lr * torch.cat([g.reshape(-1) for g in grads])
    return theta


def test_the_unrolled_estimate_matches_the_replayed_contribution(sgd_run: dict) -> None:
    posterior = sgd_run["posterior"]
    causes = torch.nonzero(sgd_run["mask"]).flatten()[:5]
    truth = posterior.theta().double() - replay_without(posterior, causes).double()
    estimate = unrolled_contribution(posterior, causes)
    assert float(truth.norm()) > 1e-3  # the premise: removing them moves θ
    cosine = float(truth @ estimate / (truth.norm() * estimate.norm()))
    assert cosine > 0.99 and float((estimate - truth).norm() / truth.norm()) < 0.1
    start = unrolled_contribution(posterior, causes, at="start")  # Thudi et al.'s single gradient at θ_0: coarser
    assert float((start - truth).norm()) > float((estimate - truth).norm())


def test_the_standard_deviation_loss_is_thudis_formula() -> None:
    logits, y = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 0, 1])
    objective = training_objective(cross_entropy, remedy.TrainConfig(sd_regularizer=0.5))
    expected = cross_entropy(logits, y) + 0.5 * logits.std(dim=1) / 3
    torch.testing.assert_close(objective(logits, y), expected)
    assert training_objective(cross_entropy, remedy.TrainConfig()) is cross_entropy


def test_removal_lands_near_the_run_replayed_without_the_causes(sgd_run: dict) -> None:
    posterior = sgd_run["posterior"]
    causes = torch.nonzero(sgd_run["mask"]).flatten()[:5]
    guard = remedy.split_test(posterior.model, sgd_run["test"], seed=0).query.guard
    removed = remedy.repair(posterior, causes, "unrolling", guard=guard, delta=1.0).model
    theta = torch.cat([p.detach().reshape(-1) for p in removed.parameters()]).double()
    replayed, original = replay_without(posterior, causes).double(), posterior.theta().double()
    assert float((theta - replayed).norm()) < 0.1 * float((original - replayed).norm())
