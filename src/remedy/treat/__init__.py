"""Treatment: erase the causes' influence from the model, keeping the rest of its behaviour."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from remedy.data.failures import Failures
from remedy.errors import check
from remedy.posterior import Posterior
from remedy.treat import ewc_deletion, finetune, newton, puma, retrain  # noqa: F401  (registers the treatments)
from remedy.treat.registry import TREATMENTS


def repair(
    posterior: Posterior, causes: Tensor, failures: Failures, method: str = "ewc-deletion", **options: Any
) -> nn.Module:
    """Return a new model with the influence of training indices ``causes`` removed by the named treatment.

    ``failures.query_val`` early-stops the treatments that fit from θ̂. Methods: ``TREATMENTS.names()``.
    """
    check(isinstance(posterior, Posterior), "posterior", "a remedy.Posterior")
    check(isinstance(failures, Failures), "failures", "a remedy.Failures (from split_failures or Failures.from_query)")
    treatment = TREATMENTS.get(method)
    return treatment(posterior, posterior.causes(causes), failures, **options)


__all__ = ["TREATMENTS", "repair"]
