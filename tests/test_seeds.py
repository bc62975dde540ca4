"""Every random choice has its own stream: one user seed never draws the same examples for two purposes."""

from __future__ import annotations

import torch

import remedy
from remedy.models import LogisticRegression
from remedy.models.train import validation_split
from remedy.seeds import stream


def test_streams_differ_by_purpose_and_repeat_by_seed() -> None:
    a, b = torch.randperm(100, generator=stream(0, "a")), torch.randperm(100, generator=stream(0, "b"))
    assert not torch.equal(a, b)
    assert torch.equal(a, torch.randperm(100, generator=stream(0, "a")))


def test_curvature_subset_is_independent_of_the_early_stopping_split() -> None:
    """Regression: with one seed, the curvature's 300 examples were exactly the 300 that training held out."""
    n, k = 3000, 300
    x = torch.arange(n, dtype=torch.float32)[:, None]  # each input is its own index
    posterior = remedy.Posterior(LogisticRegression(1, 2).eval(), (x, torch.arange(n) % 2))
    for seed in (0, 1):
        subset = posterior.curvatures.get("ggn", examples=k, seed=seed).data.x[:, 0].long()
        _, held_out = validation_split(n, 0.1, seed)
        overlap = len(set(subset.tolist()) & set(held_out.tolist()))
        assert len(subset) == k and overlap < 60  # independent draws share k·k/n = 30 on average
