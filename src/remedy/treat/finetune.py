"""Fine-tuning on the corrected data D \\ C (Tanno et al. §2.2, Example 1)."""

from __future__ import annotations

from torch import Tensor, nn

from remedy.data.failures import Failures
from remedy.models.train import TrainConfig
from remedy.posterior import Posterior
from remedy.treat.registry import TREATMENTS
from remedy.update import FineTune


@TREATMENTS.register("finetune")
def finetune(
    posterior: Posterior, causes: Tensor, failures: Failures, *, config: TrainConfig | None = None, seed: int = 0
) -> nn.Module:
    """Maximise ``log p(D \\ C | θ)`` by Adam from θ̂, early-stopped on the loss of F_q's validation part."""
    return posterior.delete(causes, FineTune(config, seed), failures.query_val)
