"""Retraining from scratch on D \\ C: the gold reference every treatment is compared with."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn

from remedy.examples import Examples
from remedy.models.config import TrainConfig
from remedy.models.train import train_model
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS


@TREATMENTS.register("retrain", local=False)
def retrain(
    posterior: Posterior, causes: Tensor, guard: Examples, *, config: TrainConfig | None = None, seed: int = 0
) -> nn.Module:
    """Train a freshly initialised model on D \\ C exactly as the original was trained (its own
    ``config.val_fraction`` of D \\ C held out for early stopping). ``guard`` is not used: the reference sees
    nothing the original did not. ``seed`` initialises the model and orders its batches."""
    recipe = replace(config or posterior.record.config, record=False)
    model, _ = train_model(posterior.fresh_model(seed), posterior.kept(causes), posterior.loss, recipe, seed, "retrain")
    return model
