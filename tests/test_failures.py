from __future__ import annotations

import pytest
import torch

from remedy.data import Failures, split_failures
from remedy.errors import RemedyError
from remedy.task import Examples


def test_split_is_deterministic_and_partitions_the_test_set(flipped_logreg: dict) -> None:
    model, test = flipped_logreg["model"], flipped_logreg["test"]
    a, b, c = (split_failures(model, test, seed=s) for s in (4, 4, 5))
    assert torch.equal(a.query_index, b.query_index) and torch.equal(a.holdout_index, b.holdout_index)
    assert not torch.equal(a.query_index, c.query_index)
    every = torch.cat([a.query_index, a.holdout_index, a.remaining_index]).sort().values
    assert torch.equal(every, torch.arange(len(test)))
    assert abs(len(a.query) - len(a.holdout)) <= 1
    assert len(a.query_val) == round(0.1 * len(a.query)) and len(a.query_val) + len(a.query_fit) == len(a.query)


def test_no_failures_is_a_clear_error(flipped_logreg: dict) -> None:
    model = flipped_logreg["model"]
    x = torch.tensor([[-3.0, 0.0], [3.0, 0.0]])
    with pytest.raises(RemedyError, match=r"^failures: expected at least 2 misclassified"):
        split_failures(model, (x, torch.tensor([0, 1])), seed=0)


def test_from_query_keeps_every_example() -> None:
    query = Examples(torch.randn(20, 3), torch.randint(0, 2, (20,)))
    f = Failures.from_query(query, seed=1)
    assert len(f.query_fit) == 18 and len(f.query_val) == 2 and len(f.holdout) == 0
