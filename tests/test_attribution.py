"""Per-failure attribution against direct computations: the [N, Q] harm matrices of linear influence, TracIn and
representer points, each normalisation and each aggregation."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

import remedy
from reference import loop_grads
from remedy.curvature import InverseSettings
from remedy.examples import Examples
from remedy.identify.attribution import attribute, combine, rank_fraction
from remedy.identify.linear_influence import InfluencePairs
from remedy.identify.representer import RepresenterPairs, features, fit_representer, last_linear
from remedy.identify.tracin import TracInPairs
from remedy.models import MLP

EXACT = InverseSettings("ggn", "direct", damping=0.1)  # PSD, so every RelatIF norm is real


@pytest.fixture(scope="module")
def small() -> dict:
    gen = torch.Generator().manual_seed(0)
    train = Examples(torch.randn(40, 3, generator=gen, dtype=torch.float64), torch.randint(0, 3, (40,), generator=gen))
    queries = Examples(torch.randn(7, 3, generator=gen, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 1, 2, 2]))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MLP(3, 3, hidden=(4,)).double().eval()
    return {"model": model, "train": train, "queries": queries}


def test_influence_matrix_and_normalisations(small: dict) -> None:
    posterior = remedy.Posterior(small["model"], small["train"])
    g, gq = loop_grads(small["model"], small["train"]), loop_grads(small["model"], small["queries"])
    h = posterior.curvatures.get("ggn").dense() + 0.1 * torch.eye(g.shape[1], dtype=torch.float64)
    solved = torch.linalg.solve(h, g.T).T  # H⁻¹ g_z
    raw = -g @ torch.linalg.solve(h, gq.T)  # [N, Q]
    pairs = InfluencePairs(posterior, EXACT)
    torch.testing.assert_close(pairs.harm(small["queries"], "none"), raw)
    expected = {
        "unit": raw / g.norm(dim=1, keepdim=True),
        "theta-relative": raw / solved.norm(dim=1, keepdim=True),
        "l-relative": raw / (g * solved).sum(1, keepdim=True).sqrt(),
        "cosine": raw
        / (g * solved).sum(1, keepdim=True).sqrt()
        / (gq * torch.linalg.solve(h, gq.T).T).sum(1).sqrt()[None],
    }
    for kind, matrix in expected.items():
        torch.testing.assert_close(pairs.harm(small["queries"], kind), matrix)
        weights = torch.rand(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(pairs.harm(small["queries"], kind, weights), matrix @ weights)


def test_aggregations_of_a_given_matrix(small: dict) -> None:
    posterior = remedy.Posterior(small["model"], small["train"])
    pairs = InfluencePairs(posterior, EXACT)
    queries = small["queries"]
    matrix = pairs.harm(queries, "cosine")
    torch.testing.assert_close(attribute(pairs, queries, "cosine", "sum"), matrix.sum(1))
    ranks = torch.stack([matrix[:, j].argsort(descending=True).argsort().double() + 1 for j in range(7)], 1) / 40
    torch.testing.assert_close(attribute(pairs, queries, "cosine", "mean-rank", block=3), -ranks.mean(1))
    means = torch.stack([matrix[:, queries.y == c].mean(1) for c in range(3)], 1)
    torch.testing.assert_close(attribute(pairs, queries, "cosine", "class-max"), means.max(1).values)
    torch.testing.assert_close(rank_fraction(matrix), ranks)


def test_group_combination_weighs_by_size() -> None:
    columns = torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 1.0]], dtype=torch.float64)
    sizes, classes = torch.tensor([3, 1]), torch.tensor([4, -1])
    torch.testing.assert_close(combine(columns, "sum", classes, sizes), columns @ sizes.double())
    torch.testing.assert_close(combine(columns, "class-max", classes, sizes), columns.max(1).values)
    assert int(combine(columns, "mean-rank", classes, sizes).argmax()) == 2  # ranks 2nd and 1st by size 3 and 1


def test_tracin_is_the_hand_written_sum_over_two_checkpoints(small: dict) -> None:
    model, train, queries = small["model"], small["train"], small["queries"]
    moved = {k: v + 0.05 * torch.ones_like(v) for k, v in model.state_dict().items()}
    config = remedy.TrainConfig(lr=0.01)
    posterior = remedy.Posterior(
        model, train, record=remedy.TrainingRecord(config, checkpoints=[moved, model.state_dict()])
    )
    expected = torch.zeros(len(train), len(queries), dtype=torch.float64)
    unit = torch.zeros_like(expected)
    for state in (moved, model.state_dict()):
        probe = MLP(3, 3, hidden=(4,)).double().eval()
        probe.load_state_dict(state)
        g, gq = loop_grads(probe, train), loop_grads(probe, queries)
        expected -= 0.01 * g @ gq.T
        unit -= 0.01 * (g / g.norm(dim=1, keepdim=True)) @ (gq / gq.norm(dim=1, keepdim=True)).T
    pairs = TracInPairs(posterior)
    torch.testing.assert_close(pairs.harm(queries, "none"), expected)
    torch.testing.assert_close(pairs.harm(queries, "cosine"), unit)
    summed = remedy.identify(posterior, remedy.QueryHalf.of(queries), "tracin").values
    torch.testing.assert_close(summed, expected.sum(1))  # every training example its own sum


def test_representer_values_reconstruct_the_last_layer(small: dict) -> None:
    posterior = remedy.Posterior(small["model"], small["train"])
    fit = fit_representer(posterior, lam=0.05)
    torch.testing.assert_close(fit.alpha.T @ fit.train_features, fit.weight, atol=1e-7, rtol=1e-6)  # W = Σ α_i f_iᵀ
    layer = last_linear(posterior.model, 3)
    fq = features(posterior.model, layer, small["queries"])
    logits = fq @ fit.weight.T
    torch.testing.assert_close((fit.train_features @ fq.T).T @ fit.alpha, logits, atol=1e-7, rtol=1e-6)
    p = torch.softmax(logits, -1) - torch.nn.functional.one_hot(small["queries"].y, 3)
    expected = (fit.alpha @ p.T) * (fit.train_features @ fq.T)  # ∇_Φ L(q)ᵀ α_i f_iᵀ f_q
    torch.testing.assert_close(RepresenterPairs(posterior, 0.05).harm(small["queries"], "none"), expected)


def test_functional_model_matches_the_module(small: dict) -> None:  # the features hook sees the logits' inputs
    model = small["model"]
    layer = last_linear(model, 3)
    f = features(model, layer, small["queries"])
    params = {k: v for k, v in model.named_parameters()}
    logits = functional_call(model, params, (small["queries"].x,))
    torch.testing.assert_close(f[:, :-1] @ layer.weight.T.double() + layer.bias.double(), logits.detach())


def test_self_attribution_is_the_diagonal_of_each_matrix(small: dict) -> None:
    """``own()`` of every pairwise scorer equals ``h(z_i, z_i)``, the diagonal of its train × train matrix."""
    model, train = small["model"], small["train"]
    moved = {k: v + 0.05 * torch.ones_like(v) for k, v in model.state_dict().items()}
    record = remedy.TrainingRecord(remedy.TrainConfig(lr=0.01), checkpoints=[moved, model.state_dict()])
    posterior = remedy.Posterior(model, train, record=record)
    for pairs in (InfluencePairs(posterior, EXACT), TracInPairs(posterior), RepresenterPairs(posterior, 0.05)):
        own = pairs.own()
        torch.testing.assert_close(own, pairs.harm(train, "none").diagonal())
        assert bool((own < 0).all())  # training on z lowers z's own loss
