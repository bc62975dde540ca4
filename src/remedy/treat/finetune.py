"""Fine-tuning on the corrected data D \\ C (Tanno et al. §2.2, Example 1)."""

from __future__ import annotations

from torch import Tensor, nn

from remedy.examples import Examples
from remedy.models.train import TrainConfig
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS
from remedy.update import FineTune


@TREATMENTS.register("finetune")
def finetune(
    posterior: Posterior,
    causes: Tensor,
    guard: Examples,
    *,
    config: TrainConfig | None = None,
    seed: int = 0,
    stop_on: str = "loss",
) -> nn.Module:
    """Maximise ``log p(D \\ C | θ)`` by Adam from θ̂, early-stopped on the ``guard``'s loss (``stop_on="error"``:
    its error rate, as Tanno §4.2 does for its treatments)."""
    return posterior.delete(causes, FineTune(config, seed, stop_on), guard).model
