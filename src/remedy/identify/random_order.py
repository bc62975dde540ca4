"""Random scores: the control every ranking is compared with."""

from __future__ import annotations

import torch
from torch import Tensor

from remedy.data.split import QueryHalf
from remedy.identify.registry import SCORERS
from remedy.posterior import Posterior
from remedy.seeds import stream


@SCORERS.register("random")
def random(posterior: Posterior, query: QueryHalf, *, seed: int = 0) -> Tensor:
    """Independent uniform scores from ``stream(seed, "random-scores")``: a random order of the training set.
    ``query`` is not used."""
    return torch.rand(posterior.n, generator=stream(seed, "random-scores"), dtype=torch.float64)
