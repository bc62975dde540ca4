"""The intervals on held-out changes cover the truth at their stated rate, and a paired difference is the difference
of the rows."""

from __future__ import annotations

import pytest
import torch

from remedy.evaluate.intervals import change_interval, difference_interval
from remedy.experiments.causes_report import tables


def simulate(gen: torch.Generator, n: int, seeds: int, seed_sd: float, effect: float) -> torch.Tensor:
    """Per-example changes in {−1, 0, 1} on ``n`` fresh test examples for ``seeds`` treatment seeds: example i is
    fixed with probability ``p_i + v_s`` and broken with probability ``q_i``, where ``p_i``, ``q_i`` vary between
    examples and ``v_s ~ N(0, seed_sd²)`` shifts every example of seed s. Its expected mean is ``effect``."""
    p = torch.rand(n, generator=gen) * 0.1 + effect  # mean 0.05 + effect
    q = torch.rand(n, generator=gen) * 0.1  # mean 0.05
    shift = torch.randn(seeds, 1, generator=gen) * seed_sd
    fixed = torch.rand(seeds, n, generator=gen) < (p + shift).clamp(0, 1)
    broken = torch.rand(seeds, n, generator=gen) < q
    return fixed.double() - broken.double() * (~fixed).double()


@pytest.mark.parametrize("seeds, seed_sd", [(1, 0.0), (3, 0.0), (3, 0.02), (5, 0.01)])
def test_the_interval_covers_the_truth_at_its_stated_rate(seeds: int, seed_sd: float) -> None:
    gen = torch.Generator().manual_seed(seeds)
    effect, n, trials = 0.02, 400, 300
    # the truth: E[fixed] − E[broken and not fixed] = (0.05 + effect) − 0.05 (1 − (0.05 + effect)) on average
    big = simulate(torch.Generator().manual_seed(99), 400_000, 1, 0.0, effect)
    truth = float(big.mean())
    covered = 0
    for t in range(trials):
        interval = change_interval(simulate(gen, n, seeds, seed_sd, effect), seed=t)
        covered += interval.lo <= truth <= interval.hi
    rate = covered / trials
    assert 0.91 <= rate <= 0.99, rate  # 95 % ± about three binomial sds over 300 trials


def test_an_interval_that_ignored_the_seeds_would_undercover() -> None:
    """The premise of the seed part: with a large seed effect, the test-sample part alone covers far less."""
    gen = torch.Generator().manual_seed(0)
    truth_gen = torch.Generator().manual_seed(99)
    truth = float(simulate(truth_gen, 400_000, 1, 0.0, 0.02).mean())
    covered_full = covered_test = 0
    for t in range(200):
        interval = change_interval(simulate(gen, 400, 3, 0.03, 0.02), seed=t)
        covered_full += interval.lo <= truth <= interval.hi
        half = 1.96 * interval.test_sd
        covered_test += interval.mean - half <= truth <= interval.mean + half
    assert covered_full / 200 >= 0.9 and covered_test / 200 < 0.8


def paired_rows(gen: torch.Generator, n: int, seeds: tuple[int, int], seed_sd: float) -> tuple[torch.Tensor, ...]:
    """Two rows on the same ``n`` examples that share a per-example part (an example one row fixes the other tends to
    fix too), the first with 0.03 more of its own effect than the second."""
    shared = 3 * simulate(gen, n, 1, 0.0, 0.02)
    return shared + simulate(gen, n, seeds[0], seed_sd, 0.03), shared + simulate(gen, n, seeds[1], seed_sd, 0.0)


@pytest.mark.parametrize("seeds, seed_sd", [((1, 1), 0.0), ((3, 2), 0.02)])
def test_the_paired_difference_covers_the_true_difference_and_uses_the_pairing(
    seeds: tuple[int, int], seed_sd: float
) -> None:
    truth_gen = torch.Generator().manual_seed(99)
    truth = float(simulate(truth_gen, 400_000, 1, 0.0, 0.03).mean() - simulate(truth_gen, 400_000, 1, 0.0, 0.0).mean())
    gen = torch.Generator().manual_seed(sum(seeds))
    covered, narrower = 0, 0
    for t in range(200):
        a, b = paired_rows(gen, 400, seeds, seed_sd)
        diff = difference_interval(a, b, seed=t)
        assert diff.mean == pytest.approx(float(a.mean() - b.mean()), abs=1e-12)
        covered += diff.lo <= truth <= diff.hi
        apart = (change_interval(a, seed=t).test_sd ** 2 + change_interval(b, seed=t).test_sd ** 2) ** 0.5
        narrower += diff.test_sd < 0.6 * apart  # the shared part cancels in the paired difference
    assert 0.90 <= covered / 200 <= 0.99, covered
    assert narrower == 200


def test_each_treatment_over_seeds_is_paired_with_the_default_on_its_own_seed() -> None:
    def seed(s: int, finetune: float, relabel: float, kept: bool) -> dict:
        row = {"spread": 0.1, "seconds": 1.0}
        return {
            "seed": s,
            "treatments": {
                "finetune": row | {"net_change": finetune},
                "relabel": row | {"net_change": relabel, "returned_original": kept},
            },
            "controls": {"oracle": {"net_change": 4.0, "difference": {"mean": finetune - 4.0, "interval": [-9, 9]}}},
            "count": {"chosen": 75},
            "split": {"held_out_half": 100},
            "identify": {"method": "puma", "epochs": 1.0},
            "detection": {"auc": 0.8},
            "causes_corrupted": 0.9,
        }

    runs = {"toy": [seed(0, 1.0, 3.0, False), seed(1, 5.0, 4.0, True), seed(2, 2.0, 2.5, False)]}
    relabel = tables(runs)["treatments"]["toy"]["relabel"]
    assert relabel["minus_default"]["values"] == [2.0, -1.0, 0.5]  # each seed against its own default, not the means
    assert relabel["minus_default"]["mean"] == pytest.approx(0.5)
    assert relabel["returned_original"] == 1
    assert tables(runs)["treatments"]["toy"]["finetune"]["minus_default"]["values"] == [0.0, 0.0, 0.0]
