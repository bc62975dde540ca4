"""Ground truths for influence on L2-regularised logistic regression, where LOO, PBRF and influence coincide."""

from __future__ import annotations

import pytest
import torch

from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.errors import RemedyError
from remedy.examples import Examples
from remedy.experiments.common import full_batch_posterior
from remedy.experiments.fidelity_logreg import logistic_regression
from remedy.experiments.fidelity_mnist import mlp
from remedy.fidelity import (
    TRUTHS,
    GradientDescent,
    Responses,
    correlations,
    detection_area,
    ewc_changes,
    gap_terms,
    lds,
    minimise,
    predicted_changes,
    summarise,
)
from remedy.fidelity import responses as responses_module
from remedy.metrics import ECE, PerExampleLoss

WD = 0.1
EXACT = InverseSettings("hessian", "direct", damping=0.0)


@pytest.fixture(scope="module")
def responses() -> Responses:
    data = load_dataset("breast-cancer")
    train = Examples(data.train.x[:120].double(), data.train.y[:120])
    test = Examples(data.test.x[:4].double(), data.test.y[:4])
    posterior = full_batch_posterior(lambda seed: logistic_regression(30, seed), train, WD, minimise, seed=0)
    return Responses(posterior, PerExampleLoss(test), proximity=WD)


def test_loo_pbrf_and_influence_agree_on_a_convex_model(responses: Responses) -> None:
    points = range(0, 120, 6)
    loo = torch.stack([responses.loo_warm(j) for j in points])
    pbrf = torch.stack([responses.pbrf(j) for j in points])
    influence = torch.stack([responses.linearized(j) for j in points])
    assert correlations(influence, loo)["spearman"] >= 0.99  # Pearson 0.90–0.9997 over 4 splits: one leverage point
    assert correlations(influence, pbrf)["spearman"] >= 0.99
    assert correlations(pbrf, loo)["pearson"] >= 0.99
    assert float(loo.abs().max()) > 1e-4  # the removals do move the measurements
    scratch = responses.loo_scratch(0, seeds=(1,))  # convex: the start does not matter
    torch.testing.assert_close(scratch, loo[0], rtol=1e-3, atol=1e-7)


def test_pbrf_at_zero_epsilon_is_theta_hat(responses: Responses) -> None:
    torch.testing.assert_close(responses.pbrf_parameters(3, 0.0), responses.theta, rtol=0, atol=1e-7)
    moved = responses.pbrf_parameters(3, -1.0 / responses.posterior.n)
    assert float((moved - responses.theta).norm()) > 1e-5


def test_each_gap_term_measures_its_own_cause(responses: Responses) -> None:
    """On the convex model retraining from scratch lands where warm-starting does, so the warm-start term vanishes
    while the proximity and linearisation terms do not; a solver 10 % off shows up in the solver term alone."""
    j = 7
    linearized = responses.linearized(j)
    terms = gap_terms(
        responses.loo_scratch(j, seeds=(1,)),
        responses.loo_warm(j),
        responses.proximal(j),
        responses.pbrf(j),
        linearized,
        1.1 * linearized,
    )
    scale = float(terms["total"].abs().max() + linearized.abs().max())
    assert float(terms["warm_start"].abs().max()) < 1e-3 * scale
    assert float(terms["proximity"].abs().max()) > 1e-2 * float(linearized.abs().max())
    torch.testing.assert_close(terms["solver"], 0.1 * linearized)


def test_lds_of_exact_influence_against_group_retraining(responses: Responses) -> None:
    predicted = torch.stack([responses.linearized(j) for j in range(responses.posterior.n)])
    kept = torch.rand(12, responses.posterior.n, generator=torch.Generator().manual_seed(0)) > 0.1
    retrained = torch.stack([responses.loo_scratch(~mask) for mask in kept])
    assert lds(predicted, kept, retrained) >= 0.9


def test_lds_is_one_for_an_additive_ground_truth() -> None:
    gen = torch.Generator().manual_seed(0)
    predicted = torch.randn(30, 2, generator=gen, dtype=torch.float64)
    kept = torch.rand(40, 30, generator=gen) > 0.5
    actual = (~kept).double() @ predicted
    assert lds(predicted, kept, actual) == pytest.approx(1.0)
    assert lds(predicted, kept, -actual) == pytest.approx(-1.0)


def test_linearization_by_cg_matches_the_dense_solve(responses: Responses, monkeypatch) -> None:
    dense = responses.linearized(5)
    monkeypatch.setattr(responses_module, "DENSE_LIMIT", 0)
    del responses.__dict__["_sensitivity"]
    torch.testing.assert_close(responses.linearized(5), dense, rtol=1e-6, atol=1e-12)
    del responses.__dict__["_sensitivity"]


def test_estimators_predict_the_linearization_on_their_scale(responses: Responses) -> None:
    posterior, points = responses.posterior, torch.arange(0, 120, 10)
    data = load_dataset("breast-cancer").test
    test = Examples(data.x[:4].double(), data.y[:4])
    exact = predicted_changes(posterior, PerExampleLoss(test), points, EXACT)
    linear = torch.stack([responses.linearized(int(j)) for j in points])
    torch.testing.assert_close(exact, linear, rtol=1e-5, atol=1e-10)  # logistic regression: GGN = Hessian


def test_ewc_influence_follows_its_first_order_form(responses: Responses) -> None:
    """Eq. 10–11 with a single measured example q: ``−r_q(z) ≈ ∇L_zᵀ (N F̂)⁻¹ ∇L_q`` (Adam stops short of θ*_q,
    so the scale differs; the sign and the ranking must not)."""
    posterior, points = responses.posterior, torch.arange(0, 120, 3)
    data = load_dataset("breast-cancer").test
    test = Examples(data.x[:4].double(), data.y[:4])
    ewc = ewc_changes(posterior, PerExampleLoss(test), points)
    jacobian = PerExampleLoss(test).jacobian(posterior.model).T
    first_order = posterior.passes.train_products(jacobian / (posterior.n * posterior.curvatures.fisher()[:, None]))[
        points
    ]
    assert correlations(ewc, first_order)["spearman"] >= 0.85  # 0.91–0.96 over 4 splits of breast-cancer


def test_any_metric_is_a_measurement(responses: Responses) -> None:
    """The soft-binned ECE as the measurement: its linearisation is the metric's Jacobian path, and the PBRF
    approaches it as ε → 0 (at ε = 1/N the smooth ECE is already far from linear on this model)."""
    posterior, points = responses.posterior, torch.arange(0, 120, 8)
    data = load_dataset("breast-cancer").test
    ece = ECE(Examples(data.x.double(), data.y))
    on_ece = Responses(posterior, ece, proximity=WD)
    exact = predicted_changes(posterior, ece, points, EXACT)
    torch.testing.assert_close(exact, torch.stack([on_ece.linearized(int(j)) for j in points]), rtol=1e-5, atol=1e-10)
    for j in (0, 8, 16):
        small = on_ece._change(on_ece.pbrf_parameters(j, -0.01 / posterior.n), on_ece.theta) / 0.01
        torch.testing.assert_close(small, on_ece.linearized(j), rtol=2e-2, atol=1e-7)
    with pytest.raises(RemedyError, match="metric"):
        ewc_changes(posterior, ece, points)


@pytest.fixture(scope="module")
def network() -> Responses:
    """A smooth, non-convex model short of its optimum: a GELU MLP after 40 full-batch gradient-descent steps."""
    data = load_dataset("mnist", quick=True)
    train = Examples(data.train.x[:150].double(), data.train.y[:150])
    measured = Examples(data.test.x[:3].double(), data.test.y[:3])
    trainer = GradientDescent(40)
    posterior = full_batch_posterior(lambda seed: mlp(3, seed), train, 0.05, trainer, seed=0)
    return Responses(posterior, PerExampleLoss(measured), 0.05, tol=1e-8, retrain=trainer)


def test_network_is_short_of_an_optimum(network: Responses) -> None:
    theta = network.theta.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(network.objective(None)(theta), theta)
    assert float(gradient.norm()) > 1e-3  # so the non-convergence term has something to measure


def test_pbrf_on_a_network_is_theta_hat_at_zero_and_linear_near_it(network: Responses) -> None:
    torch.testing.assert_close(network.pbrf_parameters(4, 0.0), network.theta, rtol=0, atol=1e-8)
    scale = 1e-2
    small = network._change(network.pbrf_parameters(4, -scale / network.posterior.n), network.theta) / scale
    torch.testing.assert_close(small, network.linearized(4), rtol=2e-2, atol=1e-6)
    assert network.worst_gradient <= 1e-8


def test_retraining_from_thetas_own_init_reproduces_it(network: Responses) -> None:
    _, full = network._scratch_fit(0)
    torch.testing.assert_close(full, network.theta, rtol=0, atol=0)
    assert float(network.loo_scratch(4, seeds=(0,)).abs().max()) > 0


def test_summary_leaves_out_diverged_points() -> None:
    gen = torch.Generator().manual_seed(0)
    truths = {name: torch.randn(6, 2, generator=gen, dtype=torch.float64) for name in TRUTHS}
    truths["pbrf"][2, 1] = float("nan")
    estimates = {"cg": truths["linearized"] + 0.01}
    summary = summarise(truths, estimates, "cg")
    assert summary["n_points_dropped"] == 1
    assert summary["solver_error"]["cg"] == pytest.approx(0.01)
    assert summary["correlation"]["cg"]["pbrf"]["pearson"] == summary["correlation"]["cg"]["pbrf"]["pearson"]


def test_pearson_within_ignores_each_measurements_offset() -> None:
    gen = torch.Generator().manual_seed(1)
    predicted = torch.randn(20, 3, generator=gen, dtype=torch.float64)
    shifted = predicted + torch.tensor([0.0, 5.0, -5.0], dtype=torch.float64)
    stats = correlations(predicted, shifted)
    assert stats["pearson_within"] == pytest.approx(1.0)
    assert stats["pearson"] < 0.5


def test_detection_area_runs_from_oracle_to_worst() -> None:
    corrupted = torch.tensor([False, True, False, True, False])
    oracle = detection_area(corrupted.double(), corrupted)
    assert oracle == pytest.approx((0.5 + 1 + 1 + 1 + 1) / 5)
    assert detection_area(-corrupted.double(), corrupted) == pytest.approx((0 + 0 + 0 + 0.5 + 1) / 5)
