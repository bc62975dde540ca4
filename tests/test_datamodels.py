"""The linear datamodeling score against retraining on random subsets: exact influence on an L2-regularised logistic
regression predicts it, random scores do not, and a killed run resumes from the subsets it finished."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import remedy
from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.evaluate import Datamodels, lds
from remedy.evaluate.datamodels import query_losses
from remedy.examples import Examples
from remedy.experiments.common import full_batch_posterior
from remedy.experiments.fidelity_logreg import logistic_regression
from remedy.fidelity import minimise
from remedy.identify.linear_influence import pairwise_influence

WD = 0.05


@pytest.fixture(scope="module")
def convex() -> dict:
    data = load_dataset("breast-cancer")
    train = Examples(data.train.x[:120].double(), data.train.y[:120])
    queries = Examples(data.test.x[:12].double(), data.test.y[:12])
    posterior = full_batch_posterior(lambda s: logistic_regression(30, s), train, WD, minimise, seed=0)

    def retrain(subset: remedy.Examples, seed: int) -> torch.nn.Module:
        return full_batch_posterior(lambda s: logistic_regression(30, s), subset, WD, minimise, seed=0).model

    return {"posterior": posterior, "queries": queries, "retrain": retrain, "train": train}


def test_exact_influence_predicts_subset_retraining_and_random_does_not(convex: dict, tmp_path: Path) -> None:
    posterior, queries = convex["posterior"], convex["queries"]
    datamodels = Datamodels(
        convex["retrain"], query_losses(queries, remedy.cross_entropy), convex["train"], 0.5, 30, 0, tmp_path
    )
    assert datamodels.measurements.shape == (30, 12) and int(datamodels.masks.sum(1)[0]) == 60
    exact = pairwise_influence(posterior, queries, InverseSettings("hessian", "direct", damping=0.0))
    assert datamodels.lds(exact) > 0.8
    noise = torch.randn(120, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(datamodels.lds(noise)) < 0.15
    assert lds(exact, datamodels.masks, datamodels.measurements) == datamodels.lds(exact)

    def never(subset: remedy.Examples, seed: int) -> torch.nn.Module:
        raise AssertionError("every subset was saved: nothing is retrained")

    again = Datamodels(never, query_losses(queries, remedy.cross_entropy), convex["train"], 0.5, 30, 0, tmp_path)
    assert torch.equal(again.measurements, datamodels.measurements)


def test_an_additive_truth_has_score_one() -> None:
    gen = torch.Generator().manual_seed(0)
    effects = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    masks = torch.rand(25, 40, generator=gen) > 0.5
    assert lds(effects, masks, masks.double() @ effects) == pytest.approx(1.0)
