"""Fully connected classifiers: an MLP and multinomial logistic regression."""

from __future__ import annotations

import itertools

from torch import Tensor, nn


class MLP(nn.Module):
    """``in → hidden → … → classes`` with ReLU (or another ``activation``); inputs of any shape are flattened."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: tuple[int, ...] = (128, 128),
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        sizes = (in_features, *hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), activation()]
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class LogisticRegression(nn.Module):
    """Multinomial logistic regression ``softmax(W x + b)``: with L2 regularisation its loss is strictly convex."""

    def __init__(self, in_features: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1))
