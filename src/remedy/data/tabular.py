"""Small offline datasets: scikit-learn's bundled sets, two moons and concentric circles ("radial")."""

from __future__ import annotations

import torch
from sklearn import datasets
from torch import Tensor

from remedy.seeds import derive


def load_sklearn(name: str) -> tuple[Tensor, Tensor]:
    """``digits`` (as 1×8×8 images in [0, 1]), ``breast-cancer`` or ``wine`` as float features and labels."""
    if name == "digits":
        bunch = datasets.load_digits()
        x = torch.tensor(bunch.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
        return x, torch.tensor(bunch.target, dtype=torch.long)
    loader = {"breast-cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]
    bunch = loader()
    return torch.tensor(bunch.data, dtype=torch.float32), torch.tensor(bunch.target, dtype=torch.long)


def make_moons(n: int, noise: float, seed: int, purpose: str = "moons") -> tuple[Tensor, Tensor]:
    """Two interleaving half circles in 2-D, drawn from ``stream(seed, purpose)``'s seed."""
    x, y = datasets.make_moons(n_samples=n, noise=noise, random_state=derive(seed, purpose) % 2**32)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def make_radial(n: int, noise: float, seed: int, purpose: str = "radial") -> tuple[Tensor, Tensor]:
    """Concentric circles, class 0 outside and 1 inside (the PUMA blog's radial set), drawn as :func:`make_moons`."""
    x, y = datasets.make_circles(n_samples=n, noise=noise, factor=0.5, random_state=derive(seed, purpose) % 2**32)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
