"""PUMA against exact references on L2-regularised logistic regression (float64, explicit Hessian)."""

from __future__ import annotations

import pytest
import torch

from remedy import Posterior
from remedy.curvature import InverseSettings
from remedy.examples import Examples
from remedy.metrics import ECE, Custom, Error, FairnessGap, Loss, PerExampleLoss, Stack, ece
from remedy.models import LogisticRegression, train_model
from remedy.models.config import TrainConfig
from remedy.puma import compensation_weights, patch, valuation
from remedy.task import cross_entropy

WD = 0.05
EXACT = InverseSettings("hessian", "direct", damping=1e-3)


def blobs(n: int, seed: int) -> Examples:
    """Two overlapping Gaussian classes in 2-D (means ±1 on the first axis), float64."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    x[:, 0] += 2.0 * y - 1.0
    return Examples(x, y)


@pytest.fixture(scope="module")
def setup() -> dict:
    train, test = blobs(200, seed=4), blobs(300, seed=5)
    torch.manual_seed(0)
    config = TrainConfig(lr=0.05, patience=20, max_epochs=300)
    model, _ = train_model(LogisticRegression(2, 2).double(), train, config=config, seed=0)
    posterior = Posterior(model.eval(), train, weight_decay=WD)
    hessian = posterior.curvatures.get("hessian").dense() + 1e-3 * torch.eye(6, dtype=torch.float64)
    grads = []
    for i in range(len(train)):
        model.zero_grad()
        cross_entropy(model(train.x[i : i + 1]), train.y[i : i + 1]).sum().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    return {"posterior": posterior, "test": test, "hessian": hessian, "grads": torch.stack(grads)}


def direct(setup: dict, metric_jacobian: torch.Tensor) -> torch.Tensor:
    return setup["grads"] @ torch.linalg.solve(setup["hessian"], metric_jacobian.T)


def test_psi_for_the_training_loss_equals_direct_influence_products(setup: dict) -> None:
    posterior, grads = setup["posterior"], setup["grads"]
    psi = valuation(posterior, Loss(posterior.train), EXACT)
    torch.testing.assert_close(psi[:, 0], direct(setup, grads.mean(0, keepdim=True))[:, 0], rtol=1e-6, atol=1e-9)
    pairwise = valuation(posterior, PerExampleLoss(posterior.train), EXACT)  # ψ[i, j] = g_jᵀ H⁻¹ g_i
    torch.testing.assert_close(pairwise, grads @ torch.linalg.solve(setup["hessian"], grads.T), rtol=1e-6, atol=1e-9)
    assert bool((pairwise.diagonal() > 0).all())  # self-influence: removing z raises its own loss


def test_metric_jacobians_match_autograd(setup: dict) -> None:
    posterior, test = setup["posterior"], setup["test"]
    model = posterior.model
    custom = Custom(lambda logits, y: logits.logsumexp(1).mean(), test)
    for metric in (ECE(test), Error(test, temperature=0.5), FairnessGap(test, test.x[:, 1] > 0), custom):
        model.zero_grad()
        metric.smooth(model(test.x), test.y).backward()
        expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        torch.testing.assert_close(metric.jacobian(model)[0], expected)
    stacked = Stack([Loss(test), ECE(test)])
    assert stacked.jacobian(model).shape == (2, 6) and stacked.value(model).shape == (2,)


def test_metric_jacobians_chunk_by_chunk_equal_the_whole_sets(setup: dict) -> None:
    """The chain rule through the logits, one chunk of examples at a time: a metric of the whole set (ECE) and one
    row per example (each example's log-sum-exp) give the Jacobian of one backward pass over everything."""
    posterior, test = setup["posterior"], setup["test"]
    model = posterior.model
    params = list(model.parameters())
    ece = ECE(test)
    torch.testing.assert_close(ece.jacobian(model, rows=7), ece.jacobian(model, rows=len(test)))
    rows = Custom(lambda logits, y: logits.logsumexp(1), test).jacobian(model, rows=7)
    for i in (0, 8, len(test) - 1):
        (value,) = model(test.x[i : i + 1]).logsumexp(1)
        expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(value, params)])
        torch.testing.assert_close(rows[i], expected)
    assert bool((rows[1:].abs().sum(1) > 0).all())


def test_binned_ece_and_its_smooth_surrogate() -> None:
    gen = torch.Generator().manual_seed(0)
    logits, y = torch.randn(500, 3, generator=gen, dtype=torch.float64) * 3, torch.randint(0, 3, (500,), generator=gen)
    conf, pred = torch.softmax(logits, -1).max(-1)
    loop = 0.0
    for b in range(10):
        inside = (conf >= b / 10) & (conf < (b + 1) / 10) if b < 9 else conf >= 0.9
        if inside.any():
            gap = float((pred[inside] == y[inside]).double().mean() - conf[inside].mean())
            loop += inside.sum().item() / 500 * abs(gap)
    assert float(ece(logits, y, bins=10)) == pytest.approx(loop, abs=1e-12)
    sharp = ECE((torch.zeros(500, 1), y), bins=10, temperature=1e-4, eps=1e-9)
    assert float(sharp.smooth(logits, y)) == pytest.approx(loop, abs=0.01)


def test_first_order_prediction_matches_the_measured_change(setup: dict) -> None:
    posterior, test = setup["posterior"], setup["test"]
    causes = torch.arange(0, 200, 10)
    metric = Loss(test)
    result = patch(
        posterior,
        causes,
        metric,
        compensate=False,
        max_step=1e-5,
        delta=float("inf"),
        inverse=EXACT,
    )
    measured = float(metric.value(result.model) - metric.value(posterior.model))
    predicted = float(result.predicted_change[0])
    assert abs(predicted) > 1e-6
    assert abs(measured - predicted) <= 0.05 * abs(measured)


def test_compensation_recovers_planted_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    psi = torch.randn(200, 60, generator=gen, dtype=torch.float64)  # 200 candidates, 60 equations
    planted = torch.zeros(200, dtype=torch.float64)
    planted[torch.randperm(200, generator=gen)[:6]] = torch.tensor(
        [1.5, -2.0, 0.7, 1.0, -0.5, 2.5], dtype=torch.float64
    )
    weights = compensation_weights(psi, psi.T @ planted, alpha=1e-4, l1_ratio=1.0)
    assert set(torch.nonzero(weights.abs() > 0.05).flatten().tolist()) == set(torch.nonzero(planted).flatten().tolist())
    torch.testing.assert_close(weights, planted, atol=0.02, rtol=0)


def test_patch_keeps_the_measured_guard_within_delta_and_leaves_the_model_alone(setup: dict) -> None:
    posterior, test = setup["posterior"], setup["test"]
    before = [p.detach().clone() for p in posterior.model.parameters()]
    causes = torch.nonzero(posterior.train.y == 1).flatten()[:40]
    guard = Error(test)
    reference = PerExampleLoss(posterior.train[torch.arange(1, 200, 5)])
    for delta in (0.005, 0.02):
        result = patch(
            posterior,
            causes,
            reference,
            guard=guard,
            delta=delta,
            max_step=0.5,
            inverse=EXACT,
        )
        change = float(guard.measure(result.model) - guard.measure(posterior.model))
        assert abs(change) <= delta and change == pytest.approx(result.guard_change)
        assert result.step > 0 and result.n_nonzero > 0
        naive = patch(
            posterior,
            causes,
            reference,
            compensate=False,
            max_step=result.step,
            halvings=0,
            delta=float("inf"),
            inverse=EXACT,
        )
        assert naive.n_nonzero == 0
        assert naive.predicted_change.abs().sum() > result.predicted_change.abs().sum()  # λ* cancels ΔM
    for p, q in zip(posterior.model.parameters(), before, strict=True):
        assert torch.equal(p, q)
