"""MAGIC's metagradients against the truth they differentiate: the recorded run replayed step by step with one
example's weight in the loss moved up and down (central differences), for Adam, SGD with momentum and averaged
iterates."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.identify.magic import metagradients
from remedy.models import MLP
from remedy.task import cross_entropy


def trained(data: remedy.Examples, folder, **recipe) -> remedy.Posterior:
    config = remedy.TrainConfig(batch_size=16, max_epochs=2, early_stopping=False, record=True, **recipe)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initial = MLP(2, 2, hidden=(6,)).double()
    model, record = remedy.train_model(initial, data, config=config, seed=0, record_dir=folder)
    return remedy.Posterior(model, data, record=record)


def replayed(posterior: remedy.Posterior, weights: torch.Tensor, targets: remedy.Examples) -> float:
    """The targets' mean loss after every recorded step is taken again from θ_0 with per-example ``weights`` in the
    loss, the recorded optimiser rebuilt from its description (θ̂ averaged where the run averaged)."""
    trajectory, config = posterior.record.trajectory, posterior.record.config
    probe = MLP(2, 2, hidden=(6,)).double()
    torch.nn.utils.vector_to_parameters(trajectory.initial().double(), probe.parameters())
    from remedy.models.fit import optimizer_for

    optimiser = optimizer_for(list(probe.parameters()), config)
    averaged, snapshots = set(trajectory.averaged or ()), []
    for step in trajectory.iterate():
        data = posterior.train.take(step.batch)
        loss = (cross_entropy(probe(data.x), data.y) * weights[step.batch]).sum() / len(step.batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step.index + 1 in averaged:
            snapshots.append(torch.nn.utils.parameters_to_vector(probe.parameters()).detach().clone())
    if snapshots:
        torch.nn.utils.vector_to_parameters(torch.stack(snapshots).mean(0), probe.parameters())
    with torch.no_grad():
        return float(cross_entropy(probe(targets.x), targets.y).mean())


@pytest.mark.parametrize(
    "recipe",
    [{"optimizer": "adam", "lr": 0.05}, {"optimizer": "sgd", "lr": 0.2, "momentum": 0.9}, {"lr": 0.05, "average": 0.5}],
    ids=["adam", "sgd-momentum", "adam-averaged"],
)
def test_metagradients_are_the_derivative_of_the_replayed_run(flipped_logreg: dict, tmp_path, recipe) -> None:
    train = flipped_logreg["train"]
    data = remedy.Examples(train.x[:96].double(), train.y[:96])
    posterior = trained(data, tmp_path, **recipe)
    targets = remedy.Examples(flipped_logreg["test"].x[:50].double(), flipped_logreg["test"].y[:50])
    f = remedy.curvature.functional.FunctionalModel(posterior.model)
    exact = metagradients(posterior, lambda t: cross_entropy(f(t, targets.x), targets.y).mean()[None])[:, 0]
    eps = 1e-4
    for z in (0, 7, 41, 90):
        up, down = torch.ones(96, dtype=torch.float64), torch.ones(96, dtype=torch.float64)
        up[z], down[z] = 1 + eps, 1 - eps
        truth = (replayed(posterior, up, targets) - replayed(posterior, down, targets)) / (2 * eps)
        assert abs(truth) > 1e-5
        assert exact[z] == pytest.approx(truth, rel=2e-3, abs=1e-7)


def test_magic_scores_the_query_loss_and_needs_the_trajectory(problem: dict) -> None:
    with pytest.raises(remedy.RemedyError, match=r"^scorer magic: needs a training record with every"):
        remedy.identify(problem["posterior"], problem["split"].query, "magic")
