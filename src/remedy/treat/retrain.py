"""Retraining from scratch on D \\ C: the gold reference every treatment is compared with."""

from __future__ import annotations

from torch import Tensor, nn

from remedy.data.failures import Failures
from remedy.models.train import TrainConfig, train_model
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS


@TREATMENTS.register("retrain")
def retrain(
    posterior: Posterior, causes: Tensor, failures: Failures, *, config: TrainConfig | None = None, seed: int = 0
) -> nn.Module:
    """Train a freshly initialised model on D \\ C exactly as the original was trained (own 10 % validation
    split for early stopping); ``failures`` is not used, so the reference never sees the test set."""
    model, _ = train_model(
        posterior.fresh_model(seed), posterior.kept(causes), posterior.loss, config or posterior.config, seed, "retrain"
    )
    return model
