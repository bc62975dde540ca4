"""Amnesiac ML reads the training record: taking back every step returns the initial weights, and taking back the
steps that saw the planted flips repairs the model."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.errors import RemedyError
from remedy.models import LogisticRegression
from remedy.treat.amnesiac import subtract_steps


@pytest.fixture(scope="module")
def recorded(flipped_logreg: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    config = remedy.TrainConfig(lr=0.05, patience=10, record=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        initial = LogisticRegression(2, 2)
    folder = tmp_path_factory.mktemp("amnesiac")
    model, record = remedy.train_model(initial, flipped_logreg["train"], config=config, seed=0, record_dir=folder)
    posterior = remedy.Posterior(model, flipped_logreg["train"], record=record)
    split = remedy.split_test(model, flipped_logreg["test"], seed=0)
    return {"posterior": posterior, "split": split, "initial": initial, **flipped_logreg}


def test_taking_back_every_step_returns_the_initial_weights(recorded: dict) -> None:
    posterior = recorded["posterior"]
    steps = list(range(posterior.record.trajectory.steps))
    initial = torch.cat([p.detach().reshape(-1) for p in recorded["initial"].parameters()])
    torch.testing.assert_close(subtract_steps(posterior, steps).float(), initial, rtol=0, atol=1e-6)
    torch.testing.assert_close(subtract_steps(posterior, []).float(), posterior.theta(), rtol=0, atol=0)


def test_taking_back_the_steps_that_saw_a_few_flips_forgets_them(recorded: dict) -> None:
    """Amnesiac's case: a few examples, seen in a few batches. Their (wrong) labels become less likely, while the
    guard holds and the same seed gives the same model."""
    posterior, split = recorded["posterior"], recorded["split"]
    causes = torch.nonzero(recorded["mask"]).flatten()[:3]
    steps = posterior.record.trajectory.steps_with(causes)
    assert 0 < len(steps) < posterior.record.trajectory.steps  # the premise: some steps saw them, not all
    fixed = remedy.repair(posterior, causes, "amnesiac", guard=split.query.guard)
    forgotten = posterior.train.subset(causes)
    before, after = posterior.log_likelihood(forgotten), posterior.log_likelihood(forgotten, fixed.model)
    assert float(after.mean()) < float(before.mean())
    assert fixed.guard_after >= fixed.guard_before - 0.01 and fixed.step == 1.0
    same = remedy.repair(posterior, causes, "amnesiac", guard=split.query.guard)
    again = same.model.state_dict()
    assert all(torch.equal(value, again[key]) for key, value in fixed.model.state_dict().items())


def test_a_model_trained_without_a_record_is_a_one_line_error(problem: dict) -> None:
    with pytest.raises(RemedyError, match=r"^treatment amnesiac: needs a training record with every optimiser step"):
        remedy.repair(problem["posterior"], torch.tensor([0]), "amnesiac", guard=problem["split"].query.guard)
