"""Confident learning (Northcutt et al. 2021) through the cleanlab library, on K-fold out-of-sample probabilities:
the peer a user would pick to find mislabelled training data."""

from __future__ import annotations

import torch
from cleanlab.rank import get_label_quality_scores
from torch import Tensor

from remedy.data.split import QueryHalf
from remedy.identify.registry import SCORERS
from remedy.models.crossval import out_of_sample
from remedy.posterior import Posterior


@SCORERS.register("cleanlab")
def cleanlab(posterior: Posterior, query: QueryHalf, *, folds: int = 5, seed: int = 0) -> Tensor:
    """``r(z) = 1 − q(z)``, larger = more likely mislabelled, with ``q`` cleanlab's self-confidence label quality
    (``cleanlab.rank.get_label_quality_scores``) of the given label under out-of-sample probabilities from
    ``folds``-fold cross-fitting with the posterior's own model and training recipe (``folds`` trainings, shared
    with the ``relabel`` treatment). ``query`` is not used."""
    probs = out_of_sample(posterior, folds, seed)
    quality = get_label_quality_scores(posterior.train.labels.cpu().numpy(), probs.numpy())
    return 1.0 - torch.from_numpy(quality)
