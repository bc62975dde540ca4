from __future__ import annotations

import pytest
import torch

import remedy
from remedy.examples import Examples
from remedy.models import LogisticRegression, train_model
from remedy.models.config import TrainConfig


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


def blobs(n: int, seed: int, shift: float = 4.0) -> Examples:
    """Two Gaussian classes in 2-D, means at ±shift/2 on the first axis."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=gen) + torch.stack([(y.float() - 0.5) * shift, torch.zeros(n)], 1)
    return Examples(x, y)


@pytest.fixture(scope="session")
def flipped_logreg() -> dict:
    """Logistic regression trained on separable blobs where 15 % of class 0 is labelled 1 (planted noise).

    The blobs barely overlap, so the test failures are caused by the planted flips (the premise of cause
    identification): with heavily overlapping classes the failures are mostly irreducible, and fitting
    them flattens the classifier instead of undoing the flips."""
    train = blobs(400, seed=1)
    gen = torch.Generator().manual_seed(2)
    class0 = torch.nonzero(train.y == 0).flatten()
    flip = class0[torch.randperm(len(class0), generator=gen)[: len(class0) * 15 // 100]]
    noisy = train.y.clone()
    noisy[flip] = 1
    mask = torch.zeros(len(noisy), dtype=torch.bool)
    mask[flip] = True
    torch.manual_seed(0)
    model, _ = train_model(
        LogisticRegression(2, 2), Examples(train.x, noisy), config=TrainConfig(lr=0.05, patience=10), seed=0
    )
    return {"model": model, "train": Examples(train.x, noisy), "mask": mask, "test": blobs(2000, seed=3)}


@pytest.fixture(scope="module")
def problem(flipped_logreg: dict) -> dict:
    """:func:`flipped_logreg` as a posterior (Adam at lr 0.05 for every refit) and its test split (seed 0); a fresh
    posterior per test module, so that cached curvatures do not cross modules."""
    model = flipped_logreg["model"]
    posterior = remedy.Posterior(model, flipped_logreg["train"], record=remedy.TrainingRecord(TrainConfig(lr=0.05)))
    split = remedy.split_test(model, flipped_logreg["test"], seed=0)
    return {"posterior": posterior, "split": split, **flipped_logreg}
