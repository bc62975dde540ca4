"""Which way the causes pull, beside which way the failures go; the warning when one direction takes the set."""

from __future__ import annotations

import torch

from remedy.evaluate.directions import directed, directions, leaning


def test_a_cause_labelled_b_predicted_a_pulls_a_toward_b_and_fitted_causes_pull_nowhere() -> None:
    labels = torch.tensor([7, 7, 1, 1, 4, 3])
    predicted = torch.tensor([1, 1, 7, 1, 9, 3])  # two pull 1 → 7, one pulls 7 → 1, one pulls 9 → 4; two fit
    rows = directions(labels, predicted, torch.arange(6), [(1, 7), (1, 7), (7, 1), (9, 4)])
    by_pair = {row["pair"]: row for row in rows}
    assert by_pair["1 ↔ 7"]["failures"] == {"1 → 7": 2, "7 → 1": 1}
    assert by_pair["1 ↔ 7"]["causes"] == {"1 → 7": 2, "7 → 1": 1}
    assert by_pair["4 ↔ 9"]["causes"] == {"4 → 9": 0, "9 → 4": 1}
    assert rows[0]["pair"] == "1 ↔ 7"  # most failures first


def test_it_warns_only_when_the_causes_lean_further_than_the_failures() -> None:
    labels = torch.tensor([7] * 19 + [1] * 1)
    predicted = torch.tensor([1] * 19 + [7] * 1)  # 19 of 20 causes pull 1 → 7
    even = [(1, 7)] * 10 + [(7, 1)] * 10
    found = directed(labels, predicted, torch.arange(20), even)
    assert len(found["warnings"]) == 1 and "lean one way: 19 of 20 pull 1 → 7" in found["warnings"][0]
    assert "the 10 7 → 1 failures have 1 causes chosen" in found["warnings"][0]
    lopsided = [(1, 7)] * 19 + [(7, 1)] * 1  # the failures lean the same way: nothing to warn about
    assert directed(labels, predicted, torch.arange(20), lopsided)["warnings"] == []
    assert leaning(directions(labels[:5], predicted[:5], torch.arange(5), even)) == []  # too few causes to judge
