"""Treatment: erase the causes' influence from the model, keeping the rest of its behaviour."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from remedy.errors import check
from remedy.posterior import Posterior
from remedy.registry import import_all
from remedy.task import ExamplesLike
from remedy.treat.registry import TREATMENTS

import_all(__name__)


def repair(
    posterior: Posterior, causes: Tensor, method: str = "finetune", *, guard: ExamplesLike, **options: Any
) -> nn.Module:
    """Return a new model with the influence of training indices ``causes`` removed by the named treatment.

    ``guard``: the data that early-stop or line-search the treatment (never data you evaluate on).
    Methods: ``TREATMENTS.names()``; ``causes`` may be empty (the same treatment with nothing removed).
    """
    check(isinstance(posterior, Posterior), "posterior", "a remedy.Posterior")
    treatment = TREATMENTS.get(method)
    TREATMENTS.check_options(method, options)
    return treatment(
        posterior, posterior.causes(causes, allow_empty=True), posterior.examples(guard, "guard"), **options
    )


__all__ = ["TREATMENTS", "repair"]
