from __future__ import annotations

import pytest
import torch

from remedy.data import QueryHalf, split_test
from remedy.data.split import parse_modes, predict
from remedy.errors import RemedyError
from remedy.examples import Examples


def test_split_halves_the_test_set_and_finds_failures_in_each(flipped_logreg: dict) -> None:
    model, test = flipped_logreg["model"], flipped_logreg["test"]
    a, b, c = (split_test(model, test, seed=s) for s in (4, 4, 5))
    assert torch.equal(a.query.index, b.query.index) and torch.equal(
        a.held_out.failures_index, b.held_out.failures_index
    )
    assert not torch.equal(a.query.guard_index, c.query.guard_index)
    halves = torch.cat([a.query.guard_index, a.held_out.index]).sort().values
    assert torch.equal(halves, torch.arange(len(test))) and abs(len(a.query.guard) - len(a.held_out.examples)) <= 1
    wrong = predict(model, test.x) != test.y
    guard, held = set(a.query.guard_index.tolist()), set(a.held_out.index.tolist())
    assert set(a.query.index.tolist()) == {i for i in guard if wrong[i]}
    assert set(a.held_out.failures_index.tolist()) == {i for i in held if wrong[i]}
    assert set(a.held_out.remaining_index.tolist()) == {i for i in held if not wrong[i]}
    q = a.query
    assert len(q.val) == round(0.1 * len(q.failures)) and len(q.val) + len(q.fit) == len(q.failures)
    assert sum(a.modes().values()) == len(q.failures) + len(a.held_out.failures)


def test_the_query_half_holds_nothing_of_the_held_out_half(flipped_logreg: dict) -> None:
    """By type: every tensor a scorer or a treatment can reach comes from T_q."""
    model, test = flipped_logreg["model"], flipped_logreg["test"]
    split = split_test(model, test, seed=0)
    held = set(split.held_out.index.tolist())
    query = split.query
    assert not held & set(query.guard_index.tolist()) and not held & set(query.index.tolist())
    reachable = [v for v in vars(query).values() if isinstance(v, (torch.Tensor, Examples))]
    rows = {tuple(x.tolist()) for x in test.x[split.held_out.index]}
    for value in reachable:
        if isinstance(value, Examples):
            assert not rows & {tuple(x.tolist()) for x in value.x}


def test_modes_select_failures_and_group_them(flipped_logreg: dict) -> None:
    model, test = flipped_logreg["model"], flipped_logreg["test"]
    all_modes = split_test(model, test, seed=0).modes()
    mode = all_modes.most_common(1)[0][0]
    only = split_test(model, test, seed=0, modes=[mode])
    assert set(only.modes()) == {mode}
    assert len(only.held_out.remaining) == len(split_test(model, test, seed=0).held_out.remaining)
    groups = only.query.mode_groups(min_size=1)
    assert [g for g, _ in groups] == [mode] and len(groups[0][1]) == len(only.query.failures)
    assert parse_modes("4->9, 7->1") == [(4, 9), (7, 1)]
    with pytest.raises(RemedyError, match=r"^--failures: expected modes like"):
        parse_modes("4-9")


def test_no_failures_is_a_clear_error(flipped_logreg: dict) -> None:
    model = flipped_logreg["model"]
    x = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    with pytest.raises(RemedyError, match=r"^failures: expected at least 2 misclassified"):
        split_test(model, (x, torch.tensor([0, 1])), seed=0)


def test_a_query_half_from_known_failures_keeps_every_example() -> None:
    failures = Examples(torch.randn(20, 3), torch.randint(0, 2, (20,)))
    q = QueryHalf.of(failures, seed=1)
    assert len(q.fit) == 18 and len(q.val) == 2 and len(q.guard) == 20
