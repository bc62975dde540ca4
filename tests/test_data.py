from __future__ import annotations

import pytest
import torch

from remedy.data import (
    fgsm_poison,
    flip_labels,
    flip_uniform,
    gaussian_noise,
    load_dataset,
    pair_matrix,
    parse_pairs,
    salt_and_pepper,
    stratified_split,
)
from remedy.errors import RemedyError


def test_mnist_split_is_stratified_and_fixed() -> None:
    a, b = load_dataset("mnist"), load_dataset("mnist")
    assert len(a.train) == 3000 and len(a.test) == 7000
    assert torch.bincount(a.train.y).tolist() == [300] * 10
    assert torch.equal(a.train.x, b.train.x)


def test_stratified_split_by_fraction_partitions() -> None:
    y = torch.arange(100) % 4
    train, test = stratified_split(y, seed=0, fraction=0.25)
    assert torch.bincount(y[train]).tolist() == [6, 6, 6, 6]
    assert sorted(torch.cat([train, test]).tolist()) == list(range(100))


SIZES = {"digits": (1797, 10, (1, 8, 8)), "breast-cancer": (569, 2, (30,)), "wine": (178, 3, (13,))}


@pytest.mark.parametrize("name", ["digits", "breast-cancer", "wine", "moons", "radial"])
def test_small_datasets_split_in_half_by_class_and_standardise_on_train(name: str) -> None:
    data, again = load_dataset(name, quick=True), load_dataset(name, quick=True)
    n, classes, shape = SIZES.get(name, (600, 2, (2,)))  # moons and radial: 600 points in 2-D when quick
    assert len(data.train) + len(data.test) == n and data.num_classes == classes
    assert tuple(data.train.x.shape[1:]) == shape and data.train.x.dtype == torch.float32
    train_counts = torch.bincount(data.train.y, minlength=classes)
    test_counts = torch.bincount(data.test.y, minlength=classes)
    assert bool(((train_counts - test_counts).abs() <= 1).all())  # stratified halves
    assert torch.equal(data.train.x, again.train.x) and torch.equal(data.test.y, again.test.y)  # fixed split
    if len(shape) == 1:  # tabular: standardised with the training half's statistics
        torch.testing.assert_close(data.train.x.mean(0), torch.zeros(shape), atol=1e-5, rtol=0)
        torch.testing.assert_close(data.train.x.std(0), torch.ones(shape), atol=1e-3, rtol=0)
        assert float(data.test.x.mean(0).abs().max()) > 1e-4  # the test half's own statistics were not used
    rows = {tuple(x.flatten().tolist()) for x in data.train.x[:50]}
    assert not rows & {tuple(x.flatten().tolist()) for x in data.test.x}  # no example in both halves


def test_pair_flips_stay_within_pairs_and_mask_is_exact() -> None:
    y = torch.arange(10).repeat(500)
    c = flip_labels(torch.zeros(len(y), 1), y, pair_matrix(parse_pairs("1-7:0.3,4-9:0.3"), 10), seed=0)
    assert torch.equal(c.mask, c.y != c.true_y) and torch.equal(c.true_y, y)
    changed = set(zip(c.true_y[c.mask].tolist(), c.y[c.mask].tolist(), strict=True))
    assert changed == {(1, 7), (7, 1), (4, 9), (9, 4)}
    for cls in (1, 7, 4, 9):
        assert abs(float(c.mask[y == cls].double().mean()) - 0.3) < 0.05
    assert not c.mask[(y != 1) & (y != 7) & (y != 4) & (y != 9)].any()


def test_uniform_flips_hit_the_rate_and_change_the_class() -> None:
    y = torch.arange(5).repeat(200)
    c = flip_uniform(torch.zeros(len(y), 1), y, 0.1, 5, seed=3)
    assert c.n_corrupted == 100 and bool((c.y[c.mask] != y[c.mask]).all())
    assert torch.equal(flip_uniform(torch.zeros(len(y), 1), y, 0.1, 5, seed=3).y, c.y)


def test_salt_and_pepper_only_touches_masked_images() -> None:
    x = torch.full((40, 1, 4, 4), 0.5)
    y = torch.arange(4).repeat(10)
    c = salt_and_pepper(x, y, classes=[1, 3], fraction=0.3, amount=0.5, seed=0)
    changed = (c.x != x).flatten(1).any(1)
    assert torch.equal(changed, c.mask) and set(y[c.mask].tolist()) <= {1, 3}


def test_salt_and_pepper_uses_the_images_own_black_and_white() -> None:
    x = torch.full((40, 1, 4, 4), 0.1)
    y = torch.arange(4).repeat(10)
    c = salt_and_pepper(x, y, classes=[0, 1, 2, 3], fraction=1.0, amount=1.0, seed=0, low=-0.3, high=0.7)
    assert c.x.unique().tolist() == pytest.approx([-0.3, 0.7]) and torch.equal(c.y, y)


def test_fgsm_poison_replaces_the_chosen_classes_with_images_the_victim_misreads() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(100)
    x = torch.randn(300, 2, generator=gen) + torch.stack([y.float() * 3, torch.zeros(300)], 1)
    victim = torch.nn.Linear(2, 3)
    with torch.no_grad():
        victim.weight.copy_(torch.tensor([[-3.0, 0.0], [0.0, 0.0], [3.0, 0.0]]))
        victim.bias.copy_(torch.tensor([1.0 * 4.5, 0.0, -13.5]))  # boundaries at x = 1.5 and 4.5
    c = fgsm_poison(x, y, classes=[1], fraction=0.5, epsilon=2.0, victims=[victim], seed=0, low=-5.0, high=10.0)
    assert c.n_corrupted == 50 and set(y[c.mask].tolist()) == {1} and torch.equal(c.true_y, y)
    assert torch.equal(c.x[~c.mask], x[~c.mask]) and torch.equal(c.y[~c.mask], y[~c.mask])
    moved = (c.x[c.mask] - x[c.mask]).abs()
    assert torch.allclose(moved.max(1).values, torch.full((50,), 2.0))  # every coordinate moved by ε (or clipped)
    with torch.no_grad():
        assert torch.equal(victim(c.x[c.mask]).argmax(1), c.y[c.mask])  # labelled with the victim's prediction
    assert float((c.y[c.mask] != 1).double().mean()) > 0.9  # the attack changes what the victim sees at this ε
    small = fgsm_poison(x, y, classes=[1], fraction=0.5, epsilon=0.1, victims=[victim], seed=0)
    assert float((small.y[small.mask] != 1).double().mean()) < 0.2


@pytest.mark.parametrize("spec", ["1-7", "1-7:x", "1-1:0.3", "1-7:1.5", ""])
def test_bad_flip_specs_name_the_argument(spec: str) -> None:
    with pytest.raises(RemedyError, match=r"^--flip: expected"):
        pair_matrix(parse_pairs(spec), 10)


def test_gaussian_noise_only_touches_masked_inputs() -> None:
    x = torch.zeros(60, 3)
    y = torch.arange(3).repeat(20)
    c = gaussian_noise(x, y, classes=[2], fraction=0.5, std=1.0, seed=0)
    assert torch.equal((c.x != 0).any(1), c.mask) and set(y[c.mask].tolist()) == {2} and c.n_corrupted == 10


def test_uniform_flips_are_not_the_examples_training_holds_out() -> None:
    n, seed = 1000, 0
    corruption = flip_uniform(torch.zeros(n, 2), torch.arange(n) % 2, 0.1, 2, seed)
    held_out = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:100]  # train_model's split
    assert 0.02 < float(corruption.mask[held_out].double().mean()) < 0.25
