"""Set-aware selection rules against cases whose answer is known: flips in both directions of a confusion, where a
ranking of single-example effects takes one direction and the set must take both."""

from __future__ import annotations

import pytest
import torch

import remedy
from remedy.examples import Examples
from remedy.identify import adaptive as adaptive_module
from remedy.identify import cells as cells_module
from remedy.identify import identify
from remedy.identify.adaptive import remaining_failures
from remedy.identify.cells import cell_counts, per_cell_order, suspected
from remedy.models import LogisticRegression, train_model
from remedy.models.config import TrainConfig
from remedy.seeds import seeded


def two_way(a_flips: int, b_flips: int, seed: int = 0) -> dict:
    """Two overlapping 2-D classes of 200 with ``a_flips`` of class 0 labelled 1 (direction 0 → 1) and ``b_flips``
    of class 1 labelled 0, a logistic regression trained on them, and its test split."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(400) % 2
    x = torch.randn(400, 2, generator=gen) + torch.stack([(y.float() - 0.5) * 4, torch.zeros(400)], 1)
    zeros, ones = torch.nonzero(y == 0).flatten(), torch.nonzero(y == 1).flatten()
    a, b = zeros[:a_flips], ones[:b_flips]
    noisy = y.clone()
    noisy[a], noisy[b] = 1, 0
    train = Examples(x, noisy)
    with seeded(seed, "init"):
        initial = LogisticRegression(2, 2)
    model, _ = train_model(initial, train, config=TrainConfig(lr=0.05, patience=10), seed=0)
    ty = torch.arange(2000) % 2
    test = Examples(
        torch.randn(2000, 2, generator=gen) + torch.stack([(ty.float() - 0.5) * 4, torch.zeros(2000)], 1), ty
    )
    posterior = remedy.Posterior(model, train, record=remedy.TrainingRecord(TrainConfig(lr=0.05)))
    return {"posterior": posterior, "split": remedy.split_test(model, test, seed=0), "a": a, "b": b, "y": y}


def test_per_cell_order_interleaves_cells_in_proportion_to_their_counts() -> None:
    values = torch.tensor([9.0, 8.0, 7.0, 6.0, 1.0, 0.5, 5.0, 4.0])
    cell = torch.tensor([0, 0, 0, 0, 1, 1, -1, -1])
    order, count = per_cell_order(values, cell, {0: 2, 1: 2})
    assert count == 4
    assert set(order[:2].tolist()) == {0, 4} and set(order[2:4].tolist()) == {1, 5}  # one of each cell, then again
    assert order[4:].tolist() == [2, 3, 6, 7]  # the rest by value
    unequal, count = per_cell_order(values, cell, {0: 4, 1: 1})
    assert count == 5 and unequal[2] == 4 and unequal[:5].tolist() == [0, 1, 4, 2, 3]  # a cell of one in the middle


def test_confident_joint_counts_both_directions_of_a_two_way_flip() -> None:
    labels = torch.tensor([0] * 90 + [1] * 10 + [1] * 80 + [0] * 20)  # 10 of class 0 labelled 1, 20 of 1 labelled 0
    true = torch.tensor([0] * 100 + [1] * 100)
    probs = torch.nn.functional.one_hot(true, 2).double() * 0.9 + 0.05
    counts = cell_counts(labels, probs)
    assert counts[1, 0] == 10 and counts[0, 1] == 20  # given 1 true 0, given 0 true 1
    assert torch.equal(suspected(labels, probs), 1 - labels)


def test_cells_take_both_directions_where_the_single_example_ranking_takes_one(monkeypatch) -> None:
    case = two_way(20, 20)
    a, b = case["a"], case["b"]
    lean = torch.zeros(400, dtype=torch.float64)
    lean[a], lean[b] = 10.0, 5.0  # the base ranking puts every 0 → 1 flip before any 1 → 0 flip
    monkeypatch.setattr(cells_module, "base_scores", lambda *args: lean)
    greedy = set(torch.argsort(lean, descending=True)[:20].tolist())
    assert greedy == set(a.tolist())  # one direction only
    scores = identify(case["posterior"], case["split"].query, "cells", within="all")
    top = scores.ranking()[:20].tolist()
    assert 8 <= len(set(top) & set(a.tolist())) <= 12 and 8 <= len(set(top) & set(b.tolist())) <= 12
    assert scores.count is not None and 30 <= scores.count <= 50  # ≈ the 40 flipped labels
    taken = set(scores.ranking()[: scores.count].tolist())
    cells = scores.details["cells"]  # given → suspected true: a is labelled 1 (cell 1 → 0), b labelled 0 (0 → 1)
    assert len(taken & set(a.tolist())) == min(cells["1 → 0"], 20) and len(taken & set(b.tolist())) == min(
        cells["0 → 1"], 20
    )


@pytest.mark.parametrize("refit", ["finetune", "newton"])
def test_adaptive_rescoring_finds_the_direction_the_first_batch_left(monkeypatch, refit: str) -> None:
    case = two_way(30, 10)
    a, b, posterior, split = case["a"], case["b"], case["posterior"], case["split"]
    flipped = torch.zeros(400, dtype=torch.float64)
    flipped[a], flipped[b] = 1.0, 1.0
    labels = posterior.train.labels

    def pulled(posterior_, query, base, shared):  # a base that explains only the commonest failure mode
        predicted = torch.tensor([p for _, p in query.modes()])
        common = int(torch.bincount(predicted, minlength=2).argmax())
        return (labels == common).double() * (flipped + 0.1)

    monkeypatch.setattr(adaptive_module, "base_scores", pulled)
    first = pulled(posterior, split.query, "", {})
    greedy = set(torch.argsort(first, descending=True)[:40].tolist())
    assert len(greedy & set(b.tolist())) == 0  # the failures go 0 → 1: one-shot scoring takes no 1 → 0 flip
    scores = identify(posterior, split.query, "adaptive", rounds=2, batch=30 / 400, refit=refit)
    top = set(scores.ranking()[:40].tolist())
    assert top == set(a.tolist()) | set(b.tolist())
    assert scores.details["failures_per_round"][0] > 0


def test_remaining_failures_are_the_new_models_mistakes_on_the_query_half() -> None:
    case = two_way(30, 10)
    split = case["split"]
    again = remaining_failures(case["posterior"].model, split.query)
    assert again is not None and len(again.failures) == len(split.query.failures)
    assert sorted(again.index.tolist()) == sorted(split.query.index.tolist())


def test_set_rules_refuse_another_set_rule_as_base(problem: dict) -> None:
    with pytest.raises(remedy.RemedyError, match=r"^base: expected a scorer of single examples"):
        identify(problem["posterior"], problem["split"].query, "cells", base="adaptive")
