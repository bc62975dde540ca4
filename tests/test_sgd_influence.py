"""SGD-influence against the truth it estimates: replaying the recorded mini-batch sequence without one example."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.models import MLP
from remedy.task import cross_entropy


@pytest.fixture(scope="module")
def sgd_run(flipped_logreg: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    config = remedy.TrainConfig(optimizer="sgd", lr=0.1, batch_size=32, max_epochs=3, early_stopping=False, record=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initial = MLP(2, 2, hidden=(8,))
    folder = tmp_path_factory.mktemp("sgd-influence")
    model, record = remedy.train_model(initial, flipped_logreg["train"], config=config, seed=0, record_dir=folder)
    posterior = remedy.Posterior(model, flipped_logreg["train"], record=record)
    return {"posterior": posterior, "split": remedy.split_test(model, flipped_logreg["test"], seed=0), **flipped_logreg}


def replayed_change(posterior: remedy.Posterior, z: int, targets: remedy.Examples) -> float:
    """``M(θ_T without z) − M(θ_T)``: every recorded step taken again from θ_0 with z's term left out of its batch."""
    trajectory = posterior.record.trajectory
    probe = MLP(2, 2, hidden=(8,))
    theta = trajectory.initial().clone()
    for step in trajectory.iterate():
        torch.nn.utils.vector_to_parameters(theta.clone(), probe.parameters())
        data = posterior.train.take(step.batch)
        weights = (step.batch != z).float() / len(step.batch)
        loss = (cross_entropy(probe(data.x), data.y) * weights).sum()
        grads = torch.autograd.grad(loss, list(probe.parameters()))
        theta = theta - step.lr * torch.cat([g.reshape(-1) for g in grads])
    torch.nn.utils.vector_to_parameters(theta, probe.parameters())
    with torch.no_grad():
        without = float(cross_entropy(probe(targets.x), targets.y).mean())
        torch.nn.utils.vector_to_parameters(trajectory.final(), probe.parameters())
        with_z = float(cross_entropy(probe(targets.x), targets.y).mean())
    return without - with_z


def test_sgd_influence_matches_replaying_the_run_without_each_point(sgd_run: dict) -> None:
    posterior, split = sgd_run["posterior"], sgd_run["split"]
    scores = remedy.identify(posterior, split.query, "sgd-influence", target="failures").values
    points = torch.randperm(posterior.n, generator=torch.Generator().manual_seed(1))[:30]
    truth = torch.tensor([replayed_change(posterior, int(z), split.query.failures) for z in points])
    estimate = -scores[points]  # the score is minus the estimated change of the failures' loss
    assert float(truth.abs().max()) > 1e-4
    assert float(torch.corrcoef(torch.stack([truth.double(), estimate]))[0, 1]) >= 0.95


def test_without_a_trajectory_it_says_how_to_get_one(problem: dict) -> None:
    with pytest.raises(remedy.RemedyError, match=r"^scorer sgd-influence: needs a training record with every"):
        remedy.identify(problem["posterior"], problem["split"].query, "sgd-influence")
