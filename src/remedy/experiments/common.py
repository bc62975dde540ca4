"""Small helpers the experiments share: accuracy, training with a fixed recipe, the patch summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from remedy.models import train_model
from remedy.models.train import TrainConfig
from remedy.puma import Patch
from remedy.task import Examples


@torch.no_grad()
def predict(model: nn.Module, data: Examples, batch_size: int = 2048) -> torch.Tensor:
    return torch.cat([model(data.x[i : i + batch_size]).argmax(1) for i in range(0, len(data), batch_size)])


def accuracy(model: nn.Module, data: Examples) -> float:
    return float((predict(model, data) == data.y).double().mean())


def fit(make: Callable[[], nn.Module], data: Examples, config: TrainConfig, seed: int) -> nn.Module:
    """A model from ``make()``, initialised under ``seed``, trained on ``data`` with ``config``; in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
    model, _ = train_model(model, data, config=config, seed=seed)
    return model.eval()


def patch_numbers(result: Patch) -> dict[str, Any]:
    """The patch's own evidence for summary.json."""
    return {
        "step": result.step,
        "n_nonzero_weights": result.n_nonzero,
        "compensation_residual": result.residual,
        "guard_change": result.guard_change,
        "delta": result.delta,
        "steps_tried": [{"step": s, "guard_change": c} for s, c in result.tried],
    }
