"""Fine-tuning influence: the plain fine-tuning row of Tanno et al.'s posterior-editing table."""

from __future__ import annotations

from torch import Tensor

from remedy.data.split import QueryHalf
from remedy.identify.registry import SCORERS, posterior_edit_scores
from remedy.models.config import TrainConfig
from remedy.posterior import Posterior
from remedy.update import FineTune


@SCORERS.register("finetune-influence")
def finetune_influence(
    posterior: Posterior, query: QueryHalf, *, config: TrainConfig | None = None, seed: int = 0
) -> Tensor:
    """``r(z) = log p(z | θ̂) − log p(z | θ*)`` (eq. 7) with θ* from fine-tuning θ̂ on F_q without any
    penalty, early-stopped on F_q's validation part. Larger = more harmful. EWC-influence with the
    Laplace penalty removed: the ablation that shows what the penalty buys.
    """
    return posterior_edit_scores(posterior, query.fit, query.val, FineTune(config, seed))
