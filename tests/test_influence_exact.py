"""Linear influence vs leave-one-out retraining, and Newton removal vs retraining, on a convex model.

L2-regularised logistic regression on breast-cancer with λ = 0.1 (100 exact refits). The first-order estimate
ranks the removals almost exactly (Spearman ≥ 0.999 on this split and three others); its Pearson correlation
is 0.998–0.9998 on three splits but 0.967 on this one, where one high-leverage point changes the curvature
itself when removed, which a first-order estimate ignores. The test asks for both.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import pearsonr, spearmanr
from torch.nn.utils import parameters_to_vector, vector_to_parameters

import remedy
from remedy.curvature import InverseSettings
from remedy.data import load_dataset
from remedy.examples import Examples
from remedy.identify.linear_influence import pairwise_influence
from remedy.models import LogisticRegression
from remedy.task import cross_entropy

WD = 0.1
EXACT = InverseSettings("hessian", "direct", damping=0.0)


def fit_exactly(model: torch.nn.Module, data: Examples, weights: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """argmin_θ (1/N) Σ_i w_i L_i(θ) + WD/2 ‖θ‖² to gradient norm 1e-10 with L-BFGS (float64)."""
    params = list(model.parameters())

    def f(flat: np.ndarray) -> tuple[float, np.ndarray]:
        theta = torch.tensor(flat, dtype=torch.float64, requires_grad=True)
        names = [n for n, _ in model.named_parameters()]
        logits = torch.func.functional_call(model, dict(zip(names, _split(theta, params), strict=True)), (data.x,))
        value = (weights * cross_entropy(logits, data.y)).sum() / len(data) + 0.5 * WD * theta.square().sum()
        (grad,) = torch.autograd.grad(value, theta)
        return float(value.detach()), grad.numpy()

    result = minimize(
        f, start.numpy(), jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000}
    )
    return torch.tensor(result.x, dtype=torch.float64)


def _split(theta: torch.Tensor, params: list) -> list[torch.Tensor]:
    return [t.view(p.shape) for t, p in zip(theta.split([p.numel() for p in params]), params, strict=True)]


@pytest.fixture(scope="module")
def problem() -> dict:
    data = load_dataset("breast-cancer")
    train = Examples(data.train.x.double(), data.train.y)
    test = Examples(data.test.x.double(), data.test.y)
    torch.manual_seed(0)
    model = LogisticRegression(30, 2).double().eval()
    theta = fit_exactly(
        model, train, torch.ones(len(train), dtype=torch.float64), parameters_to_vector(model.parameters()).detach()
    )
    with torch.no_grad():
        vector_to_parameters(theta, list(model.parameters()))
    return {"model": model, "train": train, "test": test, "theta": theta}


def query_loss(model: torch.nn.Module, theta: torch.Tensor, query: Examples) -> float:
    probe = LogisticRegression(30, 2).double()
    vector_to_parameters(theta, list(probe.parameters()))
    with torch.no_grad():
        return float(cross_entropy(probe(query.x), query.y).mean())


@pytest.fixture(scope="module")
def leave_one_out(problem: dict) -> dict:
    """Actual change of the worst-fit test points' mean loss when each of 100 training points is removed."""
    model, train, theta = problem["model"], problem["train"], problem["theta"]
    with torch.no_grad():
        probs = torch.softmax(model(problem["test"].x), -1)
    query = problem["test"][probs.gather(1, problem["test"].y[:, None]).squeeze(1).argsort()[:8]]
    chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:100]
    base = query_loss(model, theta, query)
    actual = []
    for i in chosen.tolist():
        weights = torch.ones(len(train), dtype=torch.float64)
        weights[i] = 0.0  # removal = weight −1/N on z_i in the mean objective (Koh & Liang's ε)
        actual.append(
            query_loss(model, fit_exactly(LogisticRegression(30, 2).double(), train, weights, theta), query) - base
        )
    return {"query": query, "chosen": chosen, "actual": np.array(actual)}


@pytest.mark.parametrize("solver", ["direct", "cg"])
def test_influence_predicts_leave_one_out_retraining(problem: dict, leave_one_out: dict, solver: str) -> None:
    posterior = remedy.Posterior(problem["model"], problem["train"], weight_decay=WD)
    failures = remedy.QueryHalf.of(leave_one_out["query"])
    exact = InverseSettings("hessian", solver, damping=0.0)
    scores = remedy.identify(posterior, failures, "linear-influence", inverse=exact)
    predicted_change = -scores.values / len(problem["train"])  # first-order change of the query loss on removal
    predicted, actual = predicted_change[leave_one_out["chosen"]].numpy(), leave_one_out["actual"]
    assert spearmanr(predicted, actual).statistic >= 0.99
    assert pearsonr(predicted, actual).statistic >= 0.95


def test_pairwise_matrix_matches_per_query_scores(problem: dict) -> None:
    posterior = remedy.Posterior(problem["model"], problem["train"], weight_decay=WD)
    queries = problem["test"][:4]
    matrix = pairwise_influence(posterior, queries, EXACT)
    for j in range(4):
        single = remedy.identify(
            posterior,
            remedy.QueryHalf.of(queries[j : j + 1]),
            "linear-influence",
            inverse=EXACT,
        )
        torch.testing.assert_close(matrix[:, j].double(), single.values)


def test_newton_removal_lands_next_to_the_retrained_optimum(problem: dict) -> None:
    model, train, theta = problem["model"], problem["train"], problem["theta"]
    posterior = remedy.Posterior(model, train, weight_decay=WD)
    causes = torch.arange(0, 40, 4)  # 10 training points
    kept = torch.ones(len(train), dtype=torch.bool)
    kept[causes] = False
    retrained = fit_exactly(
        LogisticRegression(30, 2).double(), train[kept], torch.ones(int(kept.sum()), dtype=torch.float64), theta
    )
    repaired = remedy.repair(posterior, causes, "newton", guard=problem["test"], inverse=EXACT, delta=1.0).model
    newton = parameters_to_vector(repaired.parameters()).detach()
    moved = float((retrained - theta).norm())
    assert float((newton - retrained).norm()) <= 0.05 * moved  # 1–3.5 % of the distance retraining moves on 4 splits
