"""Built-in datasets by name, split into train and test the same way on every run."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from remedy.data.mnist import SPLIT_SEED, load_mnist
from remedy.data.tabular import load_sklearn, make_moons, make_radial
from remedy.errors import RemedyError, check
from remedy.examples import Examples
from remedy.seeds import stream

DATASETS = ("mnist", "digits", "breast-cancer", "wine", "moons", "radial")


@dataclass(frozen=True)
class DatasetSplit:
    name: str
    train: Examples
    test: Examples
    num_classes: int

    @property
    def is_image(self) -> bool:
        return self.train.x.ndim == 4


def stratified_split(
    y: Tensor, seed: int, per_class: int | None = None, fraction: float | None = None
) -> tuple[Tensor, Tensor]:
    """Sorted indices of a class-stratified training part (``per_class`` examples, or ``fraction`` of each
    class) and of all the other examples."""
    check((per_class is None) != (fraction is None), "stratified_split", "exactly one of per_class and fraction")
    gen = stream(seed, "stratified-split")
    train = []
    for c in torch.unique(y).tolist():
        members = torch.nonzero(y == c).flatten()
        k = per_class if per_class is not None else round(fraction * len(members))  # type: ignore[operator]
        check(k <= len(members), "per_class", f"at most {len(members)} for class {c}, got {k}")
        train.append(members[torch.randperm(len(members), generator=gen)[:k]])
    train_idx = torch.sort(torch.cat(train)).values
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[train_idx] = False
    return train_idx, torch.nonzero(mask).flatten()


def load_dataset(name: str, quick: bool = False, partition: int | None = None) -> DatasetSplit:
    """Load a built-in dataset, split it into train/test with a fixed seed (or with ``partition``: another draw of
    the same sizes, so that a study's fresh seeds also draw which examples are held out), and normalise it with
    train statistics.

    ``mnist``: the bundled 10,000 real digits, 300 per class for training (3,000, as in Tanno et al.)
    and the other 7,000 for test; images have the training mean subtracted (Tanno App. C).
    ``quick`` keeps 100 per class for training and 2,000 test images.
    Tabular sets are split 50/50 (stratified) and standardised.
    """
    seed = SPLIT_SEED if partition is None else partition
    if name == "mnist":
        x, y = load_mnist()
        train_idx, test_idx = stratified_split(y, seed, per_class=100 if quick else 300)
        if quick:
            test_idx = test_idx[torch.randperm(len(test_idx), generator=stream(seed, "quick-test"))[:2000]]
            test_idx = torch.sort(test_idx).values
    elif name in ("digits", "breast-cancer", "wine"):
        x, y = load_sklearn(name)
        train_idx, test_idx = stratified_split(y, seed, fraction=0.5)
    elif name in ("moons", "radial"):
        make = make_moons if name == "moons" else make_radial
        x, y = make(600 if quick else 1200, 0.15 if name == "moons" else 0.08, SPLIT_SEED)
        train_idx, test_idx = stratified_split(y, seed, fraction=0.5)
    else:
        raise RemedyError(f"--dataset: expected one of {', '.join(DATASETS)}, got {name!r}")
    xtr, xte = x[train_idx], x[test_idx]
    if x.ndim == 4:
        mean = xtr.mean()
        xtr, xte = xtr - mean, xte - mean
    else:
        mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
    return DatasetSplit(name, Examples(xtr, y[train_idx]), Examples(xte, y[test_idx]), int(y.max()) + 1)
