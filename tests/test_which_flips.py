"""The sets of ``benchmarks/which_flips.py``: each holds what its name says, so its row measures what docs/causes.md
says it does."""

import collections
import importlib.util
import sys
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.append(str(BENCHMARKS))  # as when the script runs: it imports its sibling confirm.py
spec = importlib.util.spec_from_file_location("which_flips", BENCHMARKS / "which_flips.py")
assert spec is not None and spec.loader is not None
which_flips = importlib.util.module_from_spec(spec)
spec.loader.exec_module(which_flips)


def test_cells_spread_the_causes_over_the_misfit_cells_in_proportion():
    # cell (predicted 1, given 0): examples 0, 5, 7; cell (0, 1): 2, 3; examples 1, 4, 6, 8, 9 are fitted
    ranking = torch.tensor([7, 0, 1, 2, 4, 5, 3, 6, 8, 9])
    given = torch.tensor([0, 0, 1, 1, 1, 0, 1, 0, 1, 0])
    predicted = torch.tensor([1, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    chosen = which_flips.cells(ranking, given, predicted, 4)
    assert sorted(chosen.tolist()) == [0, 2, 3, 7]  # 2.4 → 2 of the first cell (its top: 7, 0), 1.6 → 2 of the second
    topped = which_flips.cells(ranking, given, predicted, 7)
    assert sorted(topped[:5].tolist()) == [0, 2, 3, 5, 7] and topped[5:].tolist() == [1, 4]
    gen = torch.Generator().manual_seed(0)
    given, predicted = torch.randint(0, 10, (500,), generator=gen), torch.randint(0, 10, (500,), generator=gen)
    many = which_flips.cells(torch.randperm(500, generator=gen), given, predicted, 37)  # ~90 cells of ~5
    assert len(many) == len(set(many.tolist())) == 37 and bool((given[many] != predicted[many]).all())


def test_balanced_takes_each_given_label_in_proportion_to_its_size():
    given = torch.tensor([0] * 6 + [1] * 3 + [2])
    ranking = torch.arange(10).flip(0)
    chosen = which_flips.balanced(ranking, given, 5)
    assert collections.Counter(given[chosen].tolist()) == {0: 3, 1: 2}  # 3, 1.5 → 2, 0.5 → 0 (round half to even)
    assert chosen[given[chosen] == 0].tolist() == [5, 4, 3]


def test_the_flip_sets_partition_and_match_as_named():
    n = 400
    gen = torch.Generator().manual_seed(0)
    true = torch.randint(0, 4, (n,), generator=gen)
    corrupted = torch.rand(n, generator=gen) < 0.3
    given = torch.where(corrupted, (true + 1) % 4, true)
    ranking = torch.randperm(n, generator=gen)
    sets = which_flips.sets_of(ranking, 60, corrupted, given, given.clone(), true * 1000 + given, seed=3)
    flips = set(torch.nonzero(corrupted).flatten().tolist())
    ours = set(sets["puma-flips"].tolist())
    assert ours == set(ranking[:60].tolist()) & flips and len(sets["puma"]) == 60 and len(sets["nothing"]) == 0
    assert ours.isdisjoint(sets["flips-rest"].tolist()) and ours | set(sets["flips-rest"].tolist()) == flips
    assert set(sets["flips-all"].tolist()) == flips and len(sets["flips-random"]) == len(ours)
    assert set(sets["flips-random"].tolist()) <= flips
    pairs = true * 1000 + given
    matched = sets["flips-matched"]
    assert ours.isdisjoint(matched.tolist())
    assert collections.Counter(pairs[matched].tolist()) == collections.Counter(pairs[sets["puma-flips"]].tolist())
