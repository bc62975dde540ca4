"""Ground truths for influence on L2-regularised logistic regression, where LOO, PBRF and influence coincide."""

from __future__ import annotations

import pytest
import torch

from remedy import Posterior
from remedy.curvature.functional import FunctionalModel
from remedy.data import load_dataset
from remedy.fidelity import Responses, correlations, gap_terms, lds, minimise
from remedy.models import LogisticRegression
from remedy.task import Examples, cross_entropy

WD = 0.1


@pytest.fixture(scope="module")
def responses() -> Responses:
    data = load_dataset("breast-cancer")
    train = Examples(data.train.x[:120].double(), data.train.y[:120])
    test = Examples(data.test.x[:4].double(), data.test.y[:4])
    torch.manual_seed(0)
    model = LogisticRegression(30, 2).double().eval()
    posterior = Posterior(model, train, weight_decay=WD)
    f = FunctionalModel(posterior.model)
    theta = minimise(lambda t: cross_entropy(f(t, train.x), train.y).mean() + 0.5 * WD * t.square().sum(), f.theta)
    torch.nn.utils.vector_to_parameters(theta, list(posterior.model.parameters()))
    posterior = Posterior(posterior.model, train, weight_decay=WD)
    return Responses(posterior, lambda t: cross_entropy(f(t, test.x), test.y), proximity=WD)


def test_loo_pbrf_and_influence_agree_on_a_convex_model(responses: Responses) -> None:
    points = range(0, 120, 6)
    loo = torch.stack([responses.loo_warm(j) for j in points])
    pbrf = torch.stack([responses.pbrf(j) for j in points])
    influence = torch.stack([responses.linearized(j) for j in points])
    assert correlations(influence, loo)["pearson"] >= 0.99
    assert correlations(influence, pbrf)["pearson"] >= 0.99
    assert correlations(pbrf, loo)["pearson"] >= 0.99
    assert float(loo.abs().max()) > 1e-4  # the removals do move the measurements
    scratch = responses.loo_scratch(0, seeds=(1,))  # convex: the start does not matter
    torch.testing.assert_close(scratch, loo[0], rtol=1e-3, atol=1e-7)


def test_pbrf_at_zero_epsilon_is_theta_hat(responses: Responses) -> None:
    torch.testing.assert_close(responses.pbrf_parameters(3, 0.0), responses.theta, rtol=0, atol=1e-7)
    moved = responses.pbrf_parameters(3, -1.0 / responses.posterior.n)
    assert float((moved - responses.theta).norm()) > 1e-5


def test_five_terms_sum_to_the_total(responses: Responses) -> None:
    j = 7
    estimate = 1.1 * responses.linearized(j)  # a solver 10 % off
    terms = gap_terms(
        responses.loo_scratch(j),
        responses.loo_warm(j),
        responses.proximal(j),
        responses.pbrf(j),
        responses.linearized(j),
        estimate,
    )
    parts = sum(terms[name] for name in ("warm_start", "proximity", "non_convergence", "linearization", "solver"))
    torch.testing.assert_close(parts, terms["total"], rtol=0, atol=1e-12)
    torch.testing.assert_close(terms["solver"], 0.1 * responses.linearized(j))


def test_lds_is_one_for_an_additive_ground_truth() -> None:
    gen = torch.Generator().manual_seed(0)
    predicted = torch.randn(30, 2, generator=gen, dtype=torch.float64)
    kept = torch.rand(40, 30, generator=gen) > 0.5
    actual = (~kept).double() @ predicted
    assert lds(predicted, kept, actual) == pytest.approx(1.0)
    assert lds(predicted, kept, -actual) == pytest.approx(-1.0)
