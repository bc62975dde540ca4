"""Tanno et al.'s MNIST classifier (App. C)."""

from __future__ import annotations

from torch import Tensor, nn


class TannoCNN(nn.Module):
    """Four 3×3 conv layers (32, 32, 64, 64 filters, ReLU), 2×2 max-pooling after each of the first two,
    global average pooling, one linear layer. Padding 1 keeps sizes, so any image ≥ 4×4 works."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
