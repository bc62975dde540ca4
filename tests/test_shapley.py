"""Data Shapley against exact Shapley values by enumeration, efficiency, and both scorers by name."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

import remedy
from remedy.evaluate import detection_curve
from remedy.identify.shapley import CentroidUtility, FeatureUtility, tmc


class ReferenceCentroid(FeatureUtility):
    """Accuracy of the nearest class centroid of a subset, one subset at a time: the reference for the library's
    :class:`CentroidUtility`, and a utility cheap enough for enumeration."""

    def __call__(self, indices: torch.Tensor) -> float:
        if len(indices) == 0:
            return 1.0 / self.classes
        idx = indices.numpy()
        present = np.unique(self.y[idx])
        centroids = np.stack([self.x[idx][self.y[idx] == c].mean(0) for c in present])
        nearest = ((self.val_x[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
        return float((present[nearest] == self.val_y).mean())


def small_utility() -> FeatureUtility:
    gen = np.random.default_rng(0)
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    x = gen.normal(size=(8, 2)) + np.c_[2.0 * y - 1.0, np.zeros(8)]
    x[6] = [2.0, 0.0]  # labelled 0 but sitting with the 1s: harmful
    val_y = np.arange(200) % 2
    val_x = gen.normal(size=(200, 2)) + np.c_[2.0 * val_y - 1.0, np.zeros(200)]
    return ReferenceCentroid(x, y, val_x, val_y, 2)


def test_centroid_prefixes_and_truncated_tmc_equal_the_one_subset_at_a_time_reference() -> None:
    reference = small_utility()
    fast = CentroidUtility(*vars(reference).values())
    gen = np.random.default_rng(1)
    y = gen.integers(0, 3, 40)
    x, val_y = gen.normal(size=(40, 4)) + y[:, None], gen.integers(0, 3, 50)
    wide_ref = ReferenceCentroid(x, y, gen.normal(size=(50, 4)) + val_y[:, None], val_y, 3)
    wide = CentroidUtility(*vars(wide_ref).values())
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    expected = torch.tensor([wide_ref(order[: j + 1]) for j in range(40)], dtype=torch.float64)
    assert torch.equal(wide.prefixes(order, block=7), expected)  # across blocks, with classes still absent early
    assert [wide(order[:j]) for j in (1, 2, 17, 40)] == [wide_ref(order[:j]) for j in (1, 2, 17, 40)]  # one set
    for tolerance in (0.0, 0.1):  # the vectorised permutation truncates where the loop does
        found = tmc(fast, 8, permutations=30, tolerance=tolerance, seed=0, convergence=0.0)
        loop = tmc(reference, 8, permutations=30, tolerance=tolerance, seed=0, convergence=0.0)
        assert torch.allclose(found.values, loop.values, atol=1e-12)


def test_the_logistic_utility_fits_logistic_regression_on_the_subset() -> None:
    utility = FeatureUtility(*vars(small_utility()).values())
    assert utility(torch.zeros(0, dtype=torch.long)) == 0.5 and utility(torch.tensor([0, 1])) == 0.5  # one class
    without = torch.tensor([0, 1, 2, 3, 4, 5, 7])
    assert utility(without) > utility(torch.arange(8)) > 0.6  # the flipped point costs accuracy


def exact_shapley(utility: FeatureUtility, n: int) -> torch.Tensor:
    values = torch.zeros(n, dtype=torch.float64)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                with_i = utility(torch.tensor(sorted([*subset, i])))
                values[i] += weight * (with_i - utility(torch.tensor(subset, dtype=torch.long)))
    return values


def test_tmc_equals_exact_shapley_within_its_standard_error_and_is_efficient() -> None:
    utility = small_utility()
    exact = exact_shapley(utility, 8)
    estimate = tmc(utility, 8, permutations=2000, tolerance=0.0, seed=0, convergence=0.0)
    assert estimate.permutations == 2000
    assert bool(((estimate.values - exact).abs() <= 4 * estimate.stderr + 1e-9).all())
    assert int(exact.argmin()) == 6 and int(estimate.values.argmin()) == 6  # the planted harmful point


def test_truncation_skips_the_rest_of_a_permutation_once_its_utility_is_within_tolerance() -> None:
    """Each truncated permutation's marginals add up to U(prefix) − U(∅) with |U(D) − U(prefix)| < tolerance·|U(D)|,
    so the values add up to U(D) − U(∅) within that, and the skipped tails cost no utility calls."""
    utility, calls = small_utility(), []

    def counted(indices: torch.Tensor) -> float:
        calls.append(len(indices))
        return utility(indices)

    full, empty = utility(torch.arange(8)), utility(torch.zeros(0, dtype=torch.long))
    estimate = tmc(counted, 8, permutations=40, tolerance=0.1, seed=0, convergence=0.0)
    assert abs(float(estimate.values.sum()) - (full - empty)) < 0.1 * abs(full)
    assert len(calls) < 1 + 40 * (1 + 8) * 0.7  # a full pass costs 1 + 8 calls per permutation
    untruncated = tmc(utility, 8, permutations=40, tolerance=0.0, seed=0, convergence=0.0)
    assert not torch.equal(untruncated.values, estimate.values)


def test_both_shapley_scorers_rank_planted_flips_above_chance(problem: dict) -> None:
    posterior, split = problem["posterior"], problem["split"]
    for name, options, floor in (("tmc-shapley", {"permutations": 4}, 0.55), ("g-shapley", {"permutations": 5}, 0.7)):
        scores = remedy.identify(posterior, split.query, name, **options).values
        assert scores.shape == (posterior.n,) and detection_curve(scores, problem["mask"]).auc > floor, name


def test_gradient_shapleys_first_step_is_credited_from_the_starting_accuracy() -> None:
    """One example, one permutation: its value is the validation accuracy after its single SGD step minus the
    accuracy of the zero weights it started from (the share of class 0 on an imbalanced validation set), not 1/K."""
    from remedy.identify.shapley import gradient_shapley

    x, y = torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([1])
    val_x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    val_y = torch.tensor([1, 0, 0, 0])
    found = gradient_shapley(x, y, val_x, val_y, classes=2, permutations=1, lr=0.5, seed=0)
    step = -0.5 * torch.tensor([1.0, 0.0, 1.0]).double()[:, None] * torch.tensor([0.5, -0.5]).double()[None, :]
    after = ((torch.cat([val_x, torch.ones(4, 1, dtype=torch.float64)], 1) @ step).argmax(1) == val_y).double().mean()
    assert float(found.values[0]) == float(after) - 0.75


def test_a_long_monte_carlo_says_how_long_and_what_shortens_it_after_its_first_permutation(monkeypatch) -> None:
    import sys

    import pytest

    from remedy.errors import RemedyWarning

    shapley = sys.modules[tmc.__module__]

    monkeypatch.setattr(shapley, "LONG", 0.0)
    with pytest.warns(RemedyWarning, match=r"^tmc-shapley: one permutation took .* up to 3 take about"):
        tmc(small_utility(), 8, permutations=3, tolerance=0.0, seed=0, convergence=0.0)
