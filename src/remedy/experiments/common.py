"""Small helpers the experiments share: accuracy, training with a fixed recipe, the patch summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from remedy.curvature.functional import FunctionalModel
from remedy.examples import Examples
from remedy.fidelity import Trainer, penalised_loss
from remedy.models import train_model
from remedy.models.config import TrainConfig
from remedy.models.record import TrainingRecord
from remedy.posterior import Posterior
from remedy.puma import Patch
from remedy.seeds import seeded
from remedy.task import cross_entropy


@torch.no_grad()
def predict(model: nn.Module, data: Examples, batch_size: int = 2048) -> torch.Tensor:
    return torch.cat([model(data.x[i : i + batch_size]).argmax(1) for i in range(0, len(data), batch_size)])


def accuracy(model: nn.Module, data: Examples) -> float:
    return float((predict(model, data) == data.y).double().mean())


def fit(make: Callable[[], nn.Module], data: Examples, config: TrainConfig, seed: int) -> nn.Module:
    """A model from ``make()``, initialised under ``seed``, trained on ``data`` with ``config``; in eval mode."""
    with seeded(seed, "init"):
        model = make()
    model, _ = train_model(model, data, config=config, seed=seed)
    return model.eval()


def full_batch_posterior(
    init: Callable[[int], nn.Module], data: Examples, weight_decay: float, trainer: Trainer, seed: int
) -> Posterior:
    """θ̂ = ``trainer(J, θ_0)`` for J = mean cross-entropy on ``data`` + weight_decay/2 ‖θ‖² and θ_0 = ``init(seed)``,
    as a posterior whose retraining from scratch uses the same ``init``."""
    model = init(seed).eval()
    f = FunctionalModel(model)
    uniform = torch.full((len(data),), 1.0 / len(data), dtype=f.theta.dtype)
    theta = trainer(penalised_loss(f, data, cross_entropy, uniform, weight_decay), f.theta)
    torch.nn.utils.vector_to_parameters(theta, list(model.parameters()))
    return Posterior(model, data, weight_decay=weight_decay, record=TrainingRecord(init=lambda s: init(s).eval()))


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
