"""DVRL learns to leave out planted flipped labels."""

from __future__ import annotations

import torch

import remedy
from remedy.evaluate import detection_curve


def test_dvrl_ranks_planted_flips_as_most_harmful(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    scores = remedy.identify(posterior, split.query, "dvrl", iterations=150, batch=128).values
    assert scores.shape == (posterior.n,) and bool(torch.isfinite(scores).all())
    assert detection_curve(scores, problem["mask"]).auc >= 0.8
    again = remedy.identify(posterior, split.query, "dvrl", iterations=150, batch=128).values
    assert torch.equal(scores, again)  # seeded: the same scores twice
