from __future__ import annotations

import pytest
import torch

from remedy.data import Failures, split_failures
from remedy.data.failures import parse_modes, predict
from remedy.errors import RemedyError
from remedy.examples import Examples


def test_split_halves_the_test_set_and_finds_failures_in_each(flipped_logreg: dict) -> None:
    model, test = flipped_logreg["model"], flipped_logreg["test"]
    a, b, c = (split_failures(model, test, seed=s) for s in (4, 4, 5))
    assert torch.equal(a.query_index, b.query_index) and torch.equal(a.holdout_index, b.holdout_index)
    assert not torch.equal(a.guard_index, c.guard_index)
    halves = torch.cat([a.guard_index, a.held_out_index]).sort().values
    assert torch.equal(halves, torch.arange(len(test))) and abs(len(a.guard) - len(a.held_out)) <= 1
    wrong = predict(model, test.x) != test.y
    guard, held = set(a.guard_index.tolist()), set(a.held_out_index.tolist())
    assert set(a.query_index.tolist()) == {i for i in guard if wrong[i]}
    assert set(a.holdout_index.tolist()) == {i for i in held if wrong[i]}
    assert set(a.remaining_index.tolist()) == {i for i in held if not wrong[i]}
    assert len(a.query_val) == round(0.1 * len(a.query)) and len(a.query_val) + len(a.query_fit) == len(a.query)
    assert sum(a.modes().values()) == len(a.query) + len(a.holdout)


def test_modes_select_failures_and_group_them(flipped_logreg: dict) -> None:
    model, test = flipped_logreg["model"], flipped_logreg["test"]
    all_modes = split_failures(model, test, seed=0).modes()
    mode = all_modes.most_common(1)[0][0]
    only = split_failures(model, test, seed=0, modes=[mode])
    assert set(only.modes()) == {mode} and len(only.remaining) == len(split_failures(model, test, seed=0).remaining)
    groups = only.mode_groups(min_size=1)
    assert [g for g, _ in groups] == [mode] and len(groups[0][1]) == len(only.query)
    assert parse_modes("4->9, 7->1") == [(4, 9), (7, 1)]
    with pytest.raises(RemedyError, match=r"^--failures: expected modes like"):
        parse_modes("4-9")


def test_no_failures_is_a_clear_error(flipped_logreg: dict) -> None:
    model = flipped_logreg["model"]
    x = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    with pytest.raises(RemedyError, match=r"^failures: expected at least 2 misclassified"):
        split_failures(model, (x, torch.tensor([0, 1])), seed=0)


def test_from_query_keeps_every_example() -> None:
    query = Examples(torch.randn(20, 3), torch.randint(0, 2, (20,)))
    f = Failures.from_query(query, seed=1)
    assert len(f.query_fit) == 18 and len(f.query_val) == 2 and len(f.holdout) == 0
