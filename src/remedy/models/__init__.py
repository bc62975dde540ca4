"""Reference architectures and the trainer."""

from __future__ import annotations

import math

from torch import nn

from remedy.errors import RemedyError
from remedy.models.cnn import TannoCNN
from remedy.models.config import TrainConfig
from remedy.models.fit import FitLog, fit
from remedy.models.mlp import MLP, LogisticRegression
from remedy.models.train import train_model
from remedy.seeds import seeded

ARCHITECTURES = ("cnn", "mlp", "logreg")


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, seed: int = 0) -> nn.Module:
    """A freshly initialised ``cnn`` (images ``[C, H, W]``), ``mlp`` or ``logreg``; the init is seeded."""
    with seeded(seed, "init"):
        if name == "cnn":
            if len(input_shape) != 3:
                raise RemedyError(f"--model: cnn expects image inputs [C, H, W], got shape {input_shape}")
            return TannoCNN(input_shape[0], num_classes)
        if name == "mlp":
            return MLP(math.prod(input_shape), num_classes)
        if name == "logreg":
            return LogisticRegression(math.prod(input_shape), num_classes)
    raise RemedyError(f"--model: expected one of {', '.join(ARCHITECTURES)}, got {name!r}")


__all__ = [
    "ARCHITECTURES",
    "MLP",
    "FitLog",
    "LogisticRegression",
    "TannoCNN",
    "TrainConfig",
    "build_model",
    "fit",
    "train_model",
]
